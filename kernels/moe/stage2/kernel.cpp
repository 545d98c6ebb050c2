// The MoE stage-2 A16W4 kernel: gathered bf16 rows times preshuffled MXFP4 weights, split-K,
// routing weights, bias and an atomic (or plain) epilogue.
//
// Three main loops: this file's (operands straight from global memory into registers: few rows
// per expert) and, with shared_mainloop, shared_mainloop.cpp's (operands staged in shared memory:
// many rows per expert) or, with wgmma too on sm_90a, wgmma_mainloop.cpp's; all end in epilogue.h.
//
// Dataflow per block (tile_m rows of one expert x tile_n columns, one K slice):
//  - the waves form a warps_m x (waves / warps_m) grid; each owns tile_m / warps_m rows and
//    tile_n / (waves / warps_m) columns, split into n-tiles of the target's MMA;
//  - per 128-K chunk each lane loads 16 preshuffled weight bytes (32 K of one row = one
//    scale block), decodes them to bf16 with the scale, and loads the matching activations;
//  - lanes feed the MMA a permutation of K (the same for A and B, so the sum is unchanged):
//    gfx950 lane group g holds K g*32 + step*8 + 0..7 (the ported ku order); sm_90a lane
//    t = lane%4 holds K t*32 + step*4 + 0..3;
//  - the accumulators go through shared memory so that the epilogue can add adjacent column
//    pairs with packed bf16x2 atomics on both targets (sm_90a with register_epilogue: each lane's
//    own column pairs, no shared tile).
#include "kernels/moe/stage2/kernel.h"

#include <array>
#include <functional>
#include <optional>

#include "dsl/error.h"
#include "dsl/kernel_family.h"
#include "dsl/tile/bf16_words.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/mxfp4.h"
#include "kernels/moe/stage2/epilogue.h"
#include "kernels/moe/stage2/mainloops.h"
#include "kernels/moe/stage2/owner_kernel.h"
#include "kernels/moe/stage2/register_k_loop.h"
#include "kernels/moe/stage2/wave_grid.h"
#include "kernels/moe/stage2/work_items.h"
#include "kernels/moe/stage2/weight_stream.h"

namespace tilejit::kernels {

using namespace dsl;
using ir::Scalar;
using ir::Type;

namespace {

const Type kV4I32 = Type::vector(Scalar::I32, 4);

template <class OutT>
void stage2_body(const MoeStage2Config& cfg, const stage2_detail::Stage2Params<OutT>& params) {
  const auto& [out, a, w, w_scale, sorted_ids, sorted_weights, sorted_experts, num_valid, bias, tokens] = params;
  const stage2_detail::WaveGrid grid(cfg);
  const bool amd = grid.amd;
  const int mma_n = grid.mma_n, cols_per_wave = grid.cols, n_tiles = grid.n_tiles, m_tiles = grid.m_tiles;
  const int steps = amd ? 4 : 8;  // MMA k-steps per 128-K chunk
  const int N = cfg.model_dim, K = cfg.inter_dim;
  const int expert_bytes = N * K / 2;
  const int chunks_per_slice = cfg.slice_k() / kStage2ChunkK;
  // The weights decode in the target's cheaper order; the activations follow the same K order.
  const tile::Fp4Order order = tile::preferred_fp4_order();
  auto k_order = [&](const Value& v8) { return tile::in_fp4_order(v8, order); };

  const std::optional<SharedPtr<float>> c_tile = stage2_detail::epilogue_tile(cfg);
  // sm_90a: the block's activation slice in shared memory as ready MMA A fragments. Lane (g, t)
  // of m-tile mt holds, for chunk c of the slice, word group q and half s, the words 2s, 2s+1 of
  // rows 16 mt + g and + 8 at K c*128 + t*32 + q*8 .. +8 in the decode's order, i.e. one 16-byte
  // fragment {row g word 2s, row g+8 word 2s, row g word 2s+1, row g+8 word 2s+1}, at slot
  // (((c * 4 + q) * 2 + s) * (tile_m / 16) + mt) * 32 + g * 4 + t: one shared load per MMA that
  // lands in the four registers the MMA reads (no moves), a warp's 32 loads 512 consecutive bytes.
  const bool shared_a = !amd && cfg.uses_shared_activations();
  std::optional<SharedPtr<int32_t>> a_tile;
  if (shared_a) a_tile = shared_array<int32_t>(cfg.activation_bytes() / 4);
  // warp_specialized: the weight ring the producer warp fills (sm_90a only: it needs the copy engine).
  std::optional<stage2_detail::WeightStream> stream;
  if (cfg.warp_specialized) {
    if (amd) throw UserError("MoeStage2Config::warp_specialized needs sm_90a's copy engine; gfx950 has none");
    stream.emplace(cfg);
  }
  Value lane = lane_id();
  Value wave_row0 = grid.row0;
  // Sorted row row0 + r's activation row (K wide). Row indices are clamped to the sorting's
  // capacity (moe-stage2.md) for the last, partial block; padding reads row 0, masked later.
  // (Written out rather than through activation_row(): that one's op order gives the table's
  // register-loop kernels other PTX, and this order is the one measured.)
  auto a_row_of = [&](const Value& row0, const Value& r) {
    Value last_row = tokens * cfg.topk + (cfg.experts * cfg.tile_m - cfg.topk - 1);
    Value id = sorted_ids[min(row0 + r, last_row)];
    Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
    Value arow = select(tok < tokens, tok * cfg.topk + slot, 0);
    return Ptr<bf16>(a + arow * K);
  };
  // One work item: rows bm * tile_m.. of one expert x column block bn x K slice z. With the stream,
  // its weights are fills `fill` .. and it is the block's item number `item_no` (its activation rows).
  auto item = [&](const Value& bn, const Value& bm, const Value& z, const Value& fill, const Value& item_no) {
    Value row0 = bm * cfg.tile_m;

    // The expert and the activation rows are read before the bounds check, so that the check does
    // not delay the weight loads: sorted_expert_ids has an entry per block of the grid.
    Value e = sorted_experts[bm];
    Value w_e = w + cast<int64_t>(e) * int64_t(expert_bytes / 4);  // w holds the bytes as i32 words

    // The activation rows this lane reads (gfx950: one row per m-tile; sm_90a: two).
    auto a_row = [&](Value r) { return a_row_of(row0, r); };
    std::vector<std::vector<Ptr<bf16>>> a_rows(m_tiles);
    for (int mt = 0; mt < m_tiles && !shared_a; ++mt) {
      if (amd) a_rows[mt].push_back(a_row(wave_row0 + urem(lane, 16) + 16 * mt));
      else for (int h = 0; h < 2; ++h) a_rows[mt].push_back(a_row(wave_row0 + udiv(lane, 4) + (8 * h + 16 * mt)));
    }
    // With shared activations each thread stages units tid + 256 j (t fastest, then q, c, g, mt):
    // 8 activations of rows r = 16 mt + g and r + 8 each, read from global memory or, with the
    // stream, from the rows the producer copied (at element r * slice_k + K - the slice's first).
    const int units = cfg.tile_m * chunks_per_slice * 8;  // a multiple of 128
    const int units_per_thread = shared_a ? (units + kStage2Threads - 1) / kStage2Threads : 0;
    std::vector<Value> unit_index, unit_row;
    std::vector<std::array<Ptr<bf16>, 2>> unit_rows;
    for (int j = 0; j < units_per_thread; ++j) {
      Value p = thread_id() + j * kStage2Threads;
      Value r = udiv(p, 128 * chunks_per_slice) * 16 + urem(udiv(p, 16 * chunks_per_slice), 8);
      unit_index.push_back(p);
      unit_row.push_back(r);
      if (!stream) unit_rows.push_back({a_row(r), a_row(r + 8)});
    }

    // Blocks past the sorted rows exit at once.
    if_(row0 < num_valid[0], [&] {
      // The weight row of each n-tile and the 32-K block (kl) this lane holds.
      Value n_lane = amd ? urem(lane, 16) : udiv(lane, 4);
      Value kl = amd ? udiv(lane, 16) : urem(lane, 4);
      Value s_e = w_scale + cast<int64_t>(e) * int64_t(N / 32 * K);  // this expert's scales (N*K/32 bytes)
      std::vector<Value> n_rows;
      for (int j = 0; j < n_tiles; ++j)
        n_rows.push_back(bn * cfg.tile_n + grid.col0 + (n_lane + j * mma_n));

      std::vector<std::unique_ptr<Var<>>> acc;
      for (int i = 0; i < m_tiles * n_tiles; ++i)
        acc.push_back(std::make_unique<Var<>>(splat(0.0f, 4)));

      // Plain loads where every row is in range, except with unroll 1: on the H100 they were 3-8%
      // faster with unroll 2 and 5-35% slower with unroll 1 (tile_m 32, tile_n 256) than the
      // range-checked load, same lease, both measured twice.
      const bool rows_checked = N % cfg.tile_n != 0 || cfg.unroll_for(chunks_per_slice) == 1;
      const ir::CachePolicy policy = cfg.stream_weights ? ir::CachePolicy::Stream : ir::CachePolicy::Normal;
      // The raw weights of one 128-K chunk: per n-tile one 16-byte load (32 K of one row; rows
      // past N read zeros and are masked in the epilogue) and its E8M0 scale byte.
      auto load_weights = [&](Value c, bool with_scales) {
        stage2_detail::RawChunk raw;
        raw.scales.resize(size_t(n_tiles));  // filled by the caller without `with_scales`
        for (int j = 0; j < n_tiles; ++j) {
          if (with_scales) {
            tile::Mxfp4Fragment f = tile::load_b_mxfp4(w_e, s_e, n_rows[j], c * 4 + kl, N, K, 4, 0, rows_checked, policy);
            raw.words.push_back(f.words);
            raw.scales[size_t(j)] = f.scale;
          } else {
            raw.words.push_back(tile::load_mxfp4_codes(w_e, n_rows[j], c * 4 + kl, N, K, 4, 0, rows_checked, policy));
          }
        }
        return raw;
      };
      const Value first = z * chunks_per_slice;
      // `count` chunks from c0. With paired scales (an even count from an even chunk) one 4-byte
      // word gives the scales of two chunks, and of two n-tiles 16 rows apart where a wave's
      // columns start on a 32-row boundary; the codes are loaded without their scale bytes then.
      // With the stream (always paired: an even unroll), fill fill + (c0 - first) / count holds the
      // chunks: codes and scale words come from its stage, into registers (the stage goes back to
      // the producer once they are used, below).
      const int rows_apart = 16 / mma_n;  // n-tiles 16 rows apart
      const bool share_words = cols_per_wave % 32 == 0;
      auto load_chunks = [&](Value c0, int count) {
        const bool paired = stream || (cfg.pair_scales && count % 2 == 0);
        std::optional<Value> k;
        std::optional<SharedPtr<int32_t>> stage;
        if (stream) {
          k = fill + udiv(c0 - first, count);
          stage = stream->wait(*k);
        }
        auto in_block = [&](int j) { return n_rows[j] - bn * cfg.tile_n; };  // the row in the column block
        std::vector<stage2_detail::RawChunk> raws;
        for (int u = 0; u < count; ++u) {
          if (!stream) {
            raws.push_back(load_weights(c0 + u, !paired));
            continue;
          }
          stage2_detail::RawChunk& raw = raws.emplace_back();
          raw.scales.resize(size_t(n_tiles));
          for (int j = 0; j < n_tiles; ++j) raw.words.push_back(stream->codes(*stage, in_block(j), u * 4 + kl));
        }
        if (!paired) return raws;
        for (int u = 0; u < count; u += 2) {
          Value kb = (c0 + u) * 4 + kl;
          std::vector<Value> words;
          for (int j = 0; j < n_tiles; ++j)
            words.push_back(share_words && (j / rows_apart) % 2 ? words[j - rows_apart]
                            : stream ? stream->scale_word(*k, in_block(j), u * 4 + kl)
                                     : tile::load_mxfp4_scale_word(s_e, n_rows[j], kb, N, K, rows_checked));
          for (int h = 0; h < 2; ++h)
            for (int j = 0; j < n_tiles; ++j) raws[u + h].scales[j] = tile::mxfp4_scale_in_word(words[j], n_rows[j], kb + 4 * h);
        }
        return raws;
      };
      // This lane's first fragment of the shared activations (m-tile wave_row0 / 16, lane (g, t)).
      const int frag_words = cfg.tile_m / 16 * 32 * 4;  // one (c, q, s) of every m-tile
      std::optional<SharedPtr<int32_t>> a_lane;
      if (shared_a) a_lane = *a_tile + (udiv(wave_row0, 16) * 32 + lane) * 4;
      // Decode, the activations in the same K permutation, and the MMAs of one chunk.
      auto compute = [&](const Value& c, const stage2_detail::RawChunk& raw, tile::Fp4Path path) {
        std::vector<std::vector<Value>> b_frag(n_tiles);
        for (int j = 0; j < n_tiles; ++j)
          for (int q = 0; q < 4; ++q) {
            Value vals = tile::decode_fp4x8(extract(raw.words[j], q), raw.scales[j], path, order);
            if (amd) {
              b_frag[j].push_back(vals);
            } else {
              b_frag[j].push_back(tile::bf16_from_words({tile::bf16_word(vals, 0), tile::bf16_word(vals, 1)}));
              b_frag[j].push_back(tile::bf16_from_words({tile::bf16_word(vals, 2), tile::bf16_word(vals, 3)}));
            }
          }
        // The activations load here, not with the weights one iteration ahead: that (measured on the
        // H200) took up to twice the registers and was 1-7% slower from 4 to 256 tokens.
        Value k_base = c * kStage2ChunkK + kl * 32;
        // sm_90a: the 8 activations of row half h (rows +0 / +8), m-tile mt, word group q as <4 x i32>.
        auto a_words = [&](int mt, int h, int q) -> Value {
          return bitcast(k_order(load(a_rows[mt][h] + (k_base + q * 8), 8)), kV4I32);
        };
        for (int mt = 0; mt < m_tiles; ++mt) {
          std::vector<Value> a_frag;
          for (int q = 0; q < 4; ++q) {
            if (amd) {
              a_frag.push_back(k_order(load(a_rows[mt][0] + (k_base + q * 8), 8)));
            } else if (shared_a) {
              for (int s = 0; s < 2; ++s)
                a_frag.push_back(tile::bf16_from_words({load(*a_lane + (c - first) * (8 * frag_words) +
                                                         ((q * 2 + s) * frag_words + mt * 128), 4)}));
            } else {
              Value r0 = a_words(mt, 0, q), r1 = a_words(mt, 1, q);
              a_frag.push_back(tile::bf16_from_words({extract(r0, 0), extract(r1, 0), extract(r0, 1), extract(r1, 1)}));
              a_frag.push_back(tile::bf16_from_words({extract(r0, 2), extract(r1, 2), extract(r0, 3), extract(r1, 3)}));
            }
          }
          for (int j = 0; j < n_tiles; ++j) {
            Var<>& v = *acc[mt * n_tiles + j];
            Value sum = v;
            for (int s = 0; s < steps; ++s) sum = tile::mma(a_frag[s], b_frag[j][s], sum);
            v = sum;
          }
        }
      };
      const int unroll = cfg.unroll_for(chunks_per_slice);
      // With the stream, the main loop's last chunk of each fill releases it after its multiply,
      // when its words have been used (the exact redo reads global memory and releases nothing).
      int traced = 0;
      std::function<void(const Value&, const stage2_detail::RawChunk&, tile::Fp4Path)> compute_step = compute;
      if (stream)
        compute_step = [&](const Value& c, const stage2_detail::RawChunk& raw, tile::Fp4Path path) {
          compute(c, raw, path);
          if (path != tile::Fp4Path::Software && ++traced % unroll == 0) stream->release(fill + udiv(c - first, unroll));
        };
      const Value end = first + chunks_per_slice;
      // sm_90a: the main loop decodes with one multiply per pair (exactly redone where it must be).
      const bool fast = !amd && cfg.small_scale_decode;
      // The first group is requested before the activations are staged (with the stream, each
      // group is read from its stage in the loop).
      std::vector<stage2_detail::RawChunk> first_raws;
      if (!stream) first_raws = load_chunks(first, unroll);
      // The shared activations, staged while the first weights are in flight.
      std::optional<SharedPtr<int32_t>> copied_rows;
      if (shared_a && stream) copied_rows = stream->activations(item_no);
      auto stage_unit = [&](int j) {
        Value p = unit_index[j];
        Value t = urem(p, 4), q = urem(udiv(p, 4), 4), c = urem(udiv(p, 16), chunks_per_slice);
        Value g = urem(udiv(p, 16 * chunks_per_slice), 8), mt = udiv(p, 128 * chunks_per_slice);
        Value k = c * kStage2ChunkK + t * 32 + q * 8;  // in the slice
        auto row_words = [&](int h) {
          Value v = copied_rows ? bitcast(load(*copied_rows + udiv((unit_row[j] + 8 * h) * cfg.slice_k() + k, 2), 4),
                                          ir::Type::vector(Scalar::BF16, 8))
                                : load(unit_rows[j][h] + (first * kStage2ChunkK + k), 8);
          return bitcast(k_order(v), kV4I32);
        };
        Value r0 = row_words(0), r1 = row_words(1);
        for (int s = 0; s < 2; ++s) {
          Value slot = (((c * 4 + q) * 2 + s) * (cfg.tile_m / 16) + mt) * 32 + g * 4 + t;
          store(*a_tile + slot * 4, make_vector({extract(r0, 2 * s), extract(r1, 2 * s), extract(r0, 2 * s + 1),
                                                 extract(r1, 2 * s + 1)}));
        }
      };
      for (int j = 0; j < units_per_thread; ++j) {
        if ((j + 1) * kStage2Threads <= units) stage_unit(j);
        else if_(unit_index[j] < units, [&] { stage_unit(j); });  // a 128-unit slice: half the threads
      }
      // The activations are staged for every warp (the stream's consumers sync without the producer).
      if (copied_rows) stream->release_activations(item_no);
      if (shared_a && stream) stream->consumers_sync();
      else if (shared_a) barrier();
      const stage2_detail::RegisterKLoopSteps steps{.load_group = [&](const Value& c0) { return load_chunks(c0, unroll); },
                                                    .load_exact = [&](const Value& c) { return load_weights(c, true); },
                                                    .compute = compute_step};
      if (stream) {
        stage2_detail::streamed_k_loop(first, end, unroll, fast, acc, steps);
      } else {
        stage2_detail::WeightSlots slots(first_raws);
        stage2_detail::register_k_loop(first, end, unroll, fast, slots, acc, steps);
      }
      if (shared_a && stream) stream->consumers_sync();  // the next item may restage them

      stage2_detail::stage2_finish<OutT>(cfg, c_tile, acc, m_tiles, n_tiles, wave_row0, grid.col0,
                                         {out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z});
    });
  };
  if (!stream) return item(block_id(0), block_id(1), block_id(2), Int(0), Int(0));

  // Warp-specialized and persistent: the work items of the plain grid (column blocks fastest, then
  // the valid row blocks, then the K slices), each block from its index in steps of the grid; the
  // consumers (warps 0-7) compute them, the producer (warp 8) streams their weights (and activation rows).
  if_(thread_id() == 0, [&] { stream->init(); });
  barrier();
  if_(
      thread_id() < kStage2Threads,
      [&] {
        Var<> fill(Int(0)), item_no(Int(0));
        stage2_detail::for_each_work_item(cfg, num_valid, [&](const Value& bn, const Value& bm, const Value& z) {
          item(bn, bm, z, fill, item_no);
          fill = fill + stream->fills_per_item();
          item_no = item_no + 1;
        });
      },
      [&] {
        Var<> fill(Int(0)), item_no(Int(0));
        stage2_detail::for_each_work_item(cfg, num_valid, [&](const Value& bn, const Value& bm, const Value& z) {
          if (shared_a) {  // the item's activation rows first: the consumers stage them before its weights
            stream->produce_activations(
                [&](const Value& r) { return Value(a_row_of(bm * cfg.tile_m, r) + z * cfg.slice_k()); }, cfg.tile_m, item_no);
            item_no = item_no + 1;
          }
          const Value e = sorted_experts[bm];
          stream->produce(w + cast<int64_t>(e) * int64_t(expert_bytes / 4),
                          w_scale + cast<int64_t>(e) * int64_t(N / 32 * K), bn, z, fill);
          fill = fill + stream->fills_per_item();
        });
      });
}

template <class OutT>
KernelDef define(const MoeStage2Config& cfg) {
  KernelOptions opts;
  opts.block = {uint32_t(cfg.block_threads()), 1, 1};
  opts.min_blocks_per_sm = uint32_t(cfg.blocks_per_sm_hint());
  opts.trace_key = cfg.kernel_name();  // the name spells out every field the body depends on
  opts.param_names = {"out", "a", "w", "w_scale", "sorted_token_ids", "sorted_weights", "sorted_expert_ids",
                      "num_valid_ids", "bias", "tokens"};
  return kernel(
      cfg.kernel_name(),
      [cfg](Ptr<OutT> out, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale, Ptr<int32_t> sorted_ids,
            Ptr<float> sorted_weights, Ptr<int32_t> sorted_experts, Ptr<int32_t> num_valid, Ptr<float> bias,
            Int tokens) {
        const stage2_detail::Stage2Params<OutT> params{out, a, w, w_scale, sorted_ids, sorted_weights,
                                                       sorted_experts, num_valid, bias, tokens};
        // Started early (MoeStage2A16W4::launch_early), the blocks wait here for the kernel before
        // (the sorting or the zeroing), whose outputs they read or add into; otherwise a no-op.
        // Waiting before the epilogue instead measured the same (H100, 1-32 tokens): the early
        // start gains the launch, not overlap with the zeroing.
        tile::wait_prior_grids();
        if (cfg.warp_specialized && cfg.wgmma_rs && wave_size() == 32)
          stage2_detail::stage2_wgmma_rs_ws_body<OutT>(cfg, params);
        else if (cfg.warp_specialized && cfg.wgmma_rs)
          throw UserError("MoeStage2Config::warp_specialized needs sm_90a (mbarriers and wgmma); gfx950 has neither");
        else if (cfg.wgmma_rs && wave_size() == 32)  // validate(): wgmma_rs implies wgmma and shared_mainloop
          stage2_detail::stage2_wgmma_rs_body<OutT>(cfg, params);
        else if (cfg.wgmma && wave_size() == 32)  // validate(): wgmma implies shared_mainloop
          stage2_detail::stage2_wgmma_body<OutT>(cfg, params);
        else if (cfg.shared_mainloop)
          stage2_detail::stage2_shared_body<OutT>(cfg, params);
        else
          stage2_body<OutT>(cfg, params);
      },
      std::move(opts));
}

}  // namespace

KernelDef moe_stage2_kernel(const MoeStage2Config& config) {
  if (config.token_owner) return moe_stage2_owner_kernel(config);
  config.validate();
  return define_once(config.kernel_name(),
                     [&] { return config.out_dtype == OutDtype::F32 ? define<float>(config) : define<bf16>(config); });
}

}  // namespace tilejit::kernels
