// How a stage-2 block's waves split its tile (both main loops): a warps_m x (waves / warps_m)
// grid, each wave owning tile_m / warps_m rows and tile_n / (waves / warps_m) columns in MMA
// tiles of the traced target.
#pragma once
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

struct WaveGrid {
  bool amd;            ///< gfx950 (wave64, 16-column MFMA) or sm_90a (warp32, 8-column mma.sync)
  int wave, mma_n;     ///< lanes per wave; columns per MMA tile
  int waves_n;         ///< waves along the columns
  int rows, cols;      ///< rows and columns of one wave's part of the tile
  int m_tiles, n_tiles;
  dsl::Value wave_n;   ///< this wave's column index in the grid
  dsl::Value row0;     ///< this wave's first row in the tile
  dsl::Value col0;     ///< this wave's first column in the tile

  explicit WaveGrid(const MoeStage2Config& cfg)
      : amd(dsl::wave_size() == 64), wave(dsl::wave_size()), mma_n(amd ? 16 : 8),
        waves_n(kStage2Threads / wave / cfg.warps_m), rows(cfg.tile_m / cfg.warps_m), cols(cfg.tile_n / waves_n),
        m_tiles(rows / 16), n_tiles(cols / mma_n) {
    dsl::Value wave_index = dsl::udiv(dsl::thread_id(), wave);
    wave_n = dsl::urem(wave_index, waves_n);
    row0 = dsl::udiv(wave_index, waves_n) * rows;
    col0 = wave_n * cols;
  }
};

}  // namespace tilejit::kernels::stage2_detail
