// The operands of the wgmma_rs main loops (sm_90a; wgmma_rs_mainloop.cpp, wgmma_rs_ws_mainloop.cpp):
// per 64-K step a ring of stages in shared memory holding the block's activation rows (wgmma's B
// operand, K-permuted for the Split-order decode), the raw preshuffled weight bytes and their
// scales, copied by `copiers` threads; and the decode of a stage into a consumer warpgroup's wgmma
// A fragments. Layouts and the K permutation: wgmma_rs_mainloop.cpp's header.
#pragma once
#include <vector>

#include "dsl/tile/shared_tile.h"
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// Rows of one m64 wgmma tile (wgmma's M), the K of one step, and the activation rows one wgmma
/// takes at most (its N): tile_m rows go to wgmma in chunks of 64, the last one shorter (96: 64 + 32).
inline constexpr int kRsGroupRows = 64;
inline constexpr int kRsStepK = 64;
inline constexpr int kRsMaxChunkRows = 64;

class RsOperands {
 public:
  /// Allocates `stages` stages (at the kernel's top level). Thread `copier` (0 .. copiers - 1) is
  /// this thread's index among the threads that copy; `group`, `q`, `g`, `t` place a consumer lane
  /// (warpgroup, warp in it, lane / 4, lane % 4) for decode_step().
  RsOperands(const MoeStage2Config& cfg, int stages, int copiers, const dsl::Value& copier, dsl::Ptr<bf16> a,
             dsl::Ptr<int32_t> w, dsl::Ptr<uint8_t> w_scale, dsl::Ptr<int32_t> sorted_ids, const dsl::Value& tokens,
             const dsl::Value& group, const dsl::Value& q, const dsl::Value& g, const dsl::Value& t);
  /// The work item the methods below address: rows row0 .. of expert `e`, column block `bn`, K
  /// slice `z` (a copier reads the sorted ids of its activation rows here). Call it before them,
  /// once per item.
  void set_item(const dsl::Value& e, const dsl::Value& row0, const dsl::Value& bn, const dsl::Value& z);

  /// 64-K steps of the slice.
  int steps() const;
  /// The activation tile (stages of tile_m x 64 bf16), wgmma's B operand.
  const tile::SharedTile& activations() const { return ta_; }

  /// Copier: the natural 16-byte activation chunks of step `step` this thread stores, loaded into
  /// registers (one step ahead of the store: the permutation is too fine for cp.async).
  std::vector<dsl::Value> load_activations(const dsl::Value& step) const;
  /// Copier: stores load_activations()' chunks into stage `stage` in the decode's K order.
  void store_activations(const std::vector<dsl::Value>& chunks, const dsl::Value& stage) const;
  /// Copier: cp.async copies of step `step`'s raw weights and scales into stage `stage` (rows past
  /// N read zeros; the caller commits them).
  void copy_weights(const dsl::Value& step, const dsl::Value& stage) const;
  /// Consumer lane: the A fragments of step `step` from stage `stage`, per m64 tile of its
  /// warpgroup four k16 steps of <8 x bf16>; the one-multiply decode where this lane's scales of the
  /// step allow it (cfg.small_scale_decode), the exact one otherwise.
  std::vector<dsl::Value> decode_step(const dsl::Value& step, const dsl::Value& stage) const;
  /// Consumer lane: the block-tile column (weight row) of m64 tile j, fragment half h.
  dsl::Value row_of(int j, int h) const;

 private:
  const MoeStage2Config& cfg_;
  int stages_, copiers_, tiles_;
  dsl::Value copier_, group_, q_, g_, t_;
  dsl::Ptr<bf16> a_;
  dsl::Ptr<int32_t> w_;
  dsl::Ptr<uint8_t> w_scale_;
  dsl::Ptr<int32_t> sorted_ids_;
  dsl::Value tokens_;
  tile::SharedTile ta_;
  int w_stage_, s_stage_;
  dsl::SharedPtr<int32_t> w_ring_;
  dsl::SharedPtr<uint8_t> s_ring_;
  dsl::Value k_first_, kb_first_, w_e_, s_e_, n_block_;
  dsl::SharedPtr<bf16> a_tile_;
  int passes_, run_, pass_rows_;
  std::vector<dsl::Value> a_src_;
  dsl::Value a_half_, a_dst_, a_swizzle_;
  dsl::Value w_lane_, s_lane_;
};

}  // namespace tilejit::kernels::stage2_detail
