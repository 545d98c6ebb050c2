#include "kernels/moe/stage2/bulk_weights.h"

#include "dsl/tile/intrinsics.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

// The preshuffled codes keep, per 16-row group, every 32-K block's 256 bytes in K order; the scales,
// per 32-row group, every 256-K group's 256 bytes (dsl/tile/mxfp4.cpp). So the slice is tile_n / 16
// runs of blocks_ x 256 code bytes and tile_n / 32 runs of blocks_ / 8 x 256 scale bytes, and the
// slab keeps each run contiguous in that order.
BulkWeightSlice::BulkWeightSlice(const MoeStage2Config& cfg, const Value& row0, const Value& kb0)
    : blocks_(cfg.slice_k() / 32), tile_n_(cfg.tile_n), k_(cfg.inter_dim), row0_(row0), kb0_(kb0),
      codes_(shared_array<int32_t>(int64_t(cfg.tile_n) * cfg.slice_k() / 8)),
      scales_(shared_array<uint8_t>(int64_t(cfg.tile_n) * cfg.slice_k() / 32)),
      bar_(shared_array<int64_t>(1)) {}

void BulkWeightSlice::issue(const Value& w_e, const Value& s_e) const {
  const int code_run = blocks_ * 256, scale_run = blocks_ / 8 * 256;
  tile::mbarrier_init(bar_, 1);
  tile::mbarrier_arrive_expect_tx(bar_, tile_n_ / 16 * code_run + tile_n_ / 32 * scale_run);
  for (int g = 0; g < tile_n_ / 16; ++g) {
    const Value at = ((row0_ / 16 + g) * (k_ / 32) + kb0_) * 64;  // i32 words
    tile::bulk_copy_to_shared(SharedPtr<int32_t>(codes_ + g * code_run / 4), Ptr<int32_t>(w_e + at), code_run, bar_);
  }
  for (int h = 0; h < tile_n_ / 32; ++h) {
    const Value at = ((row0_ / 32 + h) * (k_ / 256) + kb0_ / 8) * 256;  // bytes
    tile::bulk_copy_to_shared(SharedPtr<uint8_t>(scales_ + h * scale_run), Ptr<uint8_t>(s_e + at), scale_run, bar_);
  }
}

void BulkWeightSlice::wait() const { tile::mbarrier_wait(bar_, 0); }

Value BulkWeightSlice::codes(const Value& n, const Value& kb) const {
  const Value r = n - row0_;
  return load(codes_ + ((udiv(r, 16) * blocks_ + (kb - kb0_)) * 64 + urem(r, 16) * 4), 4);
}

Value BulkWeightSlice::scale_word(const Value& n, const Value& kb) const {
  // n = n1 * 32 + np * 16 + nl, kb = k1 * 8 + kp * 4 + kl: the word of (n1, k1, kl, nl) holds (kp, np).
  const Value r = n - row0_, b = kb - kb0_;
  const Value word = ((udiv(r, 32) * (blocks_ / 8) + udiv(b, 8)) * 4 + urem(b, 4)) * 16 + urem(r, 16);
  return bitcast(load(scales_ + word * 4, 4), ir::Type::scalar(ir::Scalar::I32));
}

}  // namespace tilejit::kernels::stage2_detail
