// The warp-specialized register loop's weight stream (MoeStage2Config::warp_specialized, sm_90a):
// a ring of shared-memory stages, each one group of `unroll` 128-K chunks of a work item's weight
// slice (tile_n rows: their codes and scales in the preshuffled layouts), filled by the producer
// warp's bulk copies and read by the consumer warps; with shared activations also one stage of
// the item's activation rows (tile_m rows of the K slice, row-major), which the producer copies
// one item ahead and the consumers restage into their MMA layout. The consumers synchronise among
// themselves with a named barrier (the producer takes no part in block barriers).
#pragma once
#include <functional>
#include <optional>

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

  /// Producer warp (all its lanes): fills k .. k + fills_per_item() - 1 with the slice of column
  /// block `bn`, K slice `z` of one expert (`w_e` its codes as i32 words, `s_e` its scale bytes),
  /// each after the consumers released the fill the same stage held before.
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
  /// Producer warp (shared activations): copies item `item`'s `rows` activation rows, `row(r)` the
  /// first element of row r's K slice, after the consumers released item - 1's.
  void produce_activations(const std::function<dsl::Value(const dsl::Value&)>& row, int rows,
                           const dsl::Value& item) const;
  /// Consumers: waits for item `item`'s activation rows and returns them (tile_m rows of the K
  /// slice, row-major bf16, two to an i32 word).
  dsl::SharedPtr<int32_t> activations(const dsl::Value& item) const { return activations_->wait(item); }
  /// Consumers: this thread has read what it needs of item `item`'s activation rows.
  void release_activations(const dsl::Value& item) const { activations_->release(item); }
  /// Consumers: a barrier among the kStage2Threads consumer threads (named barrier 1).
  static void consumers_sync();

 private:
  int tile_n_, k_, unroll_, fills_, slice_k_;
  tile::BulkRing ring_;                  // the codes
  dsl::SharedPtr<uint8_t> scales_;       // the scales, per stage tile_n x unroll x 4 bytes
  std::optional<tile::BulkRing> activations_;  // with shared activations: one stage of tile_m rows
};

}  // namespace tilejit::kernels::stage2_detail
