// The stage-2 main loop for many rows per expert: the block's activation rows are gathered into a
// swizzled shared tile (cp.async on sm_90a; loads + LDS stores on gfx950) and its weights decoded
// once per block into another, so that every wave reads its MMA operands from shared memory
// (ldmatrix / ds_read_b128) instead of re-reading activations and re-decoding weights per wave.
//
// Per 64-K step (four A stages, two B stages):
//  - A: tile_m rows x 64 K, each thread one 16-byte chunk of tile_m / 32 rows (tile::copy_rows_begin),
//    issued three steps ahead;
//  - B: tile_n rows x 64 K = tile_n x 2 preshuffled 16-byte blocks; thread p loads block
//    (row (p / 32) * 16 + p % 16, half (p / 16) % 2), so a warp reads 512 contiguous bytes. The
//    raw words are loaded four steps ahead into register slots (the loop unrolled four times, each
//    slot reloaded in place), decoded (natural K order, scale applied) after the current step's
//    MMAs and stored into the other B stage;
//  - the waves form a warps_m x (waves / warps_m) grid over the tile, each with
//    (tile_m / warps_m / 16) x (its columns / mma_n) MMA tiles;
//  - one barrier per step publishes step kt (A landed, B stored) and frees the stages of kt - 1.
// The accumulators then go through the f32 shared tile to the common epilogue.
#include "kernels/moe/stage2/shared_mainloop.h"

#include "dsl/tile/intrinsics.h"
#include "dsl/tile/mxfp4.h"
#include "dsl/tile/shared_tile.h"
#include "kernels/moe/stage2/epilogue.h"
#include "kernels/moe/stage2/wave_grid.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

namespace {
constexpr int kStepK = 64;    // K per pipeline step (two 32-K scale blocks)
constexpr int kAStages = 4;   // A copies run kAStages - 1 steps ahead
constexpr int kBStages = 2;
constexpr int kBAhead = 4;    // raw weight words in registers for steps kt + 1 .. kt + kBAhead (2 when 4 does not divide the steps)
}  // namespace

template <class OutT>
void stage2_shared_body(const MoeStage2Config& cfg, Ptr<OutT> out, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale,
                        Ptr<int32_t> sorted_ids, Ptr<float> sorted_weights, Ptr<int32_t> sorted_experts,
                        Ptr<int32_t> num_valid, Ptr<float> bias, Int tokens) {
  const WaveGrid grid(cfg);
  const int mma_k = grid.amd ? 32 : 16, m_tiles = grid.m_tiles, n_tiles = grid.n_tiles;
  const int N = cfg.model_dim, K = cfg.inter_dim;
  const int steps = cfg.slice_k() / kStepK;
  const int b_parts = cfg.tile_n * 2 / kStage2Threads;  // 16-byte weight blocks per thread and step

  const tile::SharedTile ta = tile::make_shared_tile(cfg.tile_m, kStepK, kAStages);
  const tile::SharedTile tb = tile::make_shared_tile(cfg.tile_n, kStepK, kBStages);
  const std::optional<SharedPtr<float>> c_tile = epilogue_tile(cfg);

  Value tid = thread_id();
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * cfg.tile_m;
  Value e = sorted_experts[bm];
  // Row indices are clamped to the sorting's capacity for the last, partial block (moe-stage2.md);
  // padding rows read activation row 0 and are masked in the epilogue.
  Value last_row = tokens * cfg.topk + (cfg.experts * cfg.tile_m - cfg.topk - 1);
  std::vector<Value> a_src;
  for (const Value& r : tile::copy_rows_of_thread(ta, kStage2Threads)) {
    Value id = sorted_ids[min(row0 + r, last_row)];
    Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
    Value arow = select(tok < tokens, tok * cfg.topk + slot, 0);
    a_src.push_back(Value(a + cast<int64_t>(arow) * int64_t(K)));
  }
  Value w_e = w + cast<int64_t>(e) * (int64_t(N) * K / 8);     // N*K/2 bytes per expert, as i32 words
  Value s_e = w_scale + cast<int64_t>(e) * int64_t(N / 32 * K);  // N*K/32 scale bytes per expert
  Value k_first = z * cfg.slice_k();
  Value kb_first = udiv(k_first, 32);
  const bool rows_checked = N % cfg.tile_n != 0;

  // This thread's weight blocks: local row and half (32-K block within the step).
  std::vector<Value> b_row, b_half;
  for (int i = 0; i < b_parts; ++i) {
    Value p = tid + i * kStage2Threads;
    b_row.push_back(udiv(p, 32) * 16 + urem(p, 16));
    b_half.push_back(urem(udiv(p, 16), 2));
  }
  auto load_b = [&](const Value& step) {
    std::vector<Value> raw;
    for (int i = 0; i < b_parts; ++i) {
      tile::Mxfp4Fragment f = tile::load_b_mxfp4(w_e, s_e, bn * cfg.tile_n + b_row[i], kb_first + step * 2 + b_half[i], N,
                                                 K, 4, 0, rows_checked, ir::CachePolicy::Stream);
      raw.push_back(f.words);
      raw.push_back(f.scale);
    }
    return raw;
  };
  auto store_b = [&](const std::vector<Value>& raw, const Value& stage) {
    for (int i = 0; i < b_parts; ++i)
      for (int q = 0; q < 4; ++q) {
        Value vals = tile::decode_fp4x8(extract(raw[2 * i], q), raw[2 * i + 1], tile::Fp4Path::Auto, tile::Fp4Order::Natural);
        store(tb.chunk_address(stage, b_row[i], b_half[i] * 4 + q), vals);
      }
  };
  auto copy_a = [&](const Value& step, const Value& stage) {
    return tile::copy_rows_begin(ta, stage, a_src, k_first + step * kStepK, kStage2Threads);
  };

  if_(row0 < num_valid[0], [&] {
    std::vector<std::unique_ptr<Var<>>> acc;
    for (int i = 0; i < m_tiles * n_tiles; ++i) acc.push_back(std::make_unique<Var<>>(splat(0.0f, 4)));

    // Prologue: A steps 0 .. kAStages - 2 in flight, B step 0 in its stage, B steps 1 .. ahead in
    // the register slots.
    for (int p = 0; p < kAStages - 1; ++p) {
      tile::copy_end(copy_a(Int(std::min(p, steps - 1)), Int(p)));
      tile::copy_commit();
    }
    store_b(load_b(Int(0)), Int(0));
    const int ahead = steps % kBAhead == 0 ? kBAhead : 2;  // steps is even (slices of 128 K)
    std::vector<std::vector<std::unique_ptr<Var<>>>> slots(ahead);  // slot j: step j + 1 (mod ahead)
    for (int j = 0; j < ahead; ++j)
      for (const Value& v : load_b(Int(std::min(j + 1, steps - 1)))) slots[j].push_back(std::make_unique<Var<>>(v));

    // One step; u = kt % ahead is static, so slot u is decoded and then reloaded in place (a ring
    // that shifts its registers makes a step wait for the load it just issued).
    auto step = [&](const Value& kt, int u) {
      tile::copy_wait(kAStages - 2);  // A step kt has landed (this thread's copies) ...
      barrier();                      // ... everyone's, B step kt is stored, stages of kt - 1 are free
      tile::TileCopy next_a = copy_a(min(kt + (kAStages - 1), steps - 1), urem(kt + (kAStages - 1), kAStages));
      Value sa = urem(kt, kAStages), sb = urem(kt, kBStages);
      for (int k0 = 0; k0 < kStepK; k0 += mma_k) {
        std::vector<Value> af, bf = tile::load_b_fragments(tb, sb, grid.col0, k0, n_tiles);
        for (int mt = 0; mt < m_tiles; ++mt) af.push_back(tile::load_a_fragment(ta, sa, grid.row0 + 16 * mt, k0));
        for (int mt = 0; mt < m_tiles; ++mt)
          for (int j = 0; j < n_tiles; ++j) {
            Var<>& v = *acc[mt * n_tiles + j];
            v = tile::mma(af[mt], bf[j], v);
          }
      }
      std::vector<Value> raw;  // B step kt + 1
      for (auto& v : slots[u]) raw.push_back(v->get());
      store_b(raw, urem(kt + 1, kBStages));
      std::vector<Value> fetched = load_b(min(kt + (ahead + 1), steps - 1));
      for (size_t i = 0; i < fetched.size(); ++i) *slots[u][i] = fetched[i];
      tile::copy_end(next_a);
      tile::copy_commit();
    };
    for_range(0, steps, ahead, [&](Value kt0) {
      for (int u = 0; u < ahead; ++u) step(kt0 + u, u);
    });
    tile::copy_wait(0);  // no copy outlives the kernel (the trailing ones re-read the last step)

    stage2_finish<OutT>(cfg, c_tile, acc, m_tiles, n_tiles, grid.row0, grid.col0,
                        {out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z});
  });
}

template void stage2_shared_body<float>(const MoeStage2Config&, Ptr<float>, Ptr<bf16>, Ptr<int32_t>, Ptr<uint8_t>,
                                        Ptr<int32_t>, Ptr<float>, Ptr<int32_t>, Ptr<int32_t>, Ptr<float>, Int);
template void stage2_shared_body<bf16>(const MoeStage2Config&, Ptr<bf16>, Ptr<bf16>, Ptr<int32_t>, Ptr<uint8_t>,
                                       Ptr<int32_t>, Ptr<float>, Ptr<int32_t>, Ptr<int32_t>, Ptr<float>, Int);

}  // namespace tilejit::kernels::stage2_detail
