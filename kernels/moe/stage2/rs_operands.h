// The operands of the wgmma_rs main loops (sm_90a; wgmma_rs_mainloop.cpp, wgmma_rs_ws_mainloop.cpp):
// per 64-K step a ring of stages in shared memory holding the block's activation rows (wgmma's B
// operand, K-permuted for the Split-order decode), the raw preshuffled weight bytes and their
// scales, copied by `copiers` threads; and the decode of a stage into a consumer warpgroup's wgmma
// A fragments. Layouts and the K permutation: wgmma_rs_mainloop.cpp's header.
#pragma once
#include <memory>
#include <optional>
#include <vector>

#include "dsl/tile/shared_tile.h"
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"
#include "kernels/moe/stage2/epilogue.h"

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

/// A consumer warpgroup's accumulators for one work item: per m64 tile and row chunk (tile_m rows
/// in chunks of kRsMaxChunkRows, the last one shorter), the step's wgmmas and the outputs.
class RsAccumulators {
 public:
  /// Zeroed accumulators for the item whose first row is `row0`; with two row chunks, reads
  /// whether the second starts with a real row (an expert's last block is padded at its end: a
  /// chunk that starts with padding is skipped).
  RsAccumulators(const MoeStage2Config& cfg, dsl::Ptr<int32_t> sorted_ids, const dsl::Value& tokens, const dsl::Value& row0);
  /// The wgmmas of one step on stage `stage` of `ta`, with `frags` (RsOperands::decode_step()), as
  /// one group. With two chunks, two straight-line paths (both chunks, or only the first) instead
  /// of a branch around the second chunk's wgmmas: with that branch between a fence and its
  /// commit, ptxas injects warpgroup.arrive waits ("C7519") and 96-row tiles measured 12% slower.
  void multiply(const std::vector<dsl::Value>& frags, const tile::SharedTile& ta, const dsl::Value& stage);
  /// The accumulator variables (m64 tile j, chunk c at j * chunks + c).
  std::vector<std::unique_ptr<dsl::Var<>>>& vars() { return acc_; }
  /// Writes the outputs (emit_pair) of consumer lane t = lane % 4; rows of skipped chunks are padding.
  template <class OutT>
  void store(const MoeStage2Config& cfg, const EpilogueArgs<OutT>& args, const RsOperands& ops, const dsl::Value& t) const;

 private:
  int chunk_rows(int c) const;
  int tiles_, chunks_, tile_m_;
  std::optional<dsl::Value> second_used_;
  std::vector<std::unique_ptr<dsl::Var<>>> acc_;
};

// Element i of m64 tile j, chunk c: weight row m = 16 q + g + 8 (i / 2 % 2) (column 16 q + 2 g +
// i / 2 % 2 of the group's part), activation row 64 c + 8 (i / 4) + 2 t + i % 2. Elements i and
// i + 2 are the adjacent columns of one row.
template <class OutT>
void RsAccumulators::store(const MoeStage2Config& cfg, const EpilogueArgs<OutT>& args, const RsOperands& ops,
                           const dsl::Value& t) const {
  for (int j = 0; j < tiles_; ++j)
    for (int c = 0; c < chunks_; ++c) {
      dsl::Value v = *acc_[size_t(j * chunks_ + c)];
      for (int i = 0; i < chunk_rows(c) / 2; i += 4)
        for (int b = 0; b < 2; ++b)
          emit_pair(cfg, args, t * 2 + (c * kRsMaxChunkRows + 2 * i + b), ops.row_of(j, 0), dsl::extract(v, i + b),
                    dsl::extract(v, i + b + 2));
    }
}

}  // namespace tilejit::kernels::stage2_detail
