// The MoE sorting kernel in the DSL: one workgroup sorts routed (token, slot) pairs by expert.
#pragma once
#include "dsl/kernel.h"

namespace tilejit::kernels {

/// Threads of the single sorting workgroup.
inline constexpr int kMoeSortingThreads = 256;
/// Most experts the sorting kernel handles (two i32 arrays of this size live in shared memory).
inline constexpr int kMoeSortingMaxExperts = 4096;

/// The sorting kernel, registered as "moe_sorting". Parameters, in order:
///   topk_ids (i32 [tokens, topk]), topk_weights (f32 [tokens, topk]),
///   sorted_token_ids (i32), sorted_weights (f32), sorted_expert_ids (i32), num_valid_ids (i32[2]),
///   tokens, topk, experts, block_size (i32), zero_out (i32, 16-byte aligned), zero_vectors (i32: 16-byte
///   vectors of zero_out set to 0; 0 for none).
/// Launch: grid (1, 1, 1), kMoeSortingThreads threads. Output as moe::moe_sorting_into, tail included;
/// pairs whose expert id is outside [0, experts) are dropped (not routed).
const KernelDef& moe_sorting_kernel();

}  // namespace tilejit::kernels
