// MoE sorting on the device: the host API of the DSL sorting kernel (argument checks, compile, launch).
#pragma once
#include "backend/runtime/device.h"

namespace tilejit::kernels {

/// A buffer the sorting kernel zeroes as well: the stage-2 output it will accumulate into, so that
/// no separate memset launch is needed. `bytes` from `ptr` (16-byte aligned; bytes a multiple of 16,
/// at most 2^31; 0: nothing). One workgroup writes it, 4 KiB per round of its threads: meant for
/// decode-sized outputs (tokens x N x 2 bytes).
struct MoeSortingZeroFill {
  DevicePtr ptr = 0;
  int64_t bytes = 0;
};

/// MoE sorting on `device`, with the outputs of moe::moe_sorting_into: sorted_token_ids
/// (`token | slot << 24`), sorted_weights, sorted_expert_ids and num_valid_ids = {padded rows, tokens};
/// rows grouped by increasing expert id, within an expert in (token, slot) order, each expert padded
/// to a multiple of block_size with id `tokens | topk << 24` and weight 0, no blocks for empty experts.
/// The tail up to the capacity is filled as moe::moe_sorting_into does (padding id, weight 0, expert -1).
///
/// Inputs: topk_ids (i32) and topk_weights (f32), [tokens, topk] each. Outputs must hold
/// moe::moe_sorting_max_rows (ids, weights), moe::moe_sorting_max_blocks (expert ids) and 2 (num_valid_ids)
/// entries. All pointers are device addresses on `device`, 4-byte aligned (the inputs may be null when
/// tokens is 0). Pairs whose expert id is outside [0, experts) are dropped (not routed).
/// `zero` names a buffer to zero in the same launch (see MoeSortingZeroFill).
/// Runs asynchronously on `stream` (null: the default stream); one workgroup, O((E + P) * P / 256) work
/// per thread for P = tokens*topk pairs, so it suits decode-sized batches (seen on an H100: 6 us at
/// P = 10, 0.18 ms at P = 2048 with E = 384, 36 ms at P = 32768: prefill wants a multi-block sort).
/// Throws std::invalid_argument naming a bad argument: tokens outside [0, 2^24-1], topk outside
/// [1, min(127, experts)], experts outside [1, kMoeSortingMaxExperts], block_size < 1, a capacity past
/// the i32 range, a null or misaligned pointer, a zero fill that is not whole 16-byte vectors.
void moe_sorting_gpu(Device& device, DevicePtr topk_ids, DevicePtr topk_weights, int tokens, int topk, int experts,
                     int block_size, DevicePtr sorted_ids, DevicePtr sorted_weights, DevicePtr sorted_expert_ids,
                     DevicePtr num_valid_ids, Stream* stream = nullptr, MoeSortingZeroFill zero = {});

}  // namespace tilejit::kernels
