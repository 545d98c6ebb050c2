// The MoE stage-2 A16W4 kernel in the DSL, one source for gfx950 and sm_90a.
#pragma once
#include "dsl/kernel.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels {

/// The kernel for `config` (validated), registered under config.kernel_name(); the same
/// config returns the same definition. Parameters, in order:
///   out (f32 or bf16), a (bf16 [tokens*topk, K]), w (the preshuffled bytes as i32 words), w_scale (u8, preshuffled),
///   sorted_token_ids (i32), sorted_weights (f32), sorted_expert_ids (i32), num_valid_ids (i32[2]),
///   bias (f32 [E, N]; unused unless has_bias), tokens (i32).
/// Launch: grid (ceil(N / tile_n), sorted blocks, k_batch), 256 threads.
/// A token_owner config gets moe_stage2_owner_kernel(config) (owner_kernel.h: other parameters).
KernelDef moe_stage2_kernel(const MoeStage2Config& config);

}  // namespace tilejit::kernels
