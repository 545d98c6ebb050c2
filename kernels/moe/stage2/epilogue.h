// The stage-2 epilogue both main loops share: the block's f32 tile (in shared memory) to the
// output, with bias, routing weight and bf16x2 / f32 atomics or plain stores.
#pragma once
#include <memory>
#include <type_traits>
#include <vector>

#include "dsl/tile/layout.h"
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// Threads of a stage-2 block (both targets).
inline constexpr int kThreads = kStage2Threads;

/// Stores this wave's accumulators into c_tile (tile_m x tile_n f32) through the MMA's C layout:
/// acc[mt * n_tiles + j] is the MMA tile at rows row0 + 16 mt, columns col0 + j * mma_n of the
/// block tile. Then one barrier, so that stage2_epilogue sees the whole tile.
inline void accumulators_to_tile(const MoeStage2Config& cfg, dsl::SharedPtr<float> c_tile,
                                 const std::vector<std::unique_ptr<dsl::Var<>>>& acc, int m_tiles, int n_tiles,
                                 const dsl::Value& row0, const dsl::Value& col0) {
  using namespace dsl;
  const tile::MmaLayout& layout = tile::target_mma_layout();
  const int mma_n = wave_size() == 64 ? 16 : 8;
  Value lane = lane_id();
  for (int mt = 0; mt < m_tiles; ++mt)
    for (int j = 0; j < n_tiles; ++j) {
      Value v = *acc[size_t(mt * n_tiles + j)];
      for (int i = 0; i < 4; ++i) {
        Value m = row0 + layout.c.row.emit(lane, i) + 16 * mt;
        Value n = layout.c.col.emit(lane, i) + col0 + j * mma_n;
        c_tile[m * cfg.tile_n + n] = extract(v, i);
      }
    }
  barrier();
}

/// Writes c_tile (tile_m x tile_n f32, row-major; complete: the caller has passed a barrier) for
/// block row0 (expert e, column block bn, K slice z): column pairs over all threads, bias once
/// (slice 0), the routing weight, then atomics into out[token] (accumulate) or stores into
/// out[token * topk + slot]. Padding rows and columns past N write nothing.
template <class OutT>
void stage2_epilogue(const MoeStage2Config& cfg, dsl::SharedPtr<float> c_tile, dsl::Ptr<OutT> out,
                     dsl::Ptr<int32_t> sorted_ids, dsl::Ptr<float> sorted_weights, dsl::Ptr<float> bias,
                     const dsl::Value& e, const dsl::Value& tokens, const dsl::Value& row0, const dsl::Value& bn,
                     const dsl::Value& z) {
  using namespace dsl;
  const int N = cfg.model_dim;
  const int pairs = cfg.tile_m * cfg.tile_n / 2;
  for_range(thread_id(), pairs, kThreads, [&](Value p) {
    Value m = udiv(p, cfg.tile_n / 2);
    Value n = urem(p, cfg.tile_n / 2) * 2;
    Value gn = bn * cfg.tile_n + n;
    Value id = sorted_ids[row0 + m];
    Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
    if_((tok < tokens) & (gn < N), [&] {
      Value v0 = c_tile[m * cfg.tile_n + n], v1 = c_tile[m * cfg.tile_n + n + 1];
      if (cfg.has_bias) {
        Value b0 = bias[e * N + gn], b1 = bias[e * N + gn + 1];
        if (cfg.k_batch > 1) {
          Value first_slice = z == 0;
          b0 = select(first_slice, b0, 0.0f);
          b1 = select(first_slice, b1, 0.0f);
        }
        v0 = v0 + b0;
        v1 = v1 + b1;
      }
      if (cfg.doweight) {
        Value wgt = sorted_weights[row0 + m];
        v0 = v0 * wgt;
        v1 = v1 * wgt;
      }
      Value out_row = cfg.accumulate ? tok : Value(tok * cfg.topk + slot);
      Value dst = out + (out_row * N + gn);
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
  });
}

}  // namespace tilejit::kernels::stage2_detail
