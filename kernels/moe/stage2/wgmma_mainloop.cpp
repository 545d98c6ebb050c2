// The stage-2 main loop with wgmma (sm_90a, config.wgmma): a block of 64 rows x tile_n columns,
// warpgroup g (warps 4g .. 4g + 3) owning columns g * tile_n / 2 .. with one m64n(tile_n / 2)k16
// accumulator; warp q of a group holds rows 16 q .. 16 q + 15 in the mma.sync C layout, so the
// common epilogue writes it as tile_n / 16 column tiles.
//
// Per 64-K step (four A stages, two B stages, both 64-column tiles of tile/shared_tile.h, whose
// XOR swizzle is wgmma's 128-byte swizzle; with the no-swizzle core-matrix layout this loop
// measured 1.2-6x slower than the mma.sync shared main loop on the H100):
//  - A: 64 rows x 8 chunks of 16 bytes gathered with cp.async (tile::copy_rows_begin), three
//    steps ahead;
//  - B: tile_n rows x 64 K = tile_n x 2 preshuffled 16-byte blocks; thread p loads block (row
//    (p / 32) * 16 + p % 16, half (p / 16) % 2) four steps ahead into register slots (the loop is
//    unrolled four times so that each slot is reloaded in place: a ring that shifts its registers
//    made every step wait for the load just issued, 3.5x slower on the H100), decodes it exactly
//    (natural K order, scale applied) and stores its four 8-K chunks;
//  - each thread publishes its writes of step kt to wgmma (fence.proxy.async), one barrier, then
//    the four k16 wgmmas of step kt are issued and run while the threads decode B of step kt + 1
//    into the other stage and start A of kt + 3; wait_group 0 ends the step, so at the next
//    barrier no wgmma reads a stage that is about to be written.
#include "kernels/moe/stage2/wgmma_mainloop.h"

#include "dsl/tile/intrinsics.h"
#include "dsl/tile/mxfp4.h"
#include "dsl/tile/shared_tile.h"
#include "kernels/moe/stage2/epilogue.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

namespace {
constexpr int kStepK = 64;   // K per pipeline step (two 32-K scale blocks)
constexpr int kAStages = 4;  // A copies run kAStages - 1 steps ahead
constexpr int kBStages = 2;
constexpr int kBAhead = 4;   // raw weight words in registers for steps kt + 1 .. kt + kBAhead (2 when 4 does not divide the steps)
constexpr int kRows = 64;    // wgmma's M: the block's rows
}  // namespace

template <class OutT>
void stage2_wgmma_body(const MoeStage2Config& cfg, Ptr<OutT> out, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale,
                       Ptr<int32_t> sorted_ids, Ptr<float> sorted_weights, Ptr<int32_t> sorted_experts,
                       Ptr<int32_t> num_valid, Ptr<float> bias, Int tokens) {
  const int N = cfg.model_dim, K = cfg.inter_dim;
  const int steps = cfg.slice_k() / kStepK;
  const int group_n = cfg.tile_n / 2;                   // columns per warpgroup (wgmma N)
  const int b_parts = cfg.tile_n * 2 / kStage2Threads;  // 16-byte weight blocks per thread and step

  // 64-column swizzled tiles: wgmma's 128-byte swizzle. Both are allocated first, in whole KiB,
  // so every 8-row group starts at a multiple of 1024 bytes as the swizzle needs.
  const tile::SharedTile ta = tile::make_shared_tile(kRows, kStepK, kAStages);
  const tile::SharedTile tb = tile::make_shared_tile(cfg.tile_n, kStepK, kBStages);
  const std::optional<SharedPtr<float>> c_tile = epilogue_tile(cfg);

  Value tid = thread_id();
  Value warp = udiv(tid, 32), group = udiv(tid, 128);
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * kRows;
  Value e = sorted_experts[bm];
  // Row indices are clamped to the sorting's capacity for the last, partial block (moe-stage2.md);
  // padding rows read activation row 0 and are masked in the epilogue.
  Value last_row = tokens * cfg.topk + (cfg.experts * kRows - cfg.topk - 1);
  std::vector<Value> a_src;
  for (const Value& r : tile::copy_rows_of_thread(ta, kStage2Threads)) {
    Value id = sorted_ids[min(row0 + r, last_row)];
    Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
    a_src.push_back(Value(a + cast<int64_t>(select(tok < tokens, tok * cfg.topk + slot, 0)) * int64_t(K)));
  }
  Value w_e = w + cast<int64_t>(e) * (int64_t(N) * K / 8);     // N*K/2 bytes per expert, as i32 words
  Value s_e = w_scale + cast<int64_t>(e) * int64_t(N / 32 * K);  // N*K/32 scale bytes per expert
  Value k_first = z * cfg.slice_k();
  Value kb_first = udiv(k_first, 32);
  const bool rows_checked = N % cfg.tile_n != 0;

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
    tile::copy_end(tile::copy_rows_begin(ta, stage, a_src, k_first + step * kStepK, kStage2Threads));
  };

  if_(row0 < num_valid[0], [&] {
    Var<> acc(splat(0.0f, group_n / 2));
    // Prologue: A steps 0 .. kAStages - 2 in flight, B step 0 in its stage, B steps 1 .. ahead in
    // the register slots (slot j holds the step j + 1 (mod ahead) the loop decodes next).
    for (int p = 0; p < kAStages - 1; ++p) {
      copy_a(Int(std::min(p, steps - 1)), Int(p));
      tile::cp_async_commit();
    }
    store_b(load_b(Int(0)), Int(0));
    const int ahead = steps % kBAhead == 0 ? kBAhead : 2;  // steps is even (slices of 128 K)
    std::vector<std::vector<std::unique_ptr<Var<>>>> slots(ahead);
    for (int j = 0; j < ahead; ++j)
      for (const Value& v : load_b(Int(std::min(j + 1, steps - 1)))) slots[j].push_back(std::make_unique<Var<>>(v));

    // One step; u = kt % ahead is static, so slot u is decoded and then reloaded in place: the
    // fresh load is never moved (a register move would wait for it), and no slot rotates.
    auto step = [&](const Value& kt, int u) {
      tile::cp_async_wait(kAStages - 2);  // A step kt has landed (this thread's copies)
      tile::fence_proxy_async();          // this thread's A and B writes of step kt, for wgmma
      barrier();                          // everyone's; no wgmma of step kt - 1 is still reading
      Value sa = urem(kt, kAStages), sb = urem(kt, kBStages);
      tile::wgmma_fence();
      Value d = acc;
      for (int k0 = 0; k0 < kStepK; k0 += 16)
        d = tile::wgmma(tile::wgmma_operand(ta, sa, Int(0), k0), tile::wgmma_operand(tb, sb, group * group_n, k0), d,
                        tile::wgmma_layout(ta));
      tile::wgmma_commit();

      std::vector<Value> raw;  // B step kt + 1
      for (auto& v : slots[u]) raw.push_back(v->get());
      store_b(raw, urem(kt + 1, kBStages));
      std::vector<Value> fetched = load_b(min(kt + (ahead + 1), steps - 1));
      for (size_t i = 0; i < fetched.size(); ++i) *slots[u][i] = fetched[i];
      copy_a(min(kt + (kAStages - 1), steps - 1), urem(kt + (kAStages - 1), kAStages));
      tile::cp_async_commit();
      acc = tile::wgmma_wait(d, 0);
    };
    for_range(0, steps, ahead, [&](Value kt0) {
      for (int u = 0; u < ahead; ++u) step(kt0 + u, u);
    });
    tile::cp_async_wait(0);  // no copy outlives the kernel (the trailing ones re-read the last step)

    // The accumulator as the epilogue's column tiles: elements 4 j .. 4 j + 3 are columns 8 j .. of
    // rows 16 q + lane / 4 (+ 8) of warp q in the group, the mma.sync C layout.
    const int n_tiles = group_n / 8;
    std::vector<std::unique_ptr<Var<>>> tiles;
    Value all = acc;
    for (int j = 0; j < n_tiles; ++j)
      tiles.push_back(std::make_unique<Var<>>(
          make_vector({extract(all, 4 * j), extract(all, 4 * j + 1), extract(all, 4 * j + 2), extract(all, 4 * j + 3)})));
    stage2_finish<OutT>(cfg, c_tile, tiles, 1, n_tiles, urem(warp, 4) * 16, group * group_n,
                        {out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z});
  });
}

template void stage2_wgmma_body<float>(const MoeStage2Config&, Ptr<float>, Ptr<bf16>, Ptr<int32_t>, Ptr<uint8_t>,
                                       Ptr<int32_t>, Ptr<float>, Ptr<int32_t>, Ptr<int32_t>, Ptr<float>, Int);
template void stage2_wgmma_body<bf16>(const MoeStage2Config&, Ptr<bf16>, Ptr<bf16>, Ptr<int32_t>, Ptr<uint8_t>,
                                      Ptr<int32_t>, Ptr<float>, Ptr<int32_t>, Ptr<int32_t>, Ptr<float>, Int);

}  // namespace tilejit::kernels::stage2_detail
