// The token-owner stage-2 kernel (MoeStage2Config::token_owner), for decode: a block owns tile_n
// columns of one token's output row and computes their whole sum, every routed expert and all of
// K, so it stores the result (or adds it to what the output held) with plain stores: no zeroing
// before it, no atomics, no sorting (it reads topk_ids / topk_weights as the router wrote them).
//
// Dataflow per block (token t = block y, columns bn * tile_n .. + tile_n = block x):
//  - the block's work is topk x k_parts pieces (a slot's expert over one K part); wave p takes
//    pieces p, p + waves, ...; k_parts splits K so that there are at least as many pieces as waves;
//  - the token's topk activation rows are staged in shared memory once (in the decode's K order)
//    while the first weights are in flight;
//  - a piece runs the register main loop's K loop (register_k_loop.h) on one activation row: per
//    128-K chunk each lane loads 16 preshuffled weight bytes of each of its n-tiles (unroll chunks
//    ahead), decodes them (sm_90a with small_scale_decode: one multiply per pair, the piece redone
//    exactly should a scale exceed 2^1) and multiplies them with the token's row, fed as every row
//    of the MMA's A operand (the weights dominate the bytes; rows 1..15 of the product are ignored);
//  - each wave folds its pieces into row 0 of its accumulators (bias once per slot, routing weight),
//    the waves add theirs in shared memory, and tile_n / 2 threads store column pairs.
#include "kernels/moe/stage2/owner_kernel.h"

#include <memory>
#include <type_traits>
#include <vector>

#include "dsl/kernel_family.h"
#include "dsl/tile/bf16_words.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/layout.h"
#include "dsl/tile/mxfp4.h"
#include "kernels/moe/stage2/register_k_loop.h"

namespace tilejit::kernels {

using namespace dsl;
using ir::Scalar;
using ir::Type;

namespace {

const Type kV4I32 = Type::vector(Scalar::I32, 4);

template <class OutT>
void owner_body(const MoeStage2Config& cfg, Ptr<OutT> out, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale,
                Ptr<int32_t> topk_ids, Ptr<float> topk_weights, Ptr<float> bias, Int add_out) {
  const bool amd = wave_size() == 64;
  const int waves = kStage2Threads / wave_size();
  const int mma_n = amd ? 16 : 8, n_tiles = cfg.tile_n / mma_n;
  const int steps = amd ? 4 : 8;  // MMA k-steps per 128-K chunk
  const int N = cfg.model_dim, K = cfg.inter_dim;
  const int k_parts = cfg.owner_k_parts(waves);
  const int part_chunks = K / kStage2ChunkK / k_parts, pieces = cfg.topk * k_parts;
  const int unroll = cfg.unroll_for(part_chunks);
  const tile::Fp4Order order = tile::preferred_fp4_order();
  const tile::MmaLayout& layout = tile::target_mma_layout();
  const bool fast = !amd && cfg.small_scale_decode;  // sm_90a: one multiply per decoded pair

  SharedPtr<float> sums = shared_array<float>(waves * cfg.tile_n);
  SharedPtr<int32_t> rows = shared_array<int32_t>(cfg.topk * K / 2);  // [topk, K] bf16 in the decode's order
  Value lane = lane_id(), wave = udiv(thread_id(), wave_size());
  Value bn = block_id(0), t = block_id(1);
  Value col0 = bn * cfg.tile_n;

  // The output pair each of the first tile_n / 2 threads writes (validate: tile_n <= 128), read
  // now when adding to it so that its latency hides under the main loop.
  Value pair_col = col0 + thread_id() * 2;
  Value writes = (thread_id() < cfg.tile_n / 2) & (pair_col < N);
  Ptr<OutT> dst = out + (t * N + pair_col);
  Var<> prior(splat(0.0f, 2));
  if_(writes & (add_out != 0), [&] {
    Value v = load(dst, 2);
    prior = std::is_same_v<OutT, float> ? v : cast(v, Type::vector(Scalar::F32, 2));
  });

  Value n_lane = amd ? urem(lane, 16) : udiv(lane, 4);
  Value kl = amd ? udiv(lane, 16) : urem(lane, 4);
  std::vector<Value> n_rows;
  for (int j = 0; j < n_tiles; ++j) n_rows.push_back(col0 + (n_lane + j * mma_n));
  const bool rows_checked = N % cfg.tile_n != 0;
  const ir::CachePolicy policy = cfg.stream_weights ? ir::CachePolicy::Stream : ir::CachePolicy::Normal;

  std::vector<std::unique_ptr<Var<>>> total;
  for (int j = 0; j < n_tiles; ++j) total.push_back(std::make_unique<Var<>>(splat(0.0f, 4)));

  // The token's rows, 8 activations (16 bytes) per thread and step, permuted like the weights;
  // every thread, then a barrier.
  auto stage_rows = [&] {
    const int units = cfg.topk * K / 8;
    Ptr<bf16> token_rows(a + t * (cfg.topk * K));
    for (int i = 0; i * kStage2Threads < units; ++i) {
      Value u = thread_id() + i * kStage2Threads;
      auto copy = [&] { store(rows + u * 4, bitcast(tile::in_fp4_order(load(token_rows + u * 8, 8), order), kV4I32)); };
      if ((i + 1) * kStage2Threads <= units) copy();
      else if_(u < units, copy);
    }
    barrier();
  };

  // Piece p: its slot, K part and expert; `active` unless p is past the pieces or the expert id is
  // outside [0, E) (which routes nothing, as in the MoE sorting; expert 0 stands in for the loads).
  struct Piece {
    Value slot, part, e, active, w_e, s_e;
  };
  auto piece_at = [&](const Value& p) {
    Piece pc;
    Value q = min(p, pieces - 1);
    pc.slot = udiv(q, k_parts);
    pc.part = urem(q, k_parts);
    Value id = topk_ids[t * cfg.topk + pc.slot];
    pc.active = (p < pieces) & ult(id, cfg.experts);
    pc.e = select(pc.active, id, 0);
    pc.w_e = w + cast<int64_t>(pc.e) * int64_t(N * K / 2 / 4);  // w holds the bytes as i32 words
    pc.s_e = w_scale + cast<int64_t>(pc.e) * int64_t(N / 32 * K);
    return pc;
  };
  auto load_chunk = [&](const Piece& pc, const Value& c) {
    stage2_detail::RawChunk raw;
    for (int j = 0; j < n_tiles; ++j) {
      tile::Mxfp4Fragment f = tile::load_b_mxfp4(pc.w_e, pc.s_e, n_rows[j], c * 4 + kl, N, K, 4, 0, rows_checked, policy);
      raw.words.push_back(f.words);
      raw.scales.push_back(f.scale);
    }
    return raw;
  };
  auto load_group = [&](const Piece& pc, const Value& c0) {
    std::vector<stage2_detail::RawChunk> group;
    for (int u = 0; u < unroll; ++u) group.push_back(load_chunk(pc, c0 + u));
    return group;
  };
  // The weight slots of the double-buffered K loop, holding the piece's first `unroll` chunks.
  auto first_chunks = [&](const Piece& pc) {
    return std::make_unique<stage2_detail::WeightSlots>(load_group(pc, pc.part * part_chunks));
  };
  auto run_piece = [&](const Piece& pc, stage2_detail::WeightSlots& next) {
    if_(pc.active, [&] {
      SharedPtr<int32_t> a_row = rows + pc.slot * (K / 2);
      std::vector<std::unique_ptr<Var<>>> acc;
      for (int j = 0; j < n_tiles; ++j) acc.push_back(std::make_unique<Var<>>(splat(0.0f, 4)));
      auto compute = [&](const Value& c, const stage2_detail::RawChunk& raw, tile::Fp4Path path) {
        Value k_base = c * kStage2ChunkK + kl * 32;
        std::vector<Value> a_frag;
        for (int q = 0; q < 4; ++q) {
          Value r = load(a_row + udiv(k_base + q * 8, 2), 4);  // 8 bf16 as <4 x i32>
          if (amd) {
            a_frag.push_back(bitcast(r, Type::vector(Scalar::BF16, 8)));
          } else {  // rows g and g + 8 both hold the token's row
            a_frag.push_back(tile::bf16_from_words({extract(r, 0), extract(r, 0), extract(r, 1), extract(r, 1)}));
            a_frag.push_back(tile::bf16_from_words({extract(r, 2), extract(r, 2), extract(r, 3), extract(r, 3)}));
          }
        }
        for (int j = 0; j < n_tiles; ++j) {
          std::vector<Value> b_frag;
          for (int q = 0; q < 4; ++q) {
            Value vals = tile::decode_fp4x8(extract(raw.words[j], q), raw.scales[j], path, order);
            if (amd) {
              b_frag.push_back(vals);
            } else {
              Value r = bitcast(vals, kV4I32);
              b_frag.push_back(tile::bf16_from_words({extract(r, 0), extract(r, 1)}));
              b_frag.push_back(tile::bf16_from_words({extract(r, 2), extract(r, 3)}));
            }
          }
          Value sum = *acc[j];
          for (int st = 0; st < steps; ++st) sum = tile::mma(a_frag[st], b_frag[st], sum);
          *acc[j] = sum;
        }
      };
      Value first = pc.part * part_chunks;
      stage2_detail::register_k_loop(first, first + part_chunks, unroll, fast, next, acc,
                                     {.load_group = [&](const Value& c0) { return load_group(pc, c0); },
                                      .load_exact = [&](const Value& c) { return load_chunk(pc, c); },
                                      .compute = compute});

      Value wgt = cfg.doweight ? Value(topk_weights[t * cfg.topk + pc.slot]) : Value(Float(1.0f));
      for (int j = 0; j < n_tiles; ++j) {
        Value v = *acc[j];
        if (cfg.has_bias) {  // once per slot: with its first K part
          std::vector<Value> b;
          for (int i = 0; i < 4; ++i) {
            Value gn = min(col0 + layout.c.col.emit(lane, i) + j * mma_n, N - 1);
            b.push_back(select(pc.part == 0, bias[pc.e * N + gn], 0.0f));
          }
          v = v + make_vector(b);
        }
        *total[j] = *total[j] + v * splat(wgt, 4);
      }
    });
  };
  // Round 0: the first weights are requested before the rows are staged, so that both are in flight.
  {
    Piece pc = piece_at(wave);
    auto slots = first_chunks(pc);
    stage_rows();
    run_piece(pc, *slots);
  }
  for (int r = 1; r * waves < pieces; ++r) {
    Value p = wave + r * waves;
    auto round = [&] {
      Piece pc = piece_at(p);
      run_piece(pc, *first_chunks(pc));
    };
    if ((r + 1) * waves <= pieces) round();
    else if_(p < pieces, round);
  }

  // Row 0 of every wave's accumulators into shared memory, then the waves' sums per column pair.
  for (int j = 0; j < n_tiles; ++j)
    for (int i = 0; i < 4; ++i)
      if_(layout.c.row.emit(lane, i) == 0, [&] {
        sums[wave * cfg.tile_n + (layout.c.col.emit(lane, i) + j * mma_n)] = extract(*total[j], i);
      });
  barrier();
  if_(writes, [&] {
    Value n = thread_id() * 2;
    Value v = prior;
    for (int k = 0; k < waves; ++k) v = v + load(sums + (k * cfg.tile_n + n), 2);
    if constexpr (std::is_same_v<OutT, float>) store(dst, v);
    else store(dst, cast(v, Type::vector(Scalar::BF16, 2)));
  });
}

template <class OutT>
KernelDef define(const MoeStage2Config& cfg) {
  KernelOptions opts;
  opts.block = {uint32_t(kStage2Threads), 1, 1};
  opts.min_blocks_per_sm = uint32_t(cfg.blocks_per_sm_hint());
  opts.trace_key = cfg.kernel_name();
  opts.param_names = {"out", "a", "w", "w_scale", "topk_ids", "topk_weights", "bias", "add_out"};
  return kernel(
      cfg.kernel_name(),
      [cfg](Ptr<OutT> out, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale, Ptr<int32_t> topk_ids,
            Ptr<float> topk_weights, Ptr<float> bias, Int add_out) {
        tile::wait_prior_grids();  // launched early, the kernel before may still write what this reads
        owner_body<OutT>(cfg, out, a, w, w_scale, topk_ids, topk_weights, bias, add_out);
      },
      std::move(opts));
}

}  // namespace

KernelDef moe_stage2_owner_kernel(const MoeStage2Config& config) {
  config.validate();
  return define_once(config.kernel_name(),
                     [&] { return config.out_dtype == OutDtype::F32 ? define<float>(config) : define<bf16>(config); });
}

}  // namespace tilejit::kernels
