// The stage-2 main loop with the weights in registers (sm_90a, config.wgmma_rs): wgmma's A operand
// is the weights, decoded straight into each lane's A fragment (the RS form), and its B operand
// the block's activation rows in shared memory (wgmma N = tile_m). Each weight element is decoded
// once per block for all its rows; shared memory holds only the copied inputs (raw weight bytes,
// scales, activations), never decoded weights.
//
// Block: two warpgroups; group g owns the weight rows g * tile_n / 2 .. (tile_n / 128 m64 tiles).
// Row m = 16 q + l / 4 + 8 h of an m64 tile (warp q of the group, lane l, fragment half h) is its
// weight row 16 q + 2 (l / 4) + h, so a lane's two rows are adjacent output columns (bf16x2 atomics).
//
// Per 64-K step a ring of kWgmmaRsStages stages: cp.async copies of the raw preshuffled weight
// bytes (per 16 rows the 512 contiguous bytes of the step) and of the scale bytes (per 32 rows the
// 128 contiguous bytes that hold the step's two blocks), and the activation rows (a swizzled
// 64-column tile, wgmma's B) permuted along K. A lane reads word t = l % 4 of the 16-byte block of
// each of its rows per 32-K half, the natural K 8 t .. 8 t + 7, and decodes it in Split order
// (tile::Fp4Order::Split: 11 integer operations per word instead of natural order's 16): its pair
// p = 0..3 holds K 8 t + p and 8 t + p + 4. wgmma wants in its A fragment of k16 step u the column
// pairs t (K 16 u + 2 t) and t + 4 (K 16 u + 8 + 2 t); lane t gives them its pairs 2 u and 2 u + 1.
// So wgmma column pair 4 i + t of the half (i = 2 u + s) holds natural K 8 t + i and 8 t + i + 4, and
// B's rows must hold the activations in that order: a 2-byte permutation, too fine for cp.async,
// so the activations pass through registers (16-byte loads of natural 8-K chunks one step ahead,
// then per i the chunk's elements i and i + 4 stored at column pair 4 i + t). On the H100 this is
// 3-5% faster than natural-order decoding with the activations transposed by 4-byte cp.async
// copies. The activation rows go to wgmma in chunks of 64 (its N; 96-row tiles: 64 and 32); a chunk
// that starts with a padding row is skipped. Step kt: wait until the copies of step kt + 1 landed,
// one barrier, the wgmmas of step kt (fragments decoded at the end of step kt - 1), the copies of step
// kt + stages - 1 while they run, wait_group 0 (no stage is overwritten while a wgmma may read
// it), then the decode of step kt + 1. With
// stagger_warpgroups, warpgroup 1 does its part of step kt up to the wait before that barrier.
#include "kernels/moe/stage2/mainloops.h"

#include <algorithm>
#include <optional>

#include "dsl/tile/intrinsics.h"
#include "dsl/tile/mxfp4.h"
#include "dsl/tile/shared_tile.h"
#include "kernels/moe/stage2/epilogue.h"
#include "kernels/moe/stage2/staged_operands.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;
using ir::Scalar;
using ir::Type;

namespace {

constexpr int kStepK = 64;
constexpr int kGroupRows = 64;  // wgmma's M
constexpr int kMaxChunkRows = 64;  // activation rows per wgmma at most (its N)
constexpr int kWeightBytesPerRow = kStepK / 2;  // raw FP4 bytes of one weight row per step
constexpr int kScaleBytesPer32Rows = 128;

}  // namespace

template <class OutT>
void stage2_wgmma_rs_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params) {
  const auto& [out, a, w, w_scale, sorted_ids, sorted_weights, sorted_experts, num_valid, bias, tokens] = params;
  const int N = cfg.model_dim, K = cfg.inter_dim, stages = kWgmmaRsStages;
  const int tiles = cfg.tile_n / 2 / kGroupRows;  // m64 tiles per warpgroup
  const int steps = cfg.slice_k() / kStepK;
  Value tid = thread_id(), lane = lane_id();
  Value group = udiv(tid, 128), q = urem(udiv(tid, 32), 4), g = udiv(lane, 4), t = urem(lane, 4);
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * cfg.tile_m;
  Value e = sorted_experts[bm];

  // Shared memory: the activation tile first (its 8-row groups 1024-byte aligned for the swizzle).
  tile::SharedTile ta = tile::make_shared_tile(cfg.tile_m, kStepK, stages);
  const int w_stage = cfg.tile_n * kWeightBytesPerRow, s_stage = cfg.tile_n / 32 * kScaleBytesPer32Rows;
  SharedPtr<int32_t> w_ring = shared_array<int32_t>(int64_t(stages) * w_stage / 4);
  SharedPtr<uint8_t> s_ring = shared_array<uint8_t>(int64_t(stages) * s_stage);

  Value k_first = z * cfg.slice_k(), kb_first = udiv(k_first, 32);
  Value w_e = w + cast<int64_t>(e) * (int64_t(N) * K / 8);      // N*K/2 bytes per expert, as i32 words
  Value s_e = w_scale + cast<int64_t>(e) * int64_t(N / 32 * K);  // N*K/32 scale bytes per expert
  Value n_block = bn * cfg.tile_n;

  const SharedPtr<bf16> a_tile = SharedPtr<bf16>(ta.base());
  // The activation copies (see the top): each thread copies tile_m / 32 natural 16-byte chunks,
  // in `passes` rows 32 `run` apart, `run` chunks t0 .. t0 + run - 1 of half b in each (run: the
  // largest power of two dividing tile_m / 32, so a pass covers whole rows; thread p's first row is
  // p / (8 / run)). Per i it stores each run's elements i and i + 4 at column pairs 4 i + t0 .., i.e.
  // 4 run contiguous bytes of logical 16-byte chunk 4 b + i, at physical chunk (4 b + i) ^ (row % 8)
  // (the same in every pass): the lanes of a store cover every bank once per row group, so no store
  // waits on a bank conflict.
  const int cpt = cfg.tile_m / 32, run = cpt & -cpt, passes = cpt / run, groups_per_row = 8 / run;
  const int pass_rows = kStage2Threads / groups_per_row;
  const Value a_row = udiv(tid, groups_per_row), a_gi = urem(tid, groups_per_row);
  const Value a_half = udiv(a_gi * run, 4), a_t0 = urem(a_gi * run, 4);
  std::vector<Value> a_src;  // per pass
  for (int r = 0; r < passes; ++r)
    a_src.push_back(a + (cast<int64_t>(activation_row(cfg, sorted_ids, row0 + (a_row + r * pass_rows), tokens, cfg.tile_m)) *
                             int64_t(K) +
                         cast<int64_t>(a_half * 32 + a_t0 * 8)));
  const Value a_dst = a_row * kStepK + a_t0 * 2, a_swizzle = urem(a_row, 8);
  auto load_activations = [&](const Value& step) {
    std::vector<Value> chunks;  // pass-major
    Value k = k_first + step * kStepK;
    for (int r = 0; r < passes; ++r)
      for (int c = 0; c < run; ++c) chunks.push_back(load(Value(Ptr<bf16>(a_src[size_t(r)]) + (k + 8 * c)), 8));
    return chunks;
  };
  auto store_activations = [&](const std::vector<Value>& chunks, const Value& stage) {
    std::vector<Value> split;  // each chunk in the decode's order: pair i = elements i, i + 4
    for (const Value& chunk : chunks) split.push_back(tile::split_pairs(chunk));
    for (int r = 0; r < passes; ++r) {
      Value base = stage * (cfg.tile_m * kStepK) + (a_dst + r * pass_rows * kStepK);
      for (int i = 0; i < 4; ++i) {
        std::vector<Value> pairs;
        for (int c = 0; c < run; ++c) {
          pairs.push_back(extract(split[size_t(r * run + c)], 2 * i));
          pairs.push_back(extract(split[size_t(r * run + c)], 2 * i + 1));
        }
        store(Value(a_tile + (base + ((a_half * 4 + i) ^ a_swizzle) * 8)), make_vector(pairs));
      }
    }
  };
  // The weight and scale copies of one step into stage `stage`: thread p takes 16-byte weight
  // chunks p, p + 256, .. (32 per 16-row piece) and, p < tile_n / 4, scale chunk p (8 per 32-row
  // group); pieces past N read zeros (cp.async zero fill) and their columns are masked in the epilogue.
  auto copy_weights = [&](const Value& step, const Value& stage) {
    Value kb = kb_first + step * 2;  // the step's first 32-K block (a multiple of 2)
    for (int c0 = 0; c0 < 2 * cfg.tile_n; c0 += kStage2Threads) {
      Value c = tid + c0, piece = udiv(c, 32), within = urem(c, 32);
      Value n = n_block + piece * 16;
      Value src_byte = tile::mxfp4_weight_offset(min(n, N - 16), kb, K) + within * 16;
      tile::cp_async_16(Value(w_ring + udiv(stage * w_stage + piece * 512 + within * 16, 4)),
                        Value(w_e + udiv(src_byte, 4)), select(n < N, 16, 0));
    }
    if_(tid < cfg.tile_n / 4, [&] {
      Value group32 = udiv(tid, 8), within = urem(tid, 8);
      Value n = n_block + group32 * 32;
      // The 128 bytes of blocks kb, kb + 1 of rows n .. n + 31 (moe-stage2.md: kl pairs are contiguous).
      Value src_byte = (udiv(min(n, N - 32), 32) * (K / 256) + udiv(kb, 8)) * 256 + urem(kb, 4) * 64 + within * 16;
      tile::cp_async_16(Value(s_ring + (stage * s_stage + group32 * kScaleBytesPer32Rows + within * 16)),
                        Value(s_e + src_byte), select(n < N, 16, 0));
    });
  };

  // The weight rows of this lane (m64 tile j, half h) within the block tile: n = group * tile_n / 2 +
  // 64 j + 16 q + 2 g + h, so n / 16 = group * tile_n / 32 + 4 j + q and n % 16 = 2 g + h. Its raw
  // block `blk` lies at byte (n / 16) * 512 + blk * 256 + (n % 16) * 16 of a weight stage and its
  // scale at (n / 32) * 128 + (blk * 16 + n % 16) * 4 + kp * 2 + (n / 16) % 2 of a scale stage: a
  // per-lane base plus a constant for each (j, h, blk).
  auto row_of = [&](int j, int h) { return group * (cfg.tile_n / 2) + (j * kGroupRows + h) + q * 16 + g * 2; };
  Value w_lane = Value(w_ring + ((group * (cfg.tile_n / 32) + q) * 128 + g * 8 + t));  // i32 words, word t
  Value s_lane = Value(s_ring + ((group * (cfg.tile_n / 64) + udiv(q, 2)) * kScaleBytesPer32Rows + g * 8 + urem(q, 2)));
  // The A fragments of step `step` (stage `stage`): per m64 tile its four k16 steps, <8 x bf16> each.
  auto decode_step = [&](const Value& step, const Value& stage) {
    Value kp = urem(udiv(kb_first + step * 2, 4), 2);  // the scale word's K pair of this step
    Value w_at = Value(w_lane + stage * (w_stage / 4)), s_at = Value(s_lane + (stage * s_stage + kp * 2));
    struct Raw {
      Value codes[2][2], scale[2][2];  // [half h][32-K block]
    };
    std::vector<Raw> raw = std::vector<Raw>(size_t(tiles));
    std::optional<Value> small;
    for (int j = 0; j < tiles; ++j)
      for (int h = 0; h < 2; ++h)
        for (int blk = 0; blk < 2; ++blk) {
          raw[size_t(j)].codes[h][blk] = load(Value(w_at + (j * 2048 + blk * 256 + h * 16) / 4));
          raw[size_t(j)].scale[h][blk] =
              zext(load(Value(s_at + (j * 256 + blk * 64 + h * 4))), Type::scalar(Scalar::I32));
          Value fits = raw[size_t(j)].scale[h][blk] <= tile::kFp4SmallScaleMax;
          small = small ? Value(*small & fits) : fits;
        }
    std::vector<std::unique_ptr<Var<>>> frags;
    for (int i = 0; i < tiles * 4; ++i)
      frags.push_back(std::make_unique<Var<>>(bitcast(splat(Int(0), 4), Type::vector(Scalar::BF16, 8))));
    auto decode = [&](tile::Fp4Path path) {
      for (int j = 0; j < tiles; ++j)
        for (int blk = 0; blk < 2; ++blk) {
          Value d[2];
          for (int h = 0; h < 2; ++h)
            d[h] = bitcast(tile::decode_fp4x8(raw[size_t(j)].codes[h][blk], raw[size_t(j)].scale[h][blk], path,
                                              tile::Fp4Order::Split),
                           Type::vector(Scalar::I32, 4));
          // Word w of d[h] is row h at K 8 w + 2 t: the k16 step 2 blk + u takes words 2 u (columns
          // 2 t) and 2 u + 1 (columns 2 t + 8).
          for (int u = 0; u < 2; ++u)
            *frags[size_t(j * 4 + blk * 2 + u)] =
                bitcast(make_vector({extract(d[0], 2 * u), extract(d[1], 2 * u), extract(d[0], 2 * u + 1),
                                     extract(d[1], 2 * u + 1)}),
                        Type::vector(Scalar::BF16, 8));
        }
    };
    if (!cfg.small_scale_decode) {
      decode(tile::Fp4Path::Software);
    } else {
      // One multiply per pair where this lane's scales of the step allow it (every real weight
      // tensor), the exact decode otherwise: the same values either way.
      if_(*small, [&] { decode(tile::Fp4Path::SoftwareSmallScale); }, [&] { decode(tile::Fp4Path::Software); });
    }
    std::vector<Value> values;
    for (auto& f : frags) values.push_back(f->get());
    return values;
  };

  // Chunks of kMaxChunkRows rows, the last one shorter (tile_m 96: 64 + 32).
  const int chunks = (cfg.tile_m + kMaxChunkRows - 1) / kMaxChunkRows;
  auto chunk_rows = [&](int c) { return std::min(kMaxChunkRows, cfg.tile_m - c * kMaxChunkRows); };
  if_(row0 < num_valid[0], [&] {
    // A chunk whose first row is padding (an expert's last block is padded at its end) is skipped.
    // Chunk 0 always holds a row.
    static_assert(kMaxChunkRows * 2 >= 128, "tile_m (at most 128) is one or two chunks");
    std::optional<Value> second_used;
    if (chunks == 2) second_used = (sorted_ids[row0 + kMaxChunkRows] & 0xFFFFFF) < tokens;
    std::vector<std::unique_ptr<Var<>>> acc;  // m64 tile j, chunk c at j * chunks + c
    for (int i = 0; i < tiles * chunks; ++i) acc.push_back(std::make_unique<Var<>>(splat(0.0f, chunk_rows(i % chunks) / 2)));
    // Staggered, warpgroup 1 copies step stages - 2 in its first step (see the step loop).
    const Value group0 = group == 0, group1 = group == 1;
    for (int p = 0; p < stages - 1; ++p) {
      auto copy = [&] {
        const Value step = Int(std::min(p, steps - 1));
        store_activations(load_activations(step), Int(p));
        copy_weights(step, Int(p));
      };
      if (cfg.stagger_warpgroups && p == stages - 2) if_(group0, copy);
      else copy();
      tile::copy_commit();
    }
    // The activations of the first step the loop copies: stages - 1 (warpgroup 1 when staggered:
    // stages - 2), held in registers until then.
    const Value first_copied = cfg.stagger_warpgroups ? select(group1, Int(stages - 2), Int(stages - 1)) : Value(Int(stages - 1));
    std::vector<std::unique_ptr<Var<>>> staged;
    for (const Value& chunk : load_activations(min(first_copied, steps - 1))) staged.push_back(std::make_unique<Var<>>(chunk));
    tile::copy_wait(stages - 2);  // step 0 landed (this thread's copies)
    // The wgmmas of every m64 tile on stage `stage`, with their fragments (four per tile), as one
    // group. With two chunks, two straight-line paths (both chunks, or only the first) instead of a
    // branch around the second chunk's wgmmas: with that branch between a fence and its commit,
    // ptxas injects warpgroup.arrive waits ("C7519") and 96-row tiles measured 12% slower.
    auto multiply = [&](const std::vector<Value>& frags, const Value& stage) {
      auto group_of = [&](int used_chunks) {
        tile::wgmma_fence();
        for (int c = 0; c < used_chunks; ++c)
          for (int j = 0; j < tiles; ++j) {
            Var<>& d = *acc[size_t(j * chunks + c)];
            for (int s = 0; s < 4; ++s)
              d = tile::wgmma(frags[size_t(j * 4 + s)],
                              tile::wgmma_operand(ta, stage, Int(c * kMaxChunkRows), 16 * s), d, tile::wgmma_layout(ta));
          }
        tile::wgmma_commit();
      };
      if (chunks == 1) group_of(1);
      else if_(*second_used, [&] { group_of(2); }, [&] { group_of(1); });
    };
    auto values = [](const std::vector<std::unique_ptr<Var<>>>& vars) {
      std::vector<Value> v;
      for (auto& x : vars) v.push_back(x->get());
      return v;
    };
    // The fragments pass through the wait that retires their wgmmas: the wgmmas read them until
    // there, so later fragments must not reuse their registers (ptxas serializes every wgmma otherwise).
    auto retire_frags = [](const std::vector<Value>& frags, int pending) {
      for (const Value& f : frags) tile::wgmma_wait(bitcast(f, Type::vector(Scalar::F32, 4)), pending);
    };

    // The fragments of even and odd steps: the loop runs two steps per iteration, so that each
    // step's fragments are decoded into the other set and no register moves between the sets.
    // Step kt: wait until the copies of step kt + 1 landed, one barrier, the wgmmas of step kt, the
    // copies of step kt + stages - 1 while they run, their retirement, the decode of step kt + 1.
    // Staggered, warpgroup 1 runs its wgmmas (and copies step kt + stages - 2) before the barrier,
    // right after decoding them, while warpgroup 0 decodes; between two barriers both copy the
    // same step into the stage neither reads (its wgmmas retired before the first of them).
    if (cfg.stagger_warpgroups) tile::fence_proxy_async();  // warpgroup 1 multiplies step 0 first
    barrier();
    std::vector<std::unique_ptr<Var<>>> sets[2];
    for (const Value& f : decode_step(Int(0), Int(0))) {
      sets[0].push_back(std::make_unique<Var<>>(f));
      sets[1].push_back(std::make_unique<Var<>>(f));
    }
    // The wgmmas of step kt with the fragments of set `parity`, the copies of step kt + ahead while
    // they run (the activations from registers, then those of the step after into them), their
    // retirement.
    auto tensor_step = [&](const Value& kt, int parity, int ahead) {
      std::vector<Value> frags = values(sets[parity]);
      multiply(frags, urem(kt, stages));
      store_activations(values(staged), urem(kt + ahead, stages));
      std::vector<Value> next = load_activations(min(kt + ahead + 1, steps - 1));
      for (size_t i = 0; i < next.size(); ++i) *staged[i] = next[i];
      copy_weights(min(kt + ahead, steps - 1), urem(kt + ahead, stages));
      tile::copy_commit();
      for (auto& d : acc) *d = tile::wgmma_wait(*d, 0);
      retire_frags(frags, 0);
    };
    auto run_step = [&](const Value& kt, int parity) {
      if (cfg.stagger_warpgroups) if_(group1, [&] { tensor_step(kt, parity, stages - 2); });
      tile::copy_wait(stages - 3);  // step kt + 1 landed (this thread's copies)
      tile::fence_proxy_async();   // the activation copies of step kt + 1, for wgmma
      barrier();                   // everyone's; the wgmmas of step kt - 1 have retired
      if (cfg.stagger_warpgroups) if_(group0, [&] { tensor_step(kt, parity, stages - 1); });
      else tensor_step(kt, parity, stages - 1);
      // Then the next step's fragments (the last step decodes itself again, unused). Decoding
      // them while the wgmmas run instead measured 1-3% slower on the H100 (186 registers
      // instead of 158 with tile_n 256).
      Value following = min(kt + 1, steps - 1);
      std::vector<Value> decoded = decode_step(following, urem(following, stages));
      for (size_t i = 0; i < decoded.size(); ++i) *sets[1 - parity][i] = decoded[i];
    };
    for_range(0, steps, 2, [&](Value kt) {  // steps is even: slices are whole 128-K chunks
      run_step(kt, 0);
      run_step(kt + 1, 1);
    });
    tile::copy_wait(0);  // no copy outlives the kernel

    // Element i of m64 tile j, chunk c: weight row m = 16 q + g + 8 (i / 2 % 2) (column 16 q + 2 g +
    // i / 2 % 2 of the group's part), activation row 64 c + 8 (i / 4) + 2 t + i % 2. Elements i and
    // i + 2 are the adjacent columns of one row. Rows of skipped chunks are padding: not written.
    const EpilogueArgs<OutT> args{out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z};
    for (int j = 0; j < tiles; ++j)
      for (int c = 0; c < chunks; ++c) {
        Value v = *acc[size_t(j * chunks + c)];
        for (int i = 0; i < chunk_rows(c) / 2; i += 4)
          for (int b = 0; b < 2; ++b)
            emit_pair(cfg, args, t * 2 + (c * kMaxChunkRows + 2 * i + b), row_of(j, 0), extract(v, i + b),
                      extract(v, i + b + 2));
      }
  });
}

template void stage2_wgmma_rs_body<float>(const MoeStage2Config&, const Stage2Params<float>&);
template void stage2_wgmma_rs_body<bf16>(const MoeStage2Config&, const Stage2Params<bf16>&);

}  // namespace tilejit::kernels::stage2_detail
