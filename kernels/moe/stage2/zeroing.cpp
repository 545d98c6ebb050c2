// The output zeroing kernel of MoeStage2A16W4::launch_zeroed.
#include "kernels/moe/stage2/zeroing.h"

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>

#include "dsl/kernel_family.h"
#include "dsl/tile/intrinsics.h"

namespace tilejit::kernels {

using namespace dsl;

KernelDef moe_stage2_zeroing_kernel() {
  return define_once("moe_stage2_zeroing", [] {
    KernelOptions opts;
    opts.block = {uint32_t(kZeroingThreads), 1, 1};
    opts.trace_key = "moe_stage2_zeroing";
    opts.param_names = {"out", "vectors"};
    return kernel(
        "moe_stage2_zeroing",
        [](Ptr<int32_t> out, Int vectors) {
          tile::launch_dependents();
          Value v = block_id() * kZeroingThreads + thread_id();
          if_(v < vectors, [&] { store(out, v * 4, splat(Int(0), 4)); });
        },
        std::move(opts));
  });
}

void launch_moe_stage2_zeroing(const Kernel& zeroing, DevicePtr out, int64_t bytes, Stream* stream) {
  if (bytes <= 0 || bytes % 16 || bytes / 16 > INT32_MAX)
    throw std::invalid_argument(fmt::format("moe_stage2 zeroing: {} bytes is not a positive multiple of 16 below 2^35", bytes));
  if (!out || out % 16) throw std::invalid_argument("moe_stage2 zeroing: out must be a non-null 16-byte aligned address");
  const int64_t vectors = bytes / 16;
  zeroing.launch_on(stream, {uint32_t((vectors + kZeroingThreads - 1) / kZeroingThreads)}, {uint32_t(kZeroingThreads)},
                    RawPtr{out}, int32_t(vectors));
}

}  // namespace tilejit::kernels
