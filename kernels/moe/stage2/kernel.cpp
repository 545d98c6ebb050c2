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

#include "dsl/kernel_family.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tile/mxfp4.h"
#include "kernels/moe/stage2/epilogue.h"
#include "kernels/moe/stage2/mainloops.h"
#include "kernels/moe/stage2/wave_grid.h"

namespace tilejit::kernels {

using namespace dsl;
using ir::Scalar;
using ir::Type;

namespace {

const Type kV4I32 = Type::vector(Scalar::I32, 4);
const Type kV8BF16 = Type::vector(Scalar::BF16, 8);

/// Builds <N x bf16> from i32 words of bf16 pairs.
Value words_to_bf16(const std::vector<Value>& words) {
  Value v = words.size() == 1 ? words[0] : make_vector(words);
  return bitcast(v, Type::vector(Scalar::BF16, v.type().size_bytes() / 2));
}

Value word(const Value& v8bf16, int i) { return extract(bitcast(v8bf16, kV4I32), i); }

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
  Value lane = lane_id();
  Value wave_row0 = grid.row0;

  // The activation row (an index into `a`) of sorted row row0 + r. Row indices are clamped to the
  // sorting's capacity (moe-stage2.md) for the last, partial block; padding reads row 0, masked later.
  Value last_row;  // set by each grid form below
  auto set_last_row = [&] { last_row = tokens * cfg.topk + (cfg.experts * cfg.tile_m - cfg.topk - 1); };
  auto a_row_index = [&](const Value& row0, const Value& r) {
    Value id = sorted_ids[min(row0 + r, last_row)];
    Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
    return select(tok < tokens, tok * cfg.topk + slot, 0);
  };
  auto a_row = [&](const Value& row0, const Value& r) { return Ptr<bf16>(a + a_row_index(row0, r) * K); };
  // The rows this lane reads its activations from, without shared activations (gfx950: one row
  // per m-tile; sm_90a: two, rows +0 and +8), each mapped by `f`, m-tile by m-tile.
  auto lane_rows = [&](const std::function<Value(Value)>& f) {
    std::vector<Value> rows;
    for (int mt = 0; mt < m_tiles && !shared_a; ++mt) {
      if (amd) rows.push_back(f(wave_row0 + urem(lane, 16) + 16 * mt));
      else for (int h = 0; h < 2; ++h) rows.push_back(f(wave_row0 + udiv(lane, 4) + (8 * h + 16 * mt)));
    }
    return rows;
  };
  using ARows = std::vector<std::vector<Ptr<bf16>>>;  // [m-tile][half]
  auto group_rows = [&](const std::vector<Ptr<bf16>>& flat) {
    ARows rows(m_tiles);
    const size_t per = amd ? 1 : 2;
    for (size_t i = 0; i < flat.size(); ++i) rows[i / per].push_back(flat[i]);
    return rows;
  };

  // The weight row of each n-tile and the 32-K block (kl) this lane holds.
  struct WeightSource {
    Value w_e, s_e;               // the expert's weights (i32 words) and scales
    std::vector<Value> n_rows;    // per n-tile
  };
  auto lane_n_k = [&] { return std::pair{amd ? urem(lane, 16) : udiv(lane, 4), amd ? udiv(lane, 16) : urem(lane, 4)}; };
  auto weight_source = [&](const Value& n_lane, const Value& w_e, const Value& e, const Value& bn) {
    WeightSource src{w_e, w_scale + cast<int64_t>(e) * int64_t(N / 32 * K), {}};  // N*K/32 scale bytes
    for (int j = 0; j < n_tiles; ++j) src.n_rows.push_back(bn * cfg.tile_n + grid.col0 + (n_lane + j * mma_n));
    return src;
  };
  auto expert_weights = [&](const Value& e) { return w + cast<int64_t>(e) * int64_t(expert_bytes / 4); };
  auto make_acc = [&] {
    std::vector<std::unique_ptr<Var<>>> acc;
    for (int i = 0; i < m_tiles * n_tiles; ++i) acc.push_back(std::make_unique<Var<>>(splat(0.0f, 4)));
    return acc;
  };

  // The raw weights of one 128-K chunk: per n-tile one 16-byte load (32 K of one row; rows
  // past N read zeros and are masked in the epilogue) and its E8M0 scale byte.
  struct Raw {
    std::vector<Value> words, scales;
  };
  // Plain loads where every row is in range, except with unroll 1: on the H100 they were 3-8%
  // faster with unroll 2 and 5-35% slower with unroll 1 (tile_m 32, tile_n 256) than the
  // range-checked load, same lease, both measured twice.
  const int unroll = cfg.unroll_for(chunks_per_slice);
  const bool rows_checked = N % cfg.tile_n != 0 || unroll == 1;
  const ir::CachePolicy policy = cfg.stream_weights ? ir::CachePolicy::Stream : ir::CachePolicy::Normal;
  auto load_weights = [&](const WeightSource& src, Value kl, Value c) {
    Raw raw;
    for (int j = 0; j < n_tiles; ++j) {
      tile::Mxfp4Fragment f = tile::load_b_mxfp4(src.w_e, src.s_e, src.n_rows[j], c * 4 + kl, N, K, 4, 0, rows_checked, policy);
      raw.words.push_back(f.words);
      raw.scales.push_back(f.scale);
    }
    return raw;
  };
  // `count` chunks from c0. With paired scales (an even count from an even chunk) one 4-byte
  // word gives the scales of two chunks, and of two n-tiles 16 rows apart where a wave's
  // columns start on a 32-row boundary; the byte loads load_b_mxfp4 also emits are unused then.
  const int rows_apart = 16 / mma_n;  // n-tiles 16 rows apart
  const bool share_words = cols_per_wave % 32 == 0;
  auto load_chunks = [&](const WeightSource& src, Value kl, Value c0, int count) {
    std::vector<Raw> raws;
    for (int u = 0; u < count; ++u) raws.push_back(load_weights(src, kl, c0 + u));
    if (!cfg.pair_scales || count % 2) return raws;
    for (int u = 0; u < count; u += 2) {
      Value kb = (c0 + u) * 4 + kl;
      std::vector<Value> words;
      for (int j = 0; j < n_tiles; ++j)
        words.push_back(share_words && (j / rows_apart) % 2 ? words[j - rows_apart]
                                                            : tile::load_mxfp4_scale_word(src.s_e, src.n_rows[j], kb, N, K, rows_checked));
      for (int h = 0; h < 2; ++h)
        for (int j = 0; j < n_tiles; ++j) raws[u + h].scales[j] = tile::mxfp4_scale_in_word(words[j], src.n_rows[j], kb + 4 * h);
    }
    return raws;
  };
  // This lane's first fragment of the shared activations (m-tile wave_row0 / 16, lane (g, t)).
  const int frag_words = cfg.tile_m / 16 * 32 * 4;  // one (c, q, s) of every m-tile
  std::optional<SharedPtr<int32_t>> a_lane;
  // Decode, the activations in the same K permutation, and the MMAs of chunk c (the slice starts at
  // chunk `first`; shared activations hold the slice) into acc.
  auto compute = [&](std::vector<std::unique_ptr<Var<>>>& acc, Value kl, Value c, Value first, const Raw& raw,
                     tile::Fp4Path path, const ARows& a_rows) {
    std::vector<std::vector<Value>> b_frag(n_tiles);
    for (int j = 0; j < n_tiles; ++j)
      for (int q = 0; q < 4; ++q) {
        Value vals = tile::decode_fp4x8(extract(raw.words[j], q), raw.scales[j], path, order);
        if (amd) {
          b_frag[j].push_back(vals);
        } else {
          b_frag[j].push_back(words_to_bf16({make_vector({word(vals, 0), word(vals, 1)})}));
          b_frag[j].push_back(words_to_bf16({make_vector({word(vals, 2), word(vals, 3)})}));
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
            a_frag.push_back(words_to_bf16({load(*a_lane + (c - first) * (8 * frag_words) +
                                                     ((q * 2 + s) * frag_words + mt * 128), 4)}));
        } else {
          Value r0 = a_words(mt, 0, q), r1 = a_words(mt, 1, q);
          a_frag.push_back(words_to_bf16({extract(r0, 0), extract(r1, 0), extract(r0, 1), extract(r1, 1)}));
          a_frag.push_back(words_to_bf16({extract(r0, 2), extract(r1, 2), extract(r0, 3), extract(r1, 3)}));
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
  // sm_90a: the main loop decodes with one multiply per pair; should a warp meet a scale above
  // 2^1 (where that decode is inexact) it redoes its chunks with the exact decode, one at a time,
  // after the main loop (the wave-uniform branch stays out of the loop, which the scheduler sees
  // as one straight block).
  const bool fast = !amd && cfg.small_scale_decode;
  const tile::Fp4Path main_path = fast ? tile::Fp4Path::SoftwareSmallScale : tile::Fp4Path::Auto;
  auto track_scales = [&](Var<>& scale_max, const std::vector<Raw>& raws) {
    for (const Raw& r : raws)
      for (const Value& sc : r.scales) scale_max = umax(scale_max, sc);
  };
  auto redo_if_needed = [&](std::vector<std::unique_ptr<Var<>>>& acc, Var<>& scale_max,
                            const std::function<void()>& redo) {
    if_(tile::wave_umax(scale_max) > tile::kFp4SmallScaleMax, [&] {
      for (auto& v : acc) *v = splat(0.0f, 4);
      redo();
    });
  };
  // Raw weights held across iterations (the prefetch slots).
  struct Slots {
    std::vector<std::unique_ptr<Var<>>> words, scales;
    explicit Slots(const std::vector<Raw>& raws) {
      for (const Raw& r : raws)
        for (size_t j = 0; j < r.words.size(); ++j) {
          words.push_back(std::make_unique<Var<>>(r.words[j]));
          scales.push_back(std::make_unique<Var<>>(r.scales[j]));
        }
    }
    std::vector<Raw> get(int count, int n) const {
      std::vector<Raw> raws(static_cast<size_t>(count));
      for (int u = 0; u < count; ++u)
        for (int j = 0; j < n; ++j) {
          raws[u].words.push_back(words[u * n + j]->get());
          raws[u].scales.push_back(scales[u * n + j]->get());
        }
      return raws;
    }
    void set(const std::vector<Raw>& raws) {
      size_t i = 0;
      for (const Raw& r : raws)
        for (size_t j = 0; j < r.words.size(); ++j, ++i) {
          *words[i] = r.words[j];
          *scales[i] = r.scales[j];
        }
    }
  };

  if (cfg.persistent > 0) {
    // Persistent grid: the block's share of all (work item, group of `unroll` chunks) steps, walked
    // in order with the next step's weights in flight while the current step decodes and
    // multiplies, across work items (the block's end is mid-item where the shares split one: both
    // parts add their partial sums atomically, and the part with the item's first group the bias).
    // Items run column block fastest, then K slice, then sorted block.
    const int n_blocks = (N + cfg.tile_n - 1) / cfg.tile_n, groups = chunks_per_slice / unroll;
    set_last_row();
    const auto [n_lane, kl] = lane_n_k();
    // The sorted blocks, capped by the sorting's capacity for this token count (moe-stage2.md).
    Value capacity = udiv(tokens * cfg.topk + (cfg.experts * cfg.tile_m - cfg.topk + cfg.tile_m - 1), cfg.tile_m);
    Value m_blocks = min(udiv(max(num_valid[0], 0) + (cfg.tile_m - 1), cfg.tile_m), capacity);
    Value total = m_blocks * (n_blocks * cfg.k_batch * groups);
    Value blocks = grid_dim(0), b = block_id(0);
    Value share = udiv(total, blocks), extra = urem(total, blocks);
    Value start = b * share + min(b, extra);
    Value end = start + share + select(b < extra, 1, 0);
    struct Step {
      Value item, group, bn, z, bm;
    };
    auto step_at = [&](const Value& s) {
      Value item = udiv(s, groups), rest = udiv(item, n_blocks);
      return Step{item, urem(s, groups), urem(item, n_blocks), urem(rest, cfg.k_batch), udiv(rest, cfg.k_batch)};
    };
    auto first_chunk = [&](const Step& st) { return st.z * chunks_per_slice + st.group * unroll; };
    auto row_indices = [&](const Step& st) {
      Value row0 = st.bm * cfg.tile_m;
      return lane_rows([&](Value r) { return a_row_index(row0, r); });
    };
    auto rows_of = [&](const std::vector<Value>& idx) {
      std::vector<Ptr<bf16>> flat;
      for (const Value& i : idx) flat.push_back(Ptr<bf16>(a + i * K));
      return group_rows(flat);
    };
    auto source = [&](const Value& e, const Step& st) { return weight_source(n_lane, expert_weights(e), e, st.bn); };
    if_(start < end, [&] {
      auto acc = make_acc();
      Step s0 = step_at(start);
      Slots next(load_chunks(source(sorted_experts[s0.bm], s0), kl, first_chunk(s0), unroll));
      std::vector<std::unique_ptr<Var<>>> next_rows;
      for (const Value& i : row_indices(s0)) next_rows.push_back(std::make_unique<Var<>>(i));
      // The expert of the step after the prefetched one, loaded a step early: the prefetch's
      // addresses then do not wait for it.
      Var<> e_ahead(Value(sorted_experts[step_at(min(start + 1, end - 1)).bm]));
      std::optional<Var<>> scale_max;
      if (fast) scale_max.emplace(Int(0));
      for_range(start, end, 1, [&](Value s) {
        Step cur = step_at(s);
        std::vector<Raw> current = next.get(unroll, n_tiles);
        std::vector<Value> cur_idx;
        for (auto& v : next_rows) cur_idx.push_back(v->get());
        if_(s + 1 < end, [&] {
          Step nx = step_at(s + 1);
          next.set(load_chunks(source(e_ahead, nx), kl, first_chunk(nx), unroll));
          std::vector<Value> idx = row_indices(nx);
          for (size_t i = 0; i < idx.size(); ++i) *next_rows[i] = idx[i];
          e_ahead = Value(sorted_experts[step_at(min(s + 2, end - 1)).bm]);
        });
        const ARows rows = rows_of(cur_idx);
        Value chunk = first_chunk(cur);
        for (int u = 0; u < unroll; ++u) compute(acc, kl, chunk + u, chunk, current[u], main_path, rows);
        if (fast) track_scales(*scale_max, current);
        // The item ends here (its last group, or the block's last step): its part goes out.
        auto finish_item = [&] {
          Value e = sorted_experts[cur.bm];
          // The first group of this item the block ran: mid-item only for the block's first item.
          Value part_first = select(cur.item == udiv(start, groups), urem(start, groups), 0);
          if (fast) {
            redo_if_needed(acc, *scale_max, [&] {
              WeightSource src = source(e, cur);
              for_range(cur.z * chunks_per_slice + part_first * unroll, chunk + unroll, 1,
                        [&](Value c) { compute(acc, kl, c, c, load_weights(src, kl, c), tile::Fp4Path::Software, rows); });
            });
            *scale_max = Int(0);
          }
          stage2_detail::stage2_finish<OutT>(
              cfg, c_tile, acc, m_tiles, n_tiles, wave_row0, grid.col0,
              {out, sorted_ids, sorted_weights, bias, e, tokens, cur.bm * cfg.tile_m, cur.bn, cur.z,
               (cur.z == 0) & (part_first == 0)});
          for (auto& v : acc) *v = splat(0.0f, 4);
          if (c_tile) barrier();  // the next item's accumulators reuse the tile
        };
        if (groups == 1) finish_item();
        else if_((cur.group == groups - 1) | (s + 1 == end), finish_item);
      });
    });
    return;
  }

  // One block per work item: grid (column block, sorted block, K slice).
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * cfg.tile_m;
  // The expert and the activation rows are read before the bounds check, so that the check does
  // not delay the weight loads: sorted_expert_ids has an entry per block of the grid.
  Value e = sorted_experts[bm];
  set_last_row();
  Value w_e = expert_weights(e);  // w holds the bytes as i32 words
  std::vector<Ptr<bf16>> flat_rows;
  for (const Value& p : lane_rows([&](Value r) { return a_row(row0, r); })) flat_rows.push_back(Ptr<bf16>(p));
  const ARows a_rows = group_rows(flat_rows);
  // With shared activations each thread stages units tid + 256 j (t fastest, then q, c, g, mt):
  // 8 activations of rows 16 mt + g and + 8 each.
  const int units = cfg.tile_m * chunks_per_slice * 8;  // a multiple of 128
  const int units_per_thread = shared_a ? (units + kStage2Threads - 1) / kStage2Threads : 0;
  std::vector<Value> unit_index;
  std::vector<std::array<Ptr<bf16>, 2>> unit_rows;
  for (int j = 0; j < units_per_thread; ++j) {
    Value p = thread_id() + j * kStage2Threads;
    Value r = udiv(p, 128 * chunks_per_slice) * 16 + urem(udiv(p, 16 * chunks_per_slice), 8);
    unit_index.push_back(p);
    unit_rows.push_back({a_row(row0, r), a_row(row0, r + 8)});
  }

  // sm_90a, l2_prefetch: the weights and scales of the block l2_prefetch places later in launch
  // order, brought into L2 while this block computes (its expert read here, with this block's).
  struct L2Prefetch {
    std::function<void()> issue;
  };
  std::optional<L2Prefetch> ahead;
  if (cfg.l2_prefetch && !amd) {
    const int n_blocks = (N + cfg.tile_n - 1) / cfg.tile_n;
    Value m_blocks = grid_dim(1);
    Value target = bn + n_blocks * (bm + m_blocks * z) + cfg.l2_prefetch;
    Value per_slice = m_blocks * n_blocks;
    Value exists = target < per_slice * cfg.k_batch;
    Value tz = udiv(target, per_slice), rest = urem(target, per_slice);
    Value tbm = select(exists, udiv(rest, n_blocks), 0), tbn = urem(rest, n_blocks);
    Value te = sorted_experts[tbm];
    ahead = L2Prefetch{[&, exists, tz, tbm, tbn, te] {
      // Threads [0, groups): a 16-row group's slice (contiguous: chunks of 1 KiB); then
      // [groups, groups + scale_groups): a 32-row group's scale words of the slice (256 bytes per 256 K).
      const int groups = cfg.tile_n / 16, scale_groups = cfg.tile_n / 32;
      Value t = thread_id();
      if_(exists & (tbm * cfg.tile_m < num_valid[0]) & (t < groups + scale_groups), [&] {
        if_(t < groups, [&] {
          Value n0 = tbn * groups + t;
          if_(n0 < N / 16, [&] {
            Value words = (n0 * (K / kStage2ChunkK) + tz * chunks_per_slice) * 256;  // i32 words
            tile::prefetch_l2(expert_weights(te) + words, chunks_per_slice * 1024);
          });
        }, [&] {
          Value n1 = tbn * scale_groups + (t - groups);
          if_(n1 < N / 32, [&] {
            // The 256-K scale blocks the slice overlaps (a 384-K slice starts or ends mid-block).
            Value k1 = udiv(tz * cfg.slice_k(), 256);
            Value k1_end = udiv((tz + 1) * cfg.slice_k() + 255, 256);
            Value s_e = w_scale + cast<int64_t>(te) * int64_t(N / 32 * K);
            tile::prefetch_l2(s_e + (n1 * (K / 256) + k1) * 256, (k1_end - k1) * 256);
          });
        });
      });
    }};
  }

  // Blocks past the sorted rows exit at once.
  if_(row0 < num_valid[0], [&] {
    const auto [n_lane, kl] = lane_n_k();
    const WeightSource src = weight_source(n_lane, w_e, e, bn);
    auto acc = make_acc();
    const Value first = z * chunks_per_slice;
    if (shared_a) a_lane = *a_tile + (udiv(wave_row0, 16) * 32 + lane) * 4;
    // Double-buffered K loop: the weights of the next `unroll` chunks are loaded into slots
    // before the current ones are decoded and multiplied. The prefetch sits under an if_ so
    // that LLVM cannot fold it back into a load at the top of the loop.
    Value end = first + chunks_per_slice;
    std::optional<Var<>> scale_max;
    if (fast) scale_max.emplace(Int(0));
    // Before this block's own loads: issued after them, the prefetch's branches kept their
    // registers live across it (101 instead of 72 registers at tile_n 128 on the H100, spills at 256).
    if (ahead) ahead->issue();
    std::vector<Raw> first_raws = load_chunks(src, kl, first, unroll);
    // The shared activations, staged while the first weights are in flight.
    auto stage_unit = [&](int j) {
      Value p = unit_index[j];
      Value t = urem(p, 4), q = urem(udiv(p, 4), 4), c = urem(udiv(p, 16), chunks_per_slice);
      Value g = urem(udiv(p, 16 * chunks_per_slice), 8), mt = udiv(p, 128 * chunks_per_slice);
      Value k = (first + c) * kStage2ChunkK + t * 32 + q * 8;
      Value r0 = bitcast(k_order(load(unit_rows[j][0] + k, 8)), kV4I32);
      Value r1 = bitcast(k_order(load(unit_rows[j][1] + k, 8)), kV4I32);
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
    if (shared_a) barrier();
    Slots next(first_raws);
    for_range(first, end, unroll, [&](Value c0) {
      std::vector<Raw> current = next.get(unroll, n_tiles);
      if_(c0 + unroll < end, [&] { next.set(load_chunks(src, kl, c0 + unroll, unroll)); });
      for (int u = 0; u < unroll; ++u) compute(acc, kl, c0 + u, first, current[u], main_path, a_rows);
      if (fast) track_scales(*scale_max, current);
    });
    if (fast)
      redo_if_needed(acc, *scale_max, [&] {
        for_range(first, end, 1, [&](Value c) {
          compute(acc, kl, c, first, load_weights(src, kl, c), tile::Fp4Path::Software, a_rows);
        });
      });

    stage2_detail::stage2_finish<OutT>(cfg, c_tile, acc, m_tiles, n_tiles, wave_row0, grid.col0,
                                       {out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z});
  });
}

template <class OutT>
KernelDef define(const MoeStage2Config& cfg) {
  KernelOptions opts;
  opts.block = {uint32_t(kStage2Threads), 1, 1};
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
        if (cfg.wgmma_rs && wave_size() == 32)  // validate(): wgmma_rs implies wgmma and shared_mainloop
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
  config.validate();
  return define_once(config.kernel_name(),
                     [&] { return config.out_dtype == OutDtype::F32 ? define<float>(config) : define<bf16>(config); });
}

}  // namespace tilejit::kernels
