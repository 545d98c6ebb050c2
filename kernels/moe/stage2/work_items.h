// The work items of a persistent stage-2 grid (MoeStage2Config::persistent_grid()).
#pragma once
#include <functional>

#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// Calls body(bn, bm, z) for this block's work items: the items of the plain grid (column blocks
/// fastest, then the valid row blocks, then the K slices), from the block's index in steps of the
/// grid. Every thread that calls it walks the same items.
inline void for_each_work_item(const MoeStage2Config& cfg, const dsl::Ptr<int32_t>& num_valid,
                               const std::function<void(const dsl::Value&, const dsl::Value&, const dsl::Value&)>& body) {
  using namespace dsl;
  const int col_blocks = (cfg.model_dim + cfg.tile_n - 1) / cfg.tile_n;
  const Value row_blocks = udiv(num_valid[0] + (cfg.tile_m - 1), cfg.tile_m);
  const Value items = row_blocks * (col_blocks * cfg.k_batch);
  for_range(block_id(0), items, grid_dim(0), [&](Value i) {
    body(urem(i, col_blocks), urem(udiv(i, col_blocks), row_blocks), udiv(i, row_blocks * col_blocks));
  });
}

}  // namespace tilejit::kernels::stage2_detail
