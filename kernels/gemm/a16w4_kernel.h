// The dense A16W4 GEMM kernel (bf16 activations x preshuffled MXFP4 weights) in the DSL,
// one source for gfx950 and sm_90a.
#pragma once
#include "dsl/kernel.h"
#include "kernels/gemm/config.h"

namespace tilejit::kernels {

/// The kernel for `config` (validated), registered under config.kernel_name(); the same config
/// returns the same definition. Parameters, in order: c (f32 or bf16 [M, N]), a (bf16 [M, K]),
/// w (the preshuffled weight bytes of one expert, [N, K/2], as i32 words), w_scale (u8, the
/// preshuffled E8M0 scales [N, K/32]), M, N, K (i32).
/// Launch: grid (ceil(N / tile_n), ceil(M / tile_m)), 256 threads; k_split > 1 uses
/// (groups - 1) x tile_m x tile_n x 4 bytes of shared memory (groups = min(k_split, waves)). Needs K a positive multiple
/// of 256, N of 32, and 16-byte aligned a and w (the host API checks).
KernelDef a16w4_gemm_kernel(const A16W4GemmConfig& config);

}  // namespace tilejit::kernels
