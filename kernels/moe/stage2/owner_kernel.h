// The token-owner MoE stage-2 kernel (MoeStage2Config::token_owner): whole output rows per block.
#pragma once
#include "dsl/kernel.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels {

/// The kernel for a token_owner `config` (validated), registered under config.kernel_name().
/// Parameters, in order:
///   out (f32 or bf16 [tokens, N]), a (bf16 [tokens*topk, K]), w (the preshuffled bytes as i32
///   words), w_scale (u8, preshuffled), topk_ids (i32 [tokens, topk]; ids outside [0, E) route
///   nothing), topk_weights (f32 [tokens, topk]), bias (f32 [E, N]; unused unless has_bias),
///   add_out (i32: nonzero adds the result to what out held, zero overwrites it).
/// Launch: grid (ceil(N / tile_n), tokens, 1), 256 threads.
KernelDef moe_stage2_owner_kernel(const MoeStage2Config& config);

}  // namespace tilejit::kernels
