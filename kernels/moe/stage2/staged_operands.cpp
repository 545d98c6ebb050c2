// The shared-memory operand staging of the stage-2 main loops (staged_operands.h).
#include "kernels/moe/stage2/staged_operands.h"

#include "dsl/tile/mxfp4.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

namespace {
constexpr int kSlots = 4;  // raw weight words in registers for steps kt + 1 .. kt + kSlots
}  // namespace

Value activation_row(const MoeStage2Config& cfg, Ptr<int32_t> sorted_ids, const Value& row, const Value& tokens,
                     int block_rows) {
  Value last_row = Value(tokens) * cfg.topk + (cfg.experts * block_rows - cfg.topk - 1);
  Value id = sorted_ids[min(row, last_row)];
  Value tok = id & 0xFFFFFF, slot = lshr(id, 24);
  return select(tok < tokens, tok * cfg.topk + slot, 0);
}

std::vector<Value> activation_sources(const MoeStage2Config& cfg, const tile::SharedTile& tile, Ptr<bf16> a,
                                      Ptr<int32_t> sorted_ids, const Value& row0, const Value& tokens) {
  std::vector<Value> sources;
  for (const Value& r : tile::copy_rows_of_thread(tile, kStage2Threads))
    sources.push_back(
        Value(a + cast<int64_t>(activation_row(cfg, sorted_ids, row0 + r, tokens, tile.rows())) * int64_t(cfg.inter_dim)));
  return sources;
}

StagedOperands::StagedOperands(const MoeStage2Config& cfg, int rows, Ptr<bf16> a, Ptr<int32_t> w, Ptr<uint8_t> w_scale,
                               Ptr<int32_t> sorted_ids, const Value& e, const Value& row0, const Value& bn,
                               const Value& z, const Value& tokens)
    : cfg_(cfg),
      ta_(tile::make_shared_tile(rows, kStepK, kAStages)),
      tb_(tile::make_shared_tile(cfg.tile_n, kStepK, kBStages)),
      steps_(cfg.slice_k() / kStepK),
      b_parts_(cfg.tile_n * 2 / kStage2Threads),
      ahead_(steps_ % kSlots == 0 ? kSlots : 2),  // steps is even (slices of 128 K)
      rows_checked_(cfg.model_dim % cfg.tile_n != 0),
      bn_(bn) {
  const int N = cfg.model_dim, K = cfg.inter_dim;
  a_src_ = activation_sources(cfg, ta_, a, sorted_ids, row0, tokens);
  w_e_ = w + cast<int64_t>(e) * (int64_t(N) * K / 8);     // N*K/2 bytes per expert, as i32 words
  s_e_ = w_scale + cast<int64_t>(e) * int64_t(N / 32 * K);  // N*K/32 scale bytes per expert
  k_first_ = z * cfg.slice_k();
  kb_first_ = udiv(k_first_, 32);
  Value tid = thread_id();
  for (int i = 0; i < b_parts_; ++i) {
    Value p = tid + i * kStage2Threads;
    b_row_.push_back(udiv(p, 32) * 16 + urem(p, 16));
    b_half_.push_back(urem(udiv(p, 16), 2));
  }
}

std::vector<Value> StagedOperands::load_b(const Value& step) const {
  std::vector<Value> raw;
  for (int i = 0; i < b_parts_; ++i) {
    tile::Mxfp4Fragment f =
        tile::load_b_mxfp4(w_e_, s_e_, bn_ * cfg_.tile_n + b_row_[i], kb_first_ + step * 2 + b_half_[i], cfg_.model_dim,
                           cfg_.inter_dim, 4, 0, rows_checked_, ir::CachePolicy::Stream, ir::CachePolicy::Stream);
    raw.push_back(f.words);
    raw.push_back(f.scale);
  }
  return raw;
}

void StagedOperands::store_b(const std::vector<Value>& raw, const Value& stage) const {
  auto decode_and_store = [&](tile::Fp4Path path) {
    for (int i = 0; i < b_parts_; ++i)
      for (int q = 0; q < 4; ++q) {
        Value vals = tile::decode_fp4x8(extract(raw[2 * i], q), raw[2 * i + 1], path, tile::Fp4Order::Natural);
        store(tb_.chunk_address(stage, b_row_[i], b_half_[i] * 4 + q), vals);
      }
  };
  if (target().has_fp4_convert || !cfg_.small_scale_decode) {
    decode_and_store(tile::Fp4Path::Auto);
    return;
  }
  // One multiply per pair where this thread's scales allow it (every real weight tensor), the
  // exact two-multiply decode otherwise: the same values either way.
  Value small = raw[1] <= tile::kFp4SmallScaleMax;
  for (int i = 1; i < b_parts_; ++i) small = small & (raw[2 * i + 1] <= tile::kFp4SmallScaleMax);
  if_(small, [&] { decode_and_store(tile::Fp4Path::SoftwareSmallScale); },
      [&] { decode_and_store(tile::Fp4Path::Software); });
}

tile::TileCopy StagedOperands::copy_a_ahead(const Value& kt) const {
  return tile::copy_rows_begin(ta_, urem(kt + (kAStages - 1), kAStages), a_src_,
                               k_first_ + min(kt + (kAStages - 1), steps_ - 1) * kStepK, kStage2Threads);
}

void StagedOperands::prologue() {
  for (int p = 0; p < kAStages - 1; ++p) {
    tile::copy_end(tile::copy_rows_begin(ta_, Int(p), a_src_, k_first_ + std::min(p, steps_ - 1) * kStepK, kStage2Threads));
    tile::copy_commit();
  }
  store_b(load_b(Int(0)), Int(0));
  slots_.clear();
  slots_.resize(size_t(ahead_));
  for (int j = 0; j < ahead_; ++j)  // slot j: step j + 1, the first the loop decodes from it
    for (const Value& v : load_b(Int(std::min(j + 1, steps_ - 1)))) slots_[size_t(j)].push_back(std::make_unique<Var<>>(v));
}

void StagedOperands::stage_next_b(const Value& kt, int u) {
  std::vector<Value> raw;
  for (auto& v : slots_[size_t(u)]) raw.push_back(v->get());
  store_b(raw, urem(kt + 1, kBStages));
  std::vector<Value> fetched = load_b(min(kt + (ahead_ + 1), steps_ - 1));
  for (size_t i = 0; i < fetched.size(); ++i) *slots_[size_t(u)][i] = fetched[i];
}

void StagedOperands::for_steps(const std::function<void(const Value&, int)>& step) const {
  for_range(0, steps_, ahead_, [&](Value kt0) {
    for (int u = 0; u < ahead_; ++u) step(kt0 + u, u);
  });
}

}  // namespace tilejit::kernels::stage2_detail
