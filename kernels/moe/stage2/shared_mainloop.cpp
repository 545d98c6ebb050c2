// The stage-2 main loop for many rows per expert: the block's activation rows are gathered into a
// swizzled shared tile (cp.async on sm_90a; loads + LDS stores on gfx950) and its weights decoded
// once per block into another, so that every wave reads its MMA operands from shared memory
// (ldmatrix / ds_read_b128) instead of re-reading activations and re-decoding weights per wave.
//
// Per 64-K step (operands staged as staged_operands.h describes): the waves form a warps_m x
// (waves / warps_m) grid over the tile, each with (tile_m / warps_m / 16) x (its columns / mma_n)
// MMA tiles reading their operands from the stages with ldmatrix / ds_read_b128; one barrier per
// step publishes step kt (A landed, B stored) and frees the stages of kt - 1. The accumulators
// then go through the common epilogue.
#include "kernels/moe/stage2/mainloops.h"

#include "dsl/tile/intrinsics.h"
#include "dsl/tile/shared_tile.h"
#include "kernels/moe/stage2/epilogue.h"
#include "kernels/moe/stage2/staged_operands.h"
#include "kernels/moe/stage2/wave_grid.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

template <class OutT>
void stage2_shared_body(const MoeStage2Config& cfg, const Stage2Params<OutT>& params) {
  const auto& [out, a, w, w_scale, sorted_ids, sorted_weights, sorted_experts, num_valid, bias, tokens] = params;
  const WaveGrid grid(cfg);
  const int mma_k = grid.amd ? 32 : 16, m_tiles = grid.m_tiles, n_tiles = grid.n_tiles;
  Value bn = block_id(0), bm = block_id(1), z = block_id(2);
  Value row0 = bm * cfg.tile_m;
  Value e = sorted_experts[bm];
  StagedOperands ops(cfg, cfg.tile_m, a, w, w_scale, sorted_ids, e, row0, bn, z, tokens);
  const std::optional<SharedPtr<float>> c_tile = epilogue_tile(cfg);
  const int a_stages = StagedOperands::kAStages, b_stages = StagedOperands::kBStages;

  if_(row0 < num_valid[0], [&] {
    std::vector<std::unique_ptr<Var<>>> acc;
    for (int i = 0; i < m_tiles * n_tiles; ++i) acc.push_back(std::make_unique<Var<>>(splat(0.0f, 4)));
    ops.prologue();
    ops.for_steps([&](const Value& kt, int u) {
      tile::copy_wait(a_stages - 2);  // A step kt has landed (this thread's copies) ...
      barrier();                      // ... everyone's, B step kt is stored, stages of kt - 1 are free
      tile::TileCopy next_a = ops.copy_a_ahead(kt);
      Value sa = urem(kt, a_stages), sb = urem(kt, b_stages);
      for (int k0 = 0; k0 < StagedOperands::kStepK; k0 += mma_k) {
        std::vector<Value> af, bf = tile::load_b_fragments(ops.b_tile(), sb, grid.col0, k0, n_tiles);
        for (int mt = 0; mt < m_tiles; ++mt) af.push_back(tile::load_a_fragment(ops.a_tile(), sa, grid.row0 + 16 * mt, k0));
        for (int mt = 0; mt < m_tiles; ++mt)
          for (int j = 0; j < n_tiles; ++j) {
            Var<>& v = *acc[mt * n_tiles + j];
            v = tile::mma(af[mt], bf[j], v);
          }
      }
      ops.stage_next_b(kt, u);
      tile::copy_end(next_a);
      tile::copy_commit();
    });
    tile::copy_wait(0);  // no copy outlives the kernel (the trailing ones re-read the last step)

    stage2_finish<OutT>(cfg, c_tile, acc, m_tiles, n_tiles, grid.row0, grid.col0,
                        {out, sorted_ids, sorted_weights, bias, e, tokens, row0, bn, z});
  });
}

template void stage2_shared_body<float>(const MoeStage2Config&, const Stage2Params<float>&);
template void stage2_shared_body<bf16>(const MoeStage2Config&, const Stage2Params<bf16>&);

}  // namespace tilejit::kernels::stage2_detail
