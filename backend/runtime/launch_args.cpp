// Launch argument packing and geometry checks shared by the GPU drivers.
#include "backend/runtime/launch_args.h"

#include <fmt/format.h>

#include <cstring>

#include "dsl/error.h"

namespace tilejit {

void pack_kernel_args(std::string_view kernel, std::span<const ir::Param> params,
                      std::span<const KernelArg> args, uint64_t* slots, void** pointers) {
  if (args.size() != params.size())
    throw UserError(fmt::format("kernel '{}' takes {} argument(s), the launch passes {}", kernel,
                                params.size(), args.size()));
  for (size_t i = 0; i < params.size(); ++i) {
    const ir::Type& want = params[i].type;
    if (!(args[i].type == want))
      throw UserError(fmt::format("kernel '{}': argument {} ('{}') is {} but the parameter is {}",
                                  kernel, i, params[i].name, ir::to_string(args[i].type),
                                  ir::to_string(want)));
    int size = want.is_pointer() ? 8 : want.size_bytes();
    if (size != 1 && size != 2 && size != 4 && size != 8)
      throw UserError(fmt::format("kernel '{}': parameter {} ('{}') of type {} ({} bytes) cannot be "
                                  "passed to a GPU kernel; use 1, 2, 4 or 8-byte parameters",
                                  kernel, i, params[i].name, ir::to_string(want), size));
    slots[i] = 0;
    std::memcpy(&slots[i], &args[i].bits, size_t(size));  // little endian: the low bytes
    pointers[i] = &slots[i];
  }
}

std::string format_dim3(Dim3 d) { return fmt::format("({}, {}, {})", d.x, d.y, d.z); }

void check_launch_geometry(std::string_view kernel, const uint32_t declared_block[3], Dim3 grid,
                           Dim3 block, uint64_t max_block_threads) {
  if (grid.count() == 0 || block.count() == 0)
    throw UserError(fmt::format("kernel '{}' launched with an empty grid {} or block {}", kernel,
                                format_dim3(grid), format_dim3(block)));
  if (declared_block[0] != 0) {
    Dim3 want{declared_block[0], declared_block[1] ? declared_block[1] : 1,
              declared_block[2] ? declared_block[2] : 1};
    if (want.x != block.x || want.y != block.y || want.z != block.z)
      throw UserError(fmt::format("kernel '{}' declares block size {} but is launched with {}",
                                  kernel, format_dim3(want), format_dim3(block)));
  }
  if (block.count() > max_block_threads)
    throw OutOfResources(fmt::format("kernel '{}': a block of {} threads {} exceeds the {} threads "
                                     "per block this kernel can use on the device",
                                     kernel, block.count(), format_dim3(block), max_block_threads));
}

}  // namespace tilejit
