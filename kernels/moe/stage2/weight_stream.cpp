#include "kernels/moe/stage2/weight_stream.h"

#include <functional>

#include "dsl/tile/intrinsics.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

namespace {
// Calls body(i) for i = lane, lane + 32, .. below `count` (the copies of one producer warp's lane).
void for_each_lane_share(int count, const std::function<void(const Value&)>& body) {
  for (int i0 = 0; i0 < count; i0 += 32) {
    const Value i = lane_id() + i0;
    if (i0 + 32 <= count) body(i);
    else if_(i < count, [&] { body(i); });
  }
}
}  // namespace


// The preshuffled codes keep, per 16-row group, every 32-K block's 256 bytes in K order; the
// scales, per 32-row group, every 256-K group's 256 bytes (dsl/tile/mxfp4.cpp). A fill of `unroll`
// chunks is therefore tile_n / 16 x unroll x 4 blocks of 256 code bytes and tile_n / 32 runs of
// unroll / 2 x 256 scale bytes. A stage keeps the code blocks in that order kStage2WsBlockPitch bytes apart,
// so that the four lanes reading one row's four blocks at once (t = lane % 4) hit different banks
// (256 bytes apart they would share them); the scale runs go in order to the scales' own stage
// (completing on the same fill mbarrier).
WeightStream::WeightStream(const MoeStage2Config& cfg)
    : tile_n_(cfg.tile_n), k_(cfg.inter_dim), unroll_(cfg.unroll_for(cfg.slice_k() / kStage2ChunkK)),
      fills_(cfg.slice_k() / kStage2ChunkK / unroll_), slice_k_(cfg.slice_k()),
      ring_(cfg.ws_stages(), cfg.tile_n / 16 * unroll_ * 4 * kStage2WsBlockPitch / 4),
      scales_(shared_array<uint8_t>(cfg.ws_stages() * cfg.tile_n * unroll_ * 4)) {
  if (cfg.uses_shared_activations()) activations_.emplace(1, cfg.activation_bytes() / 4);
}

void WeightStream::init() const {
  ring_.init(1, kStage2Threads);
  if (activations_) activations_->init(1, kStage2Threads);
}

// Each call runs on the whole producer warp: lane 0 arrives with the fill's bytes, and the lanes
// share its copies (lane l takes copies l, l + 32, ..), so that no one thread issues them all.
void WeightStream::produce(const Value& w_e, const Value& s_e, const Value& bn, const Value& z, const Value& k) const {
  const int blocks = unroll_ * 4, scale_run = unroll_ / 2 * 256;
  const int groups = tile_n_ / 16, halves = tile_n_ / 32;
  const Value lane = lane_id();
  for_range(0, fills_, [&](Value f) {
    const Value fill = k + f;
    const Value kb0 = (z * fills_ + f) * (unroll_ * 4);  // the fill's first 32-K block
    ring_.wait_free(fill);
    const SharedPtr<int32_t> stage = ring_.stage(fill);
    const SharedPtr<int64_t> bar = ring_.fill_mbarrier(fill);
    if_(lane == 0, [&] { tile::mbarrier_arrive_expect_tx(bar, groups * blocks * 256 + halves * scale_run); });
    // Code block c = g * blocks + b: block b of the fill in 16-row group g.
    for_each_lane_share(groups * blocks, [&](const Value& c) {
      const Value at = ((bn * groups + udiv(c, blocks)) * (k_ / 32) + kb0) * 64 + urem(c, blocks) * 64;  // i32 words
      tile::bulk_copy_to_shared(SharedPtr<int32_t>(stage + c * (kStage2WsBlockPitch / 4)), Ptr<int32_t>(w_e + at), 256, bar);
    });
    for_each_lane_share(halves, [&](const Value& h) {
      const Value at = ((bn * halves + h) * (k_ / 256) + udiv(kb0, 8)) * 256;  // bytes
      tile::bulk_copy_to_shared(SharedPtr<uint8_t>(scales_ + (urem(fill, ring_.stages()) * halves + h) * scale_run),
                                Ptr<uint8_t>(s_e + at), scale_run, bar);
    });
  });
}

Value WeightStream::codes(const SharedPtr<int32_t>& stage, const Value& n, const Value& kb) const {
  return load(stage + ((udiv(n, 16) * (unroll_ * 4) + kb) * (kStage2WsBlockPitch / 4) + urem(n, 16) * 4), 4);
}

Value WeightStream::scale_word(const Value& k, const Value& n, const Value& kb) const {
  // n = n1 * 32 + np * 16 + nl, kb = k1 * 8 + kp * 4 + kl: the word of (n1, k1, kl, nl) holds (kp, np).
  const Value word = urem(k, ring_.stages()) * (tile_n_ * unroll_) + (udiv(n, 32) * (unroll_ / 2) + udiv(kb, 8)) * 64 +
                     urem(kb, 4) * 16 + urem(n, 16);
  return bitcast(load(scales_ + word * 4, 4), ir::Type::scalar(ir::Scalar::I32));
}

void WeightStream::produce_activations(const std::function<Value(const Value&)>& row, int rows, const Value& item) const {
  const int row_bytes = slice_k_ * 2;
  activations_->wait_free(item);
  const SharedPtr<int64_t> bar = activations_->fill_mbarrier(item);
  if_(lane_id() == 0, [&] { tile::mbarrier_arrive_expect_tx(bar, rows * row_bytes); });
  const SharedPtr<int32_t> stage = activations_->stage(item);
  for_each_lane_share(rows, [&](const Value& r) {
    tile::bulk_copy_to_shared(SharedPtr<int32_t>(stage + r * (row_bytes / 4)), row(r), row_bytes, bar);
  });
}

void WeightStream::consumers_sync() { tile::named_barrier(1, kStage2Threads); }

}  // namespace tilejit::kernels::stage2_detail
