// The MoE stage-2 A16W4 kernel configuration: problem shape, tiles and epilogue options.
#pragma once
#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace tilejit::kernels {

enum class OutDtype : uint8_t { BF16, F32 };

/// Stages of the wgmma_rs ring (activations, raw weights and scales of one 64-K step each). Four
/// measured 5-6% faster than five on the H100 at 1024 / 4096 tokens (docs/performance.md).
inline constexpr int kWgmmaRsStages = 4;
/// Stages of the warp-specialized wgmma_rs ring (one block per SM: room for more in flight; a
/// power of two, so that the stage of a ring step is a mask).
inline constexpr int kWgmmaRsWsStages = 8;

/// Threads per block on both targets (4 waves of 64, or 8 warps of 32; warp_specialized adds a warp).
inline constexpr int kStage2Threads = 256;

/// K values one k-loop iteration consumes (one 16-byte preshuffled weight load per lane).
inline constexpr int kStage2ChunkK = 128;

/// warp_specialized: blocks per SM of the persistent grid, and the shared memory a block may take
/// for them to fit (its weight ring gets as many stages as fit, two to four).
inline constexpr int kStage2WsBlocksPerSm = 2;
inline constexpr int kStage2WsBlockBytes = 112 * 1024;
/// warp_specialized: bytes from one 256-byte code block to the next in a ring stage (padding that
/// spreads the four blocks a row's lanes read at once over different banks; weight_stream.cpp).
inline constexpr int kStage2WsBlockPitch = 256 + 32;

/// Shared memory a stage-2 block may use: gfx950's 160 KiB of LDS per workgroup, and sm_90a's
/// 227 KiB per block for the configs only sm_90a runs (warp_specialized).
inline constexpr int kStage2MaxSharedBytes = 160 * 1024;
inline constexpr int kStage2MaxSharedBytesSm90a = 227 * 1024;

/// One compiled variant of the stage-2 kernel. The model shape is baked into the code;
/// the token count is a launch argument.
struct MoeStage2Config {
  int model_dim = 0;   ///< N: output columns; a multiple of 32 (a partial last N tile is masked)
  int inter_dim = 0;   ///< K: contraction; a multiple of 256
  int experts = 0;     ///< E
  int topk = 0;
  int tile_m = 16;     ///< 16, 32, 64 or (shared_mainloop) 96 or 128 rows per block (= the MoE sorting block size)
  int tile_n = 128;    ///< 64, 128, 256 or 512 columns per block; tile_m * tile_n <= 8192 (register main loop)
  int k_batch = 1;     ///< split-K slices; K / k_batch must be a multiple of 128
  OutDtype out_dtype = OutDtype::BF16;
  bool has_bias = false;   ///< add bias[e, n] (f32) exactly once, before the routing weight
  bool doweight = true;    ///< multiply by the routing weight
  bool accumulate = true;  ///< atomically add into out[tokens, N]; false: store out[tokens*topk, N]
  int unroll = 2;          ///< 128-K chunks per k-loop iteration (1, 2, 3, 4, 6 or 8; see unroll_for)
  bool stream_weights = true;  ///< weight codes read with ir::CachePolicy::Stream (L1 keeps the activations)
  int warps_m = 1;             ///< 1, 2 or 4 row groups of waves (tile_m / 16 must be a multiple)
  bool pair_scales = true;     ///< with an even unroll, one 4-byte scale read per two chunks (and n-tiles 16 rows apart)
  /// Activations gathered and weights decoded once per block into shared memory, MMA operands read
  /// from there (for many rows per expert); needs tile_m a multiple of 32 and tile_n >= 128.
  bool shared_mainloop = false;
  /// sm_90a, with shared_mainloop: operands staged in wgmma's core-matrix layout and multiplied by
  /// the block's two warpgroups with wgmma (tile_m 64 with tile_n 128 or 256, or 128 x 128). gfx950
  /// has no wgmma and runs the shared main loop of the same tiles.
  bool wgmma = false;
  /// sm_90a, with wgmma: the weights are wgmma's A operand, decoded straight into registers (the
  /// RS form), and the tile_m activation rows its B operand (N: chunks of up to 64 rows): each
  /// weight element is decoded once per block for all its rows, with no shared stores and no
  /// decode per warpgroup half. The shared main loop's tiles: tile_m 32, 64, 96 or 128, tile_n 128
  /// or 256, not 96 or 128 x 256 (gfx950 runs the shared main loop of the same tiles).
  bool wgmma_rs = false;
  /// sm_90a, with wgmma_rs: the two warpgroups run half a step apart, so that one decodes while
  /// the other's wgmmas run, instead of both multiplying, then both decoding. Warpgroup 1 issues
  /// and retires the wgmmas of step kt before the step's barrier (and copies step kt + stages - 2
  /// there), warpgroup 0 after it (copying kt + stages - 1): the same stages are in use and the
  /// same barriers reached as without it, at the same register count. On the H100 2-4% faster at
  /// 1024 and 4096 tokens (both shapes, two runs each, natural-order decode), so the default; with
  /// the Split-order decode both cards ran faster without it (H200 4-6%, H100 3.7-5.5%), and every
  /// wgmma_rs row of the built-in tables turns it off (bench --no-stagger is the A/B). Without
  /// wgmma_rs, and on gfx950 (the shared main loop), it changes nothing.
  bool stagger_warpgroups = true;
  /// sm_90a: each lane sends its accumulators' column pairs to the atomics itself, with no shared
  /// f32 tile and no barrier (gfx950 always goes through the tile). On the H200 1-7% faster than
  /// the tile at every measured point (both shapes, 1 to 4096 tokens, same lease), so the default.
  bool register_epilogue = true;
  /// sm_90a: decode with one bf16x2 multiply per pair instead of two (tile::Fp4Path::
  /// SoftwareSmallScale, exact for scales up to tile::kFp4SmallScaleMax = 2^1, every real weight
  /// tensor). Register main loop: a warp that met a larger scale redoes its slice with the exact
  /// decode after the loop; shared main loops: a thread whose scales of a step exceed it decodes
  /// that step exactly. The result is the same either way; only the instruction count differs.
  bool small_scale_decode = true;
  /// sm_90a occupancy hint (KernelOptions::min_blocks_per_sm): -1 picks 2 for the register main
  /// loop with tile_m 16 and small_scale_decode (its decode takes more registers than 128 when
  /// free to, one block per SM; capped it fits two without spills) and for wgmma_rs (64 x 256
  /// takes 132 registers when free to; capped at 128, no spills, GPT-OSS 4096 tokens ran 1113
  /// instead of 1393 us on the H100, DeepSeek-R1 2300 instead of 3107), else none (token_owner
  /// too: capped at 128 registers its tile_n 32 and 64 configs spill); 0 none.
  int min_blocks_per_sm = -1;
  /// sm_90a, register main loop: the block gathers its activation rows (tile_m x the K slice) into
  /// shared memory once, already in the decode's K order, and every warp reads its A operands
  /// from there, instead of each warp loading them from global memory and permuting them (one
  /// PRMT per A word, on the integer pipe the decode saturates). Where the slice exceeds
  /// kStage2MaxActivationBytes the warps load A themselves; gfx950 always does (its decode
  /// order needs no permutation).
  bool shared_activations = true;
  /// Decode: each block owns tile_n columns of one token's output row and sums every routed expert
  /// over all of K itself (owner_kernel.cpp), reading topk_ids / topk_weights directly: no MoE
  /// sorting, no zeroing before it, no atomics. Grid (N / tile_n, tokens); the block's waves split
  /// the token's topk x owner_k_parts() pieces and add their sums in shared memory. Needs
  /// tile_m 16 (unused), k_batch 1, warps_m 1, the register main loop, accumulate, and tile_n 16,
  /// 32, 64 or 128. On the H100 slower than the tables' split-K configs at 1-8 tokens (1 token
  /// of GPT-OSS 16.1 against 15.3 us: N / tile_n blocks balance poorly over 132 SMs), faster than
  /// the MoE sorting plus them (docs/performance.md); no built-in row picks it.
  bool token_owner = false;
  /// sm_90a, with wgmma_rs (its tiles, warpgroups in step): a producer warpgroup copies each
  /// step's operands into a ring of kWgmmaRsWsStages stages and the two consumer warpgroups decode
  /// a step while their wgmmas of the step before run (wgmma_rs_ws_mainloop.cpp; 384 threads, one
  /// block per SM walking the work items, the ring running on from one item to the next). With the register main loop: warp-specialized and persistent (tiles word "ws",
  /// weight_stream.h). A ninth warp, the producer, streams each work item's weight slice (codes
  /// and scales) with bulk copies into a ring of ws_stages() shared-memory stages of `unroll`
  /// chunks and, with shared activations, the item's activation rows into a stage of their own
  /// one item ahead; the eight consumer warps restage the rows in their MMA layout, read their
  /// words from a stage, release it and decode and multiply as the register loop does. The grid holds kStage2WsBlocksPerSm blocks per SM, each
  /// walking the work items (column block, row block, K slice) from its index in steps of the
  /// grid, so the copy engine streams the next item while the consumers finish this one. Needs an
  /// even unroll (a stage holds whole 256-K runs of scales), model_dim a multiple of tile_n, the
  /// register epilogue and not token_owner; gfx950 (no copy engine) rejects it when tracing.
  bool warp_specialized = false;
  /// Threads of a block: kStage2Threads, plus the producer warp (warpgroup with wgmma_rs) with warp_specialized.
  int block_threads() const { return warp_specialized ? kStage2Threads + (wgmma_rs ? 128 : 32) : kStage2Threads; }
  /// Whether the grid is persistent (warp_specialized): blocks_per_sm_hint() blocks per SM walk the
  /// work items instead of one block per item.
  bool persistent_grid() const { return warp_specialized; }
  /// warp_specialized: bytes of one ring stage: tile_n / 16 x unroll x 4 code blocks
  /// kStage2WsBlockPitch apart, and 4 scale bytes per row and chunk.
  int ws_stage_bytes() const {
    const int u = unroll_for(slice_k() / kStage2ChunkK);
    return tile_n / 16 * u * 4 * kStage2WsBlockPitch + tile_n * u * 4;
  }
  /// warp_specialized: stages of the ring, in what kStage2WsBlockBytes leaves next to the
  /// activations (with shared activations: their MMA layout and the copied rows of the next item).
  int ws_stages() const {
    const int activations = uses_shared_activations() ? 2 * activation_bytes() : 0;
    return std::clamp((kStage2WsBlockBytes - activations) / ws_stage_bytes(), 2, 4);
  }
  /// token_owner: the K parts of one slot, chosen so that topk x parts covers `waves` waves where
  /// the 128-K chunks divide evenly (the largest divisor of K / 128 with topk x parts <= waves).
  int owner_k_parts(int waves) const {
    int parts = 1;
    for (int p = 1; topk * p <= waves; ++p)
      if ((inter_dim / kStage2ChunkK) % p == 0) parts = p;
    return parts;
  }
  /// Bytes of the block's activation slice in shared memory (tile_m x slice_k() bf16).
  int activation_bytes() const { return tile_m * slice_k() * 2; }
  /// Whether the sm_90a kernel stages the activations in shared memory (see shared_activations).
  bool uses_shared_activations() const;
  /// The hint the kernel is compiled with (min_blocks_per_sm resolved).
  int blocks_per_sm_hint() const {
    if (min_blocks_per_sm >= 0) return min_blocks_per_sm;
    if (token_owner) return 0;
    if (warp_specialized) return wgmma_rs ? 1 : kStage2WsBlocksPerSm;
    return wgmma_rs || (!shared_mainloop && tile_m == 16 && small_scale_decode) ? 2 : 0;
  }

  /// Throws std::invalid_argument naming the field that is out of range.
  void validate() const;
  /// A kernel name that identifies the variant, e.g. moe_stage2_a16w4_n3072_k3072_e128_t4_m16n128k1_bf16_w.
  std::string kernel_name() const;
  /// The tiles in short, e.g. "tm16 tn256 kb6 u4" (u: the unroll the kernel uses), with " wmN" for
  /// warps_m > 1, " sh" for the shared main loop, " wg" with wgmma, " wr" with wgmma_rs, " ns"
  /// for wgmma_rs without stagger_warpgroups, " ow" for token_owner (whose u is the unroll asked
  /// for) and " ws" for warp_specialized.
  std::string tiles_text() const;
  /// This config (shape and epilogue) with the tiles of `text` in tiles_text()'s form, words in any
  /// order: tmN and tnN required, kbN (default 1), uN (default 2; 1 with a shared main loop, as
  /// the tables have it), wmN (default 1), at most one of
  /// sh / wg / wr (default: the register main loop), ns (with wr), ow (token_owner), ws
  /// (warp_specialized). Validated; throws
  /// std::invalid_argument naming the word for unknown, repeated or malformed words.
  MoeStage2Config with_tiles_text(std::string_view text) const;
  /// Shared memory of a block, at most (gfx950 always keeps the f32 epilogue tile, tile_m x
  /// tile_n x 4 bytes); the shared main loop adds its four A stages of tile_m x 64 and two B
  /// stages of tile_n x 64 bf16, shared activations their slice. token_owner: the token's rows
  /// and the waves' column sums.
  int shared_bytes() const {
    if (token_owner) return topk * inter_dim * 2 + 8 * tile_n * 4;  // topk rows of K bf16; f32 sums of up to 8 waves
    const int shared_loop = tile_m * tile_n * 4 + (shared_mainloop ? (4 * tile_m + 2 * tile_n) * 64 * 2 : 0) +
                            (uses_shared_activations() ? activation_bytes() : 0);
    // wgmma_rs: per stage tile_m x 64 bf16 activations, and per weight row 32 FP4 bytes plus 4 of
    // the scale words that hold its two 32-K blocks.
    // warp_specialized (register loop): the weight ring and its 2 x stages mbarriers; with shared activations one
    // stage of copied rows and its 2 mbarriers.
    const int ring = warp_specialized ? ws_stages() * (ws_stage_bytes() + 2 * 8) +
                                            (uses_shared_activations() ? activation_bytes() + 2 * 8 : 0)
                                      : 0;
    // warp_specialized wgmma_rs: kWgmmaRsWsStages of them and a full and an empty mbarrier each.
    const int rs_stages = warp_specialized ? kWgmmaRsWsStages : kWgmmaRsStages;
    const int rs = rs_stages * (tile_m * 64 * 2 + tile_n * (32 + 4)) + (warp_specialized ? rs_stages * 2 * 8 : 0);
    if (wgmma_rs) return warp_specialized ? rs : std::max(shared_loop, rs);  // (gfx950 runs the shared loop)
    return shared_loop + ring;
  }
  /// The most shared_bytes() may be: kStage2MaxSharedBytesSm90a for the configs only sm_90a runs
  /// (warp_specialized), else kStage2MaxSharedBytes (both targets).
  int max_shared_bytes() const { return warp_specialized ? kStage2MaxSharedBytesSm90a : kStage2MaxSharedBytes; }
  /// The unroll factor used for a slice of `chunks` chunks: `unroll` itself when it divides
  /// `chunks`, else the largest of 4, 2, 1 that is at most `unroll` and divides it.
  int unroll_for(int chunks) const {
    if (chunks % unroll == 0) return unroll;
    for (int u : {4, 2}) if (u <= unroll && chunks % u == 0) return u;
    return 1;
  }
  /// K values per split-K slice.
  int slice_k() const { return inter_dim / k_batch; }
};

/// The largest activation slice the sm_90a register main loop stages in shared memory (two
/// blocks per SM keep room to spare in the H100's 228 KiB).
inline constexpr int kStage2MaxActivationBytes = 64 * 1024;

}  // namespace tilejit::kernels
