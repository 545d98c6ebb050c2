// The stage-2 main loop with wgmma (sm_90a, config.wgmma): the block's two warpgroups (warps
// 4g .. 4g + 3) split a 64-row tile by columns (tile_m 64: group g owns columns g * tile_n / 2 ..)
// or a 128-row tile by rows (tile_m 128: group g owns rows 64 g .., all tile_n columns), each with
// one m64nNk16 accumulator; warp q of a group holds its rows 16 q .. 16 q + 15 in the mma.sync C
// layout, so the common epilogue writes it as N / 8 column tiles. 128 rows decode each weight
// tile for twice the rows (the decode is per block, the multiply per row).
//
// Per 64-K step (operands staged as staged_operands.h describes, in 64-column tiles whose XOR
// swizzle is wgmma's 128-byte swizzle; with a no-swizzle core-matrix layout this loop measured
// 1.3-4.5x slower on the H100): each thread publishes its writes of step kt to wgmma
// (fence.proxy.async), one barrier, then the four k16 wgmmas of step kt are issued and run while
// the threads decode B of step kt + 1 into the other stage and start A of kt + 3; wait_group 0
// ends the step, so at the next barrier no wgmma reads a stage that is about to be written.
#include "kernels/moe/stage2/mainloops.h"

#include "dsl/tile/intrinsics.h"
#include "dsl/tile/shared_tile.h"
#include "kernels/moe/stage2/epilogue.h"
#include "kernels/moe/stage2/staged_operands.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

namespace {
constexpr int kGroupRows = 64;  // wgmma's M
}  // namespace

template <class OutT>
void stage2_wgmma_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params) {
  const auto& [out, a, w, w_scale, sorted_ids, sorted_weights, sorted_experts, num_valid, bias, tokens] = params;
  const int groups_n = 2 / (cfg.tile_m / kGroupRows);  // warpgroups along the columns: 2 or 1
  const int group_n = cfg.tile_n / groups_n;            // columns per warpgroup (wgmma N)
  Value tid = thread_id();
  Value warp = udiv(tid, 32), group = udiv(tid, 128);
  Value group_row0 = udiv(group, groups_n) * kGroupRows, group_col0 = urem(group, groups_n) * group_n;
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * cfg.tile_m;
  Value e = sorted_experts[bm];
  StagedOperands ops(cfg, cfg.tile_m, a, w, w_scale, sorted_ids, e, row0, bn, z, tokens);
  const std::optional<SharedPtr<float>> c_tile = epilogue_tile(cfg);
  const tile::SharedTile& ta = ops.a_tile();
  const tile::SharedTile& tb = ops.b_tile();

  if_(row0 < num_valid[0], [&] {
    Var<> acc(splat(0.0f, group_n / 2));
    ops.prologue();
    ops.for_steps([&](const Value& kt, int u) {
      tile::copy_wait(StagedOperands::kAStages - 2);  // A step kt has landed (this thread's copies)
      tile::fence_proxy_async();  // this thread's A and B writes of step kt, for wgmma
      barrier();                  // everyone's; no wgmma of step kt - 1 is still reading
      Value sa = urem(kt, StagedOperands::kAStages), sb = urem(kt, StagedOperands::kBStages);
      tile::wgmma_fence();
      Value d = acc;
      for (int k0 = 0; k0 < StagedOperands::kStepK; k0 += 16)
        d = tile::wgmma(tile::wgmma_operand(ta, sa, group_row0, k0), tile::wgmma_operand(tb, sb, group_col0, k0), d,
                        tile::wgmma_layout(ta));
      tile::wgmma_commit();
      ops.stage_next_b(kt, u);  // runs while the wgmmas do
      tile::copy_end(ops.copy_a_ahead(kt));
      tile::copy_commit();
      acc = tile::wgmma_wait(d, 0);
    });
    tile::copy_wait(0);  // no copy outlives the kernel (the trailing ones re-read the last step)

    // The accumulator as the epilogue's column tiles: elements 4 j .. 4 j + 3 are columns 8 j .. of
    // rows 16 q + lane / 4 (+ 8) of warp q in the group, the mma.sync C layout.
    const int n_tiles = group_n / 8;
    std::vector<std::unique_ptr<Var<>>> tiles;
    Value all = acc;
    for (int j = 0; j < n_tiles; ++j)
      tiles.push_back(std::make_unique<Var<>>(
          make_vector({extract(all, 4 * j), extract(all, 4 * j + 1), extract(all, 4 * j + 2), extract(all, 4 * j + 3)})));
    stage2_finish<OutT>(cfg, c_tile, tiles, 1, n_tiles, group_row0 + urem(warp, 4) * 16, group_col0,
                        {out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z});
  });
}

template void stage2_wgmma_body<float>(const MoeStage2Config&, const Stage2Params<float>&);
template void stage2_wgmma_body<bf16>(const MoeStage2Config&, const Stage2Params<bf16>&);

}  // namespace tilejit::kernels::stage2_detail
