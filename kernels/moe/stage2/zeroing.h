// The output zeroing that MoeStage2A16W4::launch_zeroed runs before an accumulating kernel.
#pragma once
#include "backend/launch/kernel.h"
#include "dsl/kernel.h"

namespace tilejit::kernels {

/// Zeroes `vectors` 16-byte vectors from `out` (parameters: out as i32 words, vectors), one per
/// thread of blocks of kZeroingThreads. Every block first lets the kernel launched after it start
/// (tile::launch_dependents), so that an early-started stage-2 kernel gets on the SMs while the
/// zeroing runs (MoeStage2A16W4::launch_early).
KernelDef moe_stage2_zeroing_kernel();

inline constexpr int kZeroingThreads = 256;

/// Launches `zeroing` (compiled from moe_stage2_zeroing_kernel()) over `bytes` bytes from `out`
/// on `stream`. `bytes` must be a positive multiple of 16 below 2^35 and `out` 16-byte aligned
/// (std::invalid_argument otherwise).
void launch_moe_stage2_zeroing(const Kernel& zeroing, DevicePtr out, int64_t bytes, Stream* stream);

}  // namespace tilejit::kernels
