// The wgmma_rs operand stages: copies in, decode out (rs_operands.h).
#include "kernels/moe/stage2/rs_operands.h"

#include <algorithm>
#include <memory>
#include <optional>

#include "dsl/tile/mxfp4.h"
#include "kernels/moe/stage2/staged_operands.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;
using ir::Scalar;
using ir::Type;

namespace {
constexpr int kWeightBytesPerRow = kRsStepK / 2;  // raw FP4 bytes of one weight row per step
constexpr int kScaleBytesPer32Rows = 128;
}  // namespace

RsOperands::RsOperands(const MoeStage2Config& cfg, int stages, int copiers, const Value& copier, Ptr<bf16> a,
                       Ptr<int32_t> w, Ptr<uint8_t> w_scale, Ptr<int32_t> sorted_ids, const Value& tokens,
                       const Value& group, const Value& q, const Value& g, const Value& t)
    : cfg_(cfg), stages_(stages), copiers_(copiers), tiles_(cfg.tile_n / 2 / kRsGroupRows), copier_(copier),
      group_(group), q_(q), g_(g), t_(t), a_(a), w_(w), w_scale_(w_scale), sorted_ids_(sorted_ids), tokens_(tokens),
      // Shared memory: the activation tile first (its 8-row groups 1024-byte aligned for the swizzle).
      ta_(tile::make_shared_tile(cfg.tile_m, kRsStepK, stages)), w_stage_(cfg.tile_n * kWeightBytesPerRow),
      s_stage_(cfg.tile_n / 32 * kScaleBytesPer32Rows), w_ring_(shared_array<int32_t>(int64_t(stages) * w_stage_ / 4)),
      s_ring_(shared_array<uint8_t>(int64_t(stages) * s_stage_)) {}

void RsOperands::set_item(const Value& e, const Value& row0, const Value& bn, const Value& z) {
  const MoeStage2Config& cfg = cfg_;
  const int N = cfg.model_dim, K = cfg.inter_dim, copiers = copiers_;
  const Value &copier = copier_, &group = group_, &q = q_, &g = g_, &t = t_;
  k_first_ = z * cfg.slice_k();
  kb_first_ = udiv(k_first_, 32);
  w_e_ = w_ + cast<int64_t>(e) * (int64_t(N) * K / 8);      // N*K/2 bytes per expert, as i32 words
  s_e_ = w_scale_ + cast<int64_t>(e) * int64_t(N / 32 * K);  // N*K/32 scale bytes per expert
  n_block_ = bn * cfg.tile_n;
  a_tile_ = SharedPtr<bf16>(ta_.base());

  // The activation copies: each copier stores tile_m * 8 / copiers natural 16-byte chunks, in
  // `passes` rows pass_rows apart, `run` chunks t0 .. t0 + run - 1 of half b in each (run: the
  // largest power of two dividing that count, at most 4, so a pass covers whole rows; copier p's
  // first row is p / (8 / run)). Per i it stores each run's elements i and i + 4 at column pairs
  // 4 i + t0 .., i.e. 4 run contiguous bytes of logical 16-byte chunk 4 b + i, at physical chunk
  // (4 b + i) ^ (row % 8) (the same in every pass): the lanes of a store cover every bank once per
  // row group, so no store waits on a bank conflict.
  const int cpt = cfg.tile_m * 8 / copiers;
  run_ = std::min(cpt & -cpt, 4);
  passes_ = cpt / run_;
  const int groups_per_row = 8 / run_;
  pass_rows_ = copiers / groups_per_row;
  const Value a_row = udiv(copier, groups_per_row), a_gi = urem(copier, groups_per_row);
  a_half_ = udiv(a_gi * run_, 4);
  const Value a_t0 = urem(a_gi * run_, 4);
  a_src_.clear();
  for (int r = 0; r < passes_; ++r)
    a_src_.push_back(a_ + (cast<int64_t>(activation_row(cfg, sorted_ids_, row0 + (a_row + r * pass_rows_), tokens_, cfg.tile_m)) *
                              int64_t(K) +
                          cast<int64_t>(a_half_ * 32 + a_t0 * 8)));
  a_dst_ = a_row * kRsStepK + a_t0 * 2;
  a_swizzle_ = urem(a_row, 8);

  // The weight rows of a consumer lane (m64 tile j, half h): n = group * tile_n / 2 + 64 j + 16 q +
  // 2 g + h, so n / 16 = group * tile_n / 32 + 4 j + q and n % 16 = 2 g + h. Its raw block `blk`
  // lies at byte (n / 16) * 512 + blk * 256 + (n % 16) * 16 of a weight stage and its scale at
  // (n / 32) * 128 + (blk * 16 + n % 16) * 4 + kp * 2 + (n / 16) % 2 of a scale stage: a per-lane
  // base plus a constant for each (j, h, blk).
  w_lane_ = Value(w_ring_ + ((group * (cfg.tile_n / 32) + q) * 128 + g * 8 + t));  // i32 words, word t
  s_lane_ = Value(s_ring_ + ((group * (cfg.tile_n / 64) + udiv(q, 2)) * kScaleBytesPer32Rows + g * 8 + urem(q, 2)));
}

int RsOperands::steps() const { return cfg_.slice_k() / kRsStepK; }

Value RsOperands::row_of(int j, int h) const {
  return group_ * (cfg_.tile_n / 2) + (j * kRsGroupRows + h) + q_ * 16 + g_ * 2;
}

std::vector<Value> RsOperands::load_activations(const Value& step) const {
  std::vector<Value> chunks;  // pass-major
  Value k = k_first_ + step * kRsStepK;
  for (int r = 0; r < passes_; ++r)
    for (int c = 0; c < run_; ++c) chunks.push_back(load(Value(Ptr<bf16>(a_src_[size_t(r)]) + (k + 8 * c)), 8));
  return chunks;
}

void RsOperands::store_activations(const std::vector<Value>& chunks, const Value& stage) const {
  std::vector<Value> split;  // each chunk in the decode's order: pair i = elements i, i + 4
  for (const Value& chunk : chunks) split.push_back(tile::split_pairs(chunk));
  for (int r = 0; r < passes_; ++r) {
    Value base = stage * (cfg_.tile_m * kRsStepK) + (a_dst_ + r * pass_rows_ * kRsStepK);
    for (int i = 0; i < 4; ++i) {
      std::vector<Value> pairs;
      for (int c = 0; c < run_; ++c) {
        pairs.push_back(extract(split[size_t(r * run_ + c)], 2 * i));
        pairs.push_back(extract(split[size_t(r * run_ + c)], 2 * i + 1));
      }
      store(Value(a_tile_ + (base + ((a_half_ * 4 + i) ^ a_swizzle_) * 8)), make_vector(pairs));
    }
  }
}

// Copier p takes 16-byte weight chunks p, p + copiers, .. (32 per 16-row piece) and, p < tile_n / 4,
// scale chunk p (8 per 32-row group); pieces past N read zeros (cp.async zero fill) and their
// columns are masked in the epilogue.
void RsOperands::copy_weights(const Value& step, const Value& stage) const {
  const int N = cfg_.model_dim, K = cfg_.inter_dim;
  Value kb = kb_first_ + step * 2;  // the step's first 32-K block (a multiple of 2)
  for (int c0 = 0; c0 < 2 * cfg_.tile_n; c0 += copiers_) {
    Value c = copier_ + c0, piece = udiv(c, 32), within = urem(c, 32);
    Value n = n_block_ + piece * 16;
    Value src_byte = tile::mxfp4_weight_offset(min(n, N - 16), kb, K) + within * 16;
    tile::cp_async_16(Value(w_ring_ + udiv(stage * w_stage_ + piece * 512 + within * 16, 4)),
                      Value(w_e_ + udiv(src_byte, 4)), select(n < N, 16, 0));
  }
  if_(copier_ < cfg_.tile_n / 4, [&] {
    Value group32 = udiv(copier_, 8), within = urem(copier_, 8);
    Value n = n_block_ + group32 * 32;
    // The 128 bytes of blocks kb, kb + 1 of rows n .. n + 31 (moe-stage2.md: kl pairs are contiguous).
    Value src_byte = (udiv(min(n, N - 32), 32) * (K / 256) + udiv(kb, 8)) * 256 + urem(kb, 4) * 64 + within * 16;
    tile::cp_async_16(Value(s_ring_ + (stage * s_stage_ + group32 * kScaleBytesPer32Rows + within * 16)),
                      Value(s_e_ + src_byte), select(n < N, 16, 0));
  });
}

std::vector<Value> RsOperands::decode_step(const Value& step, const Value& stage) const {
  Value kp = urem(udiv(kb_first_ + step * 2, 4), 2);  // the scale word's K pair of this step
  Value w_at = Value(w_lane_ + stage * (w_stage_ / 4)), s_at = Value(s_lane_ + (stage * s_stage_ + kp * 2));
  struct Raw {
    Value codes[2][2], scale[2][2];  // [half h][32-K block]
  };
  std::vector<Raw> raw = std::vector<Raw>(size_t(tiles_));
  std::optional<Value> small;
  for (int j = 0; j < tiles_; ++j)
    for (int h = 0; h < 2; ++h)
      for (int blk = 0; blk < 2; ++blk) {
        raw[size_t(j)].codes[h][blk] = load(Value(w_at + (j * 2048 + blk * 256 + h * 16) / 4));
        raw[size_t(j)].scale[h][blk] = zext(load(Value(s_at + (j * 256 + blk * 64 + h * 4))), Type::scalar(Scalar::I32));
        Value fits = raw[size_t(j)].scale[h][blk] <= tile::kFp4SmallScaleMax;
        small = small ? Value(*small & fits) : fits;
      }
  std::vector<std::unique_ptr<Var<>>> frags;
  for (int i = 0; i < tiles_ * 4; ++i)
    frags.push_back(std::make_unique<Var<>>(bitcast(splat(Int(0), 4), Type::vector(Scalar::BF16, 8))));
  auto decode = [&](tile::Fp4Path path) {
    for (int j = 0; j < tiles_; ++j)
      for (int blk = 0; blk < 2; ++blk) {
        Value d[2];
        for (int h = 0; h < 2; ++h)
          d[h] = bitcast(tile::decode_fp4x8(raw[size_t(j)].codes[h][blk], raw[size_t(j)].scale[h][blk], path,
                                            tile::Fp4Order::Split),
                         Type::vector(Scalar::I32, 4));
        // Word w of d[h] is row h at K 8 w + 2 t: the k16 step 2 blk + u takes words 2 u (columns
        // 2 t) and 2 u + 1 (columns 2 t + 8).
        for (int u = 0; u < 2; ++u)
          *frags[size_t(j * 4 + blk * 2 + u)] =
              bitcast(make_vector({extract(d[0], 2 * u), extract(d[1], 2 * u), extract(d[0], 2 * u + 1),
                                   extract(d[1], 2 * u + 1)}),
                      Type::vector(Scalar::BF16, 8));
      }
  };
  if (!cfg_.small_scale_decode) {
    decode(tile::Fp4Path::Software);
  } else {
    // One multiply per pair where this lane's scales of the step allow it (every real weight
    // tensor), the exact decode otherwise: the same values either way.
    if_(*small, [&] { decode(tile::Fp4Path::SoftwareSmallScale); }, [&] { decode(tile::Fp4Path::Software); });
  }
  std::vector<Value> values;
  for (auto& f : frags) values.push_back(f->get());
  return values;
}

RsAccumulators::RsAccumulators(const MoeStage2Config& cfg, Ptr<int32_t> sorted_ids, const Value& tokens, const Value& row0)
    : tiles_(cfg.tile_n / 2 / kRsGroupRows), chunks_((cfg.tile_m + kRsMaxChunkRows - 1) / kRsMaxChunkRows), tile_m_(cfg.tile_m) {
  static_assert(kRsMaxChunkRows * 2 >= 128, "tile_m (at most 128) is one or two chunks");
  if (chunks_ == 2) second_used_ = (sorted_ids[row0 + kRsMaxChunkRows] & 0xFFFFFF) < tokens;  // chunk 0 always holds a row
  for (int i = 0; i < tiles_ * chunks_; ++i) acc_.push_back(std::make_unique<Var<>>(splat(0.0f, chunk_rows(i % chunks_) / 2)));
}

int RsAccumulators::chunk_rows(int c) const { return std::min(kRsMaxChunkRows, tile_m_ - c * kRsMaxChunkRows); }

void RsAccumulators::multiply(const std::vector<Value>& frags, const tile::SharedTile& ta, const Value& stage) {
  auto group_of = [&](int used_chunks) {
    tile::wgmma_fence();
    for (int c = 0; c < used_chunks; ++c)
      for (int j = 0; j < tiles_; ++j) {
        Var<>& d = *acc_[size_t(j * chunks_ + c)];
        for (int s = 0; s < 4; ++s)
          d = tile::wgmma(frags[size_t(j * 4 + s)], tile::wgmma_operand(ta, stage, Int(c * kRsMaxChunkRows), 16 * s), d,
                          tile::wgmma_layout(ta));
      }
    tile::wgmma_commit();
  };
  if (chunks_ == 1) group_of(1);
  else if_(*second_used_, [&] { group_of(2); }, [&] { group_of(1); });
}

}  // namespace tilejit::kernels::stage2_detail
