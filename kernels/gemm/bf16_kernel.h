// The BF16 GEMM kernel in the DSL, one source for gfx950 and sm_90a.
#pragma once
#include "dsl/kernel.h"
#include "kernels/gemm/config.h"

namespace tilejit::kernels {

/// The kernel for `config` (validated), registered under config.kernel_name(); the same config
/// returns the same definition. Parameters, in order: c (f32 or bf16 [M, N]), a (bf16 [M, K]),
/// b (bf16 [N, K]), M, N, K (i32). Launch: grid (ceil(N / tile_n), ceil(M / tile_m)), 256 threads.
/// Needs K a positive multiple of tile_k and 16-byte aligned a and b (the host API checks); on
/// gfx950 also 256 * K < 2^31 (buffer offsets of one block's rows). Shared memory: stages x
/// (tile_m + tile_n) x tile_k bf16 (bf16_gemm_stages).
KernelDef bf16_gemm_kernel(const BF16GemmConfig& config);

}  // namespace tilejit::kernels
