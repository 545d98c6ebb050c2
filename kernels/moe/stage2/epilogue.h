// The stage-2 epilogue both main loops share: the wave's accumulators to the output, with bias,
// routing weight and bf16x2 / f32 atomics or plain stores.
#pragma once
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "dsl/tile/layout.h"
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// Whether the accumulators go through a shared f32 tile: always on gfx950 (a lane's C elements
/// are one column of four rows, so column pairs meet only in shared memory); on sm_90a unless
/// register_epilogue (a lane's C elements are column pairs already).
inline bool epilogue_via_tile(const MoeStage2Config& cfg) { return dsl::wave_size() == 64 || !cfg.register_epilogue; }

/// The shared tile the epilogue needs (tile_m x tile_n f32), or none; allocate at the top level.
inline std::optional<dsl::SharedPtr<float>> epilogue_tile(const MoeStage2Config& cfg) {
  if (!epilogue_via_tile(cfg)) return std::nullopt;
  return dsl::shared_array<float>(cfg.tile_m * cfg.tile_n);
}

/// The parameters and block coordinates the epilogue reads.
template <class OutT>
struct EpilogueArgs {
  dsl::Ptr<OutT> out;
  dsl::Ptr<int32_t> sorted_ids;
  dsl::Ptr<float> sorted_weights, bias;
  dsl::Value e, tokens, row0, bn, z;  // expert, token count, first sorted row, column block, K slice
};

/// One column pair (m, n) .. (m, n + 1) of the block tile with values in0, in1: bias once (slice 0),
/// the routing weight, then an atomic into out[token] (accumulate) or a store into
/// out[token * topk + slot]. Padding rows and columns past N write nothing.
template <class OutT>
void emit_pair(const MoeStage2Config& cfg, const EpilogueArgs<OutT>& a, const dsl::Value& m, const dsl::Value& n,
               const dsl::Value& in0, const dsl::Value& in1) {
  using namespace dsl;
  const int N = cfg.model_dim;
  Value gn = a.bn * cfg.tile_n + n;
  Value id = a.sorted_ids[a.row0 + m];
  Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
  if_((tok < a.tokens) & (gn < N), [&] {
    Value v0 = in0, v1 = in1;  // declared in the body: reassigned below
    if (cfg.has_bias) {
      Value b0 = a.bias[a.e * N + gn], b1 = a.bias[a.e * N + gn + 1];
      if (cfg.k_batch > 1) {
        Value first_slice = a.z == 0;
        b0 = select(first_slice, b0, 0.0f);
        b1 = select(first_slice, b1, 0.0f);
      }
      v0 = v0 + b0;
      v1 = v1 + b1;
    }
    if (cfg.doweight) {
      Value wgt = a.sorted_weights[a.row0 + m];
      v0 = v0 * wgt;
      v1 = v1 * wgt;
    }
    Value out_row = cfg.accumulate ? tok : Value(tok * cfg.topk + slot);
    Value dst = a.out + (out_row * N + gn);
    if constexpr (std::is_same_v<OutT, float>) {
      if (cfg.accumulate) {
        atomic_add(dst, v0);
        atomic_add(dst + 1, v1);
      } else {
        store(dst, make_vector({v0, v1}));
      }
    } else {
      Value pair = cast(make_vector({v0, v1}), ir::Type::vector(ir::Scalar::BF16, 2));
      if (cfg.accumulate) atomic_add(dst, pair);
      else store(dst, pair);
    }
  });
}

/// Writes this wave's accumulators: acc[mt * n_tiles + j] is the MMA tile at rows row0 + 16 mt,
/// columns col0 + j * mma_n of the block tile. Through `c_tile` (from epilogue_tile; a barrier,
/// then column pairs over all threads) or, without one, each lane's own column pairs.
template <class OutT>
void stage2_finish(const MoeStage2Config& cfg, const std::optional<dsl::SharedPtr<float>>& c_tile,
                   const std::vector<std::unique_ptr<dsl::Var<>>>& acc, int m_tiles, int n_tiles,
                   const dsl::Value& row0, const dsl::Value& col0, const EpilogueArgs<OutT>& args) {
  using namespace dsl;
  const tile::MmaLayout& layout = tile::target_mma_layout();
  const int mma_n = wave_size() == 64 ? 16 : 8;
  Value lane = lane_id();
  auto at = [&](int mt, int j, int i) {
    return std::pair{Value(row0 + layout.c.row.emit(lane, i) + 16 * mt),
                     Value(layout.c.col.emit(lane, i) + col0 + j * mma_n)};
  };
  if (!c_tile) {
    // sm_90a: elements 2h and 2h + 1 are columns 2t, 2t + 1 of one row.
    for (int mt = 0; mt < m_tiles; ++mt)
      for (int j = 0; j < n_tiles; ++j) {
        Value v = *acc[size_t(mt * n_tiles + j)];
        for (int h = 0; h < 2; ++h) {
          auto [m, n] = at(mt, j, 2 * h);
          emit_pair(cfg, args, m, n, extract(v, 2 * h), extract(v, 2 * h + 1));
        }
      }
    return;
  }
  SharedPtr<float> tile = *c_tile;
  for (int mt = 0; mt < m_tiles; ++mt)
    for (int j = 0; j < n_tiles; ++j) {
      Value v = *acc[size_t(mt * n_tiles + j)];
      for (int i = 0; i < 4; ++i) {
        auto [m, n] = at(mt, j, i);
        tile[m * cfg.tile_n + n] = extract(v, i);
      }
    }
  barrier();
  for_range(thread_id(), cfg.tile_m * cfg.tile_n / 2, kStage2Threads, [&](Value p) {
    Value m = udiv(p, cfg.tile_n / 2);
    Value n = urem(p, cfg.tile_n / 2) * 2;
    emit_pair(cfg, args, m, n, tile[m * cfg.tile_n + n], tile[m * cfg.tile_n + n + 1]);
  });
}

}  // namespace tilejit::kernels::stage2_detail
