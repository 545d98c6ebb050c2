// The warp-specialized register loop's weight stream (MoeStage2Config::warp_specialized, sm_90a):
// a ring of shared-memory stages, each one group of `unroll` 128-K chunks of a work item's weight
// slice (tile_n rows: their codes and scales in the preshuffled layouts), filled by the producer
// warp's bulk copies and read by the consumer warps, plus an mbarrier the consumers synchronise
// on among themselves (the producer takes no part in block barriers).
#pragma once
#include "dsl/tile/bulk_ring.h"
#include "dsl/tilejit.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels::stage2_detail {

class WeightStream {
 public:
  /// Allocates the ring and the mbarriers (at the kernel's top level: every thread).
  explicit WeightStream(const MoeStage2Config& cfg);
  /// One thread, before a block barrier: the ring's mbarriers (one producer arrival per fill,
  /// kStage2Threads consumer releases) and the consumers' own (kStage2Threads arrivals).
  void init() const;
  /// Fills one work item takes: its slice's chunks / unroll.
  int fills_per_item() const { return fills_; }

  /// Producer thread: fills k .. k + fills_per_item() - 1 with the slice of column block `bn`,
  /// K slice `z` of one expert (`w_e` its codes as i32 words, `s_e` its scale bytes), each after
  /// the consumers released the fill the same stage held before.
  void produce(const dsl::Value& w_e, const dsl::Value& s_e, const dsl::Value& bn, const dsl::Value& z,
               const dsl::Value& k) const;

  /// Consumers: waits for fill k and returns its stage.
  dsl::SharedPtr<int32_t> wait(const dsl::Value& k) const { return ring_.wait(k); }
  /// Consumers: this thread has read what it needs of fill k (every consumer thread calls it).
  void release(const dsl::Value& k) const { ring_.release(k); }
  /// The codes (<4 x i32>) of row `n` (in the column block) and 32-K block `kb` (in the fill) of a stage.
  dsl::Value codes(const dsl::SharedPtr<int32_t>& stage, const dsl::Value& n, const dsl::Value& kb) const;
  /// load_mxfp4_scale_word()'s word for row `n`, block `kb` of fill k (both in the fill): the
  /// scales of rows {n, n ^ 16} x blocks {kb, kb ^ 4}.
  dsl::Value scale_word(const dsl::Value& k, const dsl::Value& n, const dsl::Value& kb) const;
  /// Consumers: a barrier among the kStage2Threads consumer threads, the `count`-th (from 0) of the block.
  void consumers_sync(const dsl::Value& count) const;

 private:
  int tile_n_, k_, unroll_, fills_;
  tile::BulkRing ring_;                  // the codes
  dsl::SharedPtr<uint8_t> scales_;       // the scales, per stage tile_n x unroll x 4 bytes
  dsl::SharedPtr<int64_t> consumers_;
};

}  // namespace tilejit::kernels::stage2_detail
