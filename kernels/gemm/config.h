// GEMM configurations (block tiles, output type) and the launch-argument limits they imply.
#pragma once
#include <cstdint>
#include <string>

namespace tilejit::kernels {

/// Element type of a GEMM's output matrix C.
enum class GemmOut : uint8_t { F32, BF16 };

/// Threads per block of both GEMMs on both targets (4 waves of 64, or 8 warps of 32).
inline constexpr int kGemmThreads = 256;

/// The BF16 GEMM C[M,N] = A[M,K] x B[N,K]^T (A, B bf16 row-major, f32 accumulation).
/// M, N and K are launch arguments; the tiles are baked into the code. A and B are staged
/// through swizzled shared-memory tiles in a multi-stage pipeline (sm_90a: cp.async; gfx950:
/// buffer loads into registers, stored to LDS one stage ahead).
struct BF16GemmConfig {
  int tile_m = 128;  ///< rows per block: 16, 32, 64 or 128
  int tile_n = 128;  ///< columns per block: 32, 64, 128 or 256 (tile_m * tile_n in [1024, 32768])
  int tile_k = 32;   ///< K per pipeline stage: 32, 64 or 128; K must be a multiple of it
  GemmOut out = GemmOut::F32;
  /// Shared-memory pipeline stages: 0 picks per target (bf16_gemm_stages); else 2..8 on sm_90a.
  /// gfx950 always uses 2 (its loads wait in registers while the other stage is computed).
  int stages = 0;

  /// Throws std::invalid_argument naming the field that is out of range.
  void validate() const;
  /// A name that identifies the variant, e.g. gemm_bf16_m64n128k32_f32 (a set stages adds _s<n>).
  std::string kernel_name() const;
};

/// The dense A16W4 GEMM C[M,N] = A[M,K] x dequant(W[N,K])^T: A bf16 row-major, W MXFP4 in the
/// preshuffled stage-2 layout of one expert (kernels/mxfp4/preshuffle.h) with preshuffled E8M0
/// scales. K must be a multiple of 256 and N of 32; M is any positive size.
/// The block's waves form k_split groups that each cover the whole tile for every k_split-th
/// chunk of `unroll` 128-K stages; the groups' partial sums are added through shared memory in a
/// fixed order (group 0 + 1 + ..., so results are deterministic and the same on every run).
/// Small M wants a small tile_n (more blocks) with K split over the waves.
struct A16W4GemmConfig {
  int tile_m = 16;   ///< rows per block: 16 or 32
  int tile_n = 128;  ///< columns per block: 32, 64, 128 or 256 (a partial last tile is masked)
  GemmOut out = GemmOut::BF16;
  int k_split = 1;   ///< wave groups splitting K in a block: 1, 2, 4 or 8 (at most one per wave: 8 is 4 on gfx950)
  int unroll = 1;    ///< 128-K stages per loop iteration, all loaded one iteration ahead: 1, 2 or 4

  /// Throws std::invalid_argument naming the field that is out of range (or a tile_n that does
  /// not give every wave of a group whole MMA tiles on both targets).
  void validate() const;
  /// A name that identifies the variant, e.g. gemm_a16w4_m16n128_bf16 (k_split / unroll other
  /// than 1 add _ks<k> / _u<u>).
  std::string kernel_name() const;
};

/// A configuration for C[M,N] = A[M,K] x B[N,K]^T on a device with `compute_units` SMs / CUs:
/// 128 x 256 tiles (8 warps of 64 x 64 on sm_90a; 0.59-0.60 of cuBLAS on the H100 at 4096^3 and
/// 8192^3, against 0.44 for 128 x 128) when they still give every compute unit a block, else the
/// default 128 x 128. tile_k 32; `out` is kept.
BF16GemmConfig bf16_gemm_choose(int M, int N, int K, int compute_units, GemmOut out = GemmOut::F32);

/// A configuration for C[M,N] = A[M,K] x W^T on a device with `compute_units` SMs / CUs: the
/// plain tiling (tile_n 128, k_split 1) when it gives at least two blocks per compute unit or K <
/// 1024; otherwise the widest tile_n of 128, 64, 32 with a block per compute unit (else 32) and
/// k_split 256 / tile_n. tile_m is 16 for M <= 16, else 32; `out` is kept; unroll stays 1.
A16W4GemmConfig a16w4_gemm_choose(int M, int N, int K, int compute_units, GemmOut out = GemmOut::BF16);

/// K values per pipeline stage of the A16W4 GEMM (one 16-byte weight load per lane and row).
inline constexpr int kA16W4ChunkK = 128;

/// How the waves of a block split its tile: wm x wn waves, each owning a rows x cols sub-tile
/// made of m_tiles x n_tiles MMA tiles (16 x mma_n).
struct WaveSplit {
  int wm = 0, wn = 0;
  int rows = 0, cols = 0;
  int m_tiles = 0, n_tiles = 0;
};

/// The split of a tile_m x tile_n tile over `waves` waves whose MMA is 16 x mma_n, choosing the
/// arrangement with the most MMAs per 16-byte operand load (`a_loads_per_mtile` loads feed one
/// 16-row A tile: 1 on gfx950, 2 on sm_90a). wm == 0 when no arrangement fits.
WaveSplit gemm_wave_split(int tile_m, int tile_n, int waves, int mma_n, int a_loads_per_mtile);

/// How a BF16 GEMM block divides its work: the waves form k_groups groups, each group splits the
/// tile by `split` and takes every k_groups-th MMA k-step of each stage; the groups' partial sums
/// are added through shared memory at the end (k_groups 1: no split). k_groups == 0: nothing fits.
struct BF16GemmPlan {
  WaveSplit split;
  int k_groups = 0;
  int registers = 0;  ///< estimated 32-bit registers per lane
};

/// The plan with the most MMAs per operand load whose register estimate fits (gfx950 or sm_90a).
BF16GemmPlan bf16_gemm_plan(const BF16GemmConfig& config, bool gfx950);

/// The pipeline stages a BF16 GEMM uses on gfx950 or sm_90a: config.stages
/// when set (sm_90a), else as many as fit in 96 KiB of shared memory, between 2 and 4 (sm_90a);
/// always 2 on gfx950.
int bf16_gemm_stages(const BF16GemmConfig& config, bool gfx950);

}  // namespace tilejit::kernels
