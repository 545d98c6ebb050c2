// Checking launch arguments and geometry against a kernel, and packing them for a driver.
#pragma once
#include <cstdint>
#include <span>
#include <string_view>

#include "backend/runtime/device.h"
#include "dsl/ir/ir.h"

namespace tilejit {

/// Checks `args` against `params` (count and types; UserError naming the
/// kernel and the argument otherwise) and fills the driver's kernelParams
/// array: `pointers[i]` points at `slots[i]`, which holds the argument's low
/// 1, 2, 4 or 8 bytes (the parameter's size; pointers take 8). `slots` and
/// `pointers` must have room for params.size() entries.
void pack_kernel_args(std::string_view kernel, std::span<const ir::Param> params,
                      std::span<const KernelArg> args, uint64_t* slots, void** pointers);

/// Checks a launch's geometry: no empty grid or block (UserError), the
/// kernel's declared block size if any (UserError), and at most
/// `max_block_threads` threads per block (OutOfResources).
void check_launch_geometry(std::string_view kernel, const uint32_t declared_block[3], Dim3 grid,
                           Dim3 block, uint64_t max_block_threads);

/// "(x, y, z)".
std::string format_dim3(Dim3 d);

}  // namespace tilejit
