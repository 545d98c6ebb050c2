// The register main loop's weights through the copy engine (sm_90a, MoeStage2Config::bulk_weights):
// thread 0 copies the block's whole weight slice (its tile_n rows x the K slice: codes and scales)
// into shared memory with bulk copies at the start, the threads wait for it once and then read their
// words from there instead of from global memory; the loop, the decode and the MMAs are unchanged.
#pragma once
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

class BulkWeightSlice {
 public:
  /// Allocates the slabs and the mbarrier for the slice of rows [row0, row0 + tile_n) x 32-K blocks
  /// [kb0, kb0 + slice_k / 32) (at the kernel's top level: every thread).
  BulkWeightSlice(const MoeStage2Config& cfg, const dsl::Value& row0, const dsl::Value& kb0);
  /// Thread 0 (call under its branch): initialises the mbarrier and copies the slice of one expert,
  /// `w_e` its codes (i32 words) and `s_e` its scales in the preshuffled layouts. Other threads may
  /// call wait() only after a block barrier that follows this.
  void issue(const dsl::Value& w_e, const dsl::Value& s_e) const;
  /// Every thread: returns once the slice has landed.
  void wait() const;
  /// The codes (<4 x i32>) of row n, 32-K block kb (global indices inside the slice).
  dsl::Value codes(const dsl::Value& n, const dsl::Value& kb) const;
  /// load_mxfp4_scale_word()'s word for row n, block kb: the scales of rows {n, n ^ 16} x blocks {kb, kb ^ 4}.
  dsl::Value scale_word(const dsl::Value& n, const dsl::Value& kb) const;

 private:
  int blocks_;  // 32-K blocks of the slice
  int tile_n_, k_;
  dsl::Value row0_, kb0_;
  dsl::SharedPtr<int32_t> codes_;
  dsl::SharedPtr<uint8_t> scales_;
  dsl::SharedPtr<int64_t> bar_;
};

}  // namespace tilejit::kernels::stage2_detail
