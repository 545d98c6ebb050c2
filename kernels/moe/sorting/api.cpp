// moe_sorting_gpu: argument checks, then the sorting kernel compiled for the device and launched.
#include "kernels/moe/sorting/api.h"

#include <fmt/format.h>

#include <cstdint>
#include <stdexcept>

#include "backend/launch/kernel.h"
#include "kernels/moe/host/sorting.h"
#include "kernels/moe/sorting/kernel.h"

namespace tilejit::kernels {

namespace {

[[noreturn]] void fail(const std::string& message) { throw std::invalid_argument("moe_sorting_gpu: " + message); }

void check_pointer(DevicePtr p, const char* name, bool may_be_null) {
  if (!p && !may_be_null) fail(fmt::format("{} is null", name));
  if (p % 4) fail(fmt::format("{} (= {:#x}) must be 4-byte aligned", name, p));
}

}  // namespace

void moe_sorting_gpu(Device& device, DevicePtr topk_ids, DevicePtr topk_weights, int tokens, int topk, int experts,
                     int block_size, DevicePtr sorted_ids, DevicePtr sorted_weights, DevicePtr sorted_expert_ids,
                     DevicePtr num_valid_ids, Stream* stream, MoeSortingZeroFill zero) {
  if (experts < 1 || experts > kMoeSortingMaxExperts)
    fail(fmt::format("experts (= {}) must be in [1, {}]", experts, kMoeSortingMaxExperts));
  if (tokens < 0 || tokens > moe::kMaxSortingTokens)
    fail(fmt::format("tokens (= {}) must be in [0, {}]", tokens, moe::kMaxSortingTokens));
  if (topk < 1 || topk > moe::kMaxSortingTopk || topk > experts)
    fail(fmt::format("topk (= {}) must be in [1, min({}, experts = {})]", topk, moe::kMaxSortingTopk, experts));
  if (block_size < 1) fail(fmt::format("block_size (= {}) must be positive", block_size));
  // The kernel computes the capacity (and capacity + block_size - 1) in i32.
  const int64_t max_rows = moe::moe_sorting_max_rows(tokens, topk, experts, block_size);
  if (max_rows + block_size > INT32_MAX)
    fail(fmt::format("capacity tokens*topk + experts*block_size - topk = {} is too large for i32 indexing", max_rows));
  check_pointer(topk_ids, "topk_ids", tokens == 0);
  check_pointer(topk_weights, "topk_weights", tokens == 0);
  check_pointer(sorted_ids, "sorted_token_ids", false);
  check_pointer(sorted_weights, "sorted_weights", false);
  check_pointer(sorted_expert_ids, "sorted_expert_ids", false);
  check_pointer(num_valid_ids, "num_valid_ids", false);
  if (zero.bytes < 0 || zero.bytes % 16 || zero.bytes > (int64_t(1) << 31))
    fail(fmt::format("zero fill bytes (= {}) must be a multiple of 16 in [0, 2^31]", zero.bytes));
  if (zero.bytes && (!zero.ptr || zero.ptr % 16))
    fail(fmt::format("zero fill pointer (= {:#x}) must be non-null and 16-byte aligned", zero.ptr));

  // compile() returns the Kernel from this process's memory after the first call per device.
  Kernel kernel = compile(moe_sorting_kernel(), device);
  // Null inputs (tokens == 0) are never read; pass a valid address anyway.
  kernel.launch_on(stream, Dim3{1, 1, 1}, Dim3{uint32_t(kMoeSortingThreads), 1, 1},
                   RawPtr{topk_ids ? topk_ids : sorted_ids}, RawPtr{topk_weights ? topk_weights : sorted_weights},
                   RawPtr{sorted_ids}, RawPtr{sorted_weights}, RawPtr{sorted_expert_ids}, RawPtr{num_valid_ids},
                   tokens, topk, experts, block_size, RawPtr{zero.bytes ? zero.ptr : sorted_ids}, int(zero.bytes / 16));
}

}  // namespace tilejit::kernels
