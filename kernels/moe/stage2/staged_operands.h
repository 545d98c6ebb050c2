// What both shared-memory stage-2 main loops (shared_mainloop.cpp with mma.sync / MFMA,
// wgmma_mainloop.cpp with wgmma) stage per 64-K step, and the order in which they do it.
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "dsl/tile/shared_tile.h"
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

/// The row of the activations (i32, token * topk + slot; K wide) that sorted row `row` reads. Row
/// indices are clamped to the sorting's capacity (`block_rows` per block) for the last, partial
/// block (moe-stage2.md); padding rows read row 0 and are masked in the epilogue.
dsl::Value activation_row(const MoeStage2Config& cfg, dsl::Ptr<int32_t> sorted_ids, const dsl::Value& row,
                          const dsl::Value& tokens, int block_rows);
/// The activation row each row of `tile` that this thread copies (tile::copy_rows_of_thread with
/// kStage2Threads) reads: activation_row of sorted row row0 + r.
std::vector<dsl::Value> activation_sources(const MoeStage2Config& cfg, const tile::SharedTile& tile, dsl::Ptr<bf16> a,
                                           dsl::Ptr<int32_t> sorted_ids, const dsl::Value& row0,
                                           const dsl::Value& tokens);

/// The block's operands in shared memory, per 64-K step:
///  - A: `rows` activation rows x 64 K in four stages (64-column swizzled tiles), gathered with
///    tile::copy_rows_begin (cp.async on sm_90a) three steps ahead;
///  - B: tile_n weight rows x 64 K in two stages; thread p loads the preshuffled 16-byte block (row
///    (p / 32) * 16 + p % 16, half (p / 16) % 2) -- a warp reads 512 contiguous bytes -- into one of
///    four register slots (two when four do not divide the steps) several steps ahead, and decodes
///    it (natural K order, scale applied; on sm_90a with small_scale_decode one multiply per pair
///    where the thread's scales are at most 2^1, else two) into the next B stage. The step loop is unrolled
///    by the slot count so that slot u is decoded and reloaded in place: a ring that shifted its
///    registers made every step wait for the load it had just issued (H100).
/// Allocates both tiles (first, in whole KiB: every 8-row group 1024-byte aligned, as wgmma's
/// swizzle needs); reads the sorted row ids and the expert's pointers.
class StagedOperands {
 public:
  static constexpr int kStepK = 64;   ///< K per step (two 32-K scale blocks)
  static constexpr int kAStages = 4;  ///< A copies run kAStages - 1 steps ahead
  static constexpr int kBStages = 2;

  StagedOperands(const MoeStage2Config& cfg, int rows, dsl::Ptr<bf16> a, dsl::Ptr<int32_t> w, dsl::Ptr<uint8_t> w_scale,
                 dsl::Ptr<int32_t> sorted_ids, const dsl::Value& e, const dsl::Value& row0, const dsl::Value& bn,
                 const dsl::Value& z, const dsl::Value& tokens);

  const tile::SharedTile& a_tile() const { return ta_; }
  const tile::SharedTile& b_tile() const { return tb_; }
  int steps() const { return steps_; }

  /// A steps 0 .. kAStages - 2 copied and committed, B step 0 decoded into stage 0, the slots loaded.
  void prologue();
  /// Starts the A copy of step kt + kAStages - 1 (the last step again past the end) into its stage.
  tile::TileCopy copy_a_ahead(const dsl::Value& kt) const;
  /// Decodes B of step kt + 1 (slot u) into its stage and reloads slot u with a later step.
  void stage_next_b(const dsl::Value& kt, int u);
  /// Calls step(kt, u) for every step kt (u = kt % slots, static).
  void for_steps(const std::function<void(const dsl::Value&, int)>& step) const;

 private:
  std::vector<dsl::Value> load_b(const dsl::Value& step) const;
  void store_b(const std::vector<dsl::Value>& raw, const dsl::Value& stage) const;

  const MoeStage2Config& cfg_;
  tile::SharedTile ta_, tb_;
  int steps_, b_parts_, ahead_;
  bool rows_checked_;
  std::vector<dsl::Value> a_src_, b_row_, b_half_;
  dsl::Value w_e_, s_e_, k_first_, kb_first_, bn_;
  std::vector<std::vector<std::unique_ptr<dsl::Var<>>>> slots_;
};

}  // namespace tilejit::kernels::stage2_detail
