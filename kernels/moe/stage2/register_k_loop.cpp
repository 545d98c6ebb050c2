#include "kernels/moe/stage2/register_k_loop.h"

#include <optional>

#include "dsl/tile/intrinsics.h"

namespace tilejit::kernels::stage2_detail {

using namespace dsl;

WeightSlots::WeightSlots(const std::vector<RawChunk>& first) : n_tiles_(first.at(0).words.size()) {
  for (const RawChunk& r : first)
    for (size_t j = 0; j < n_tiles_; ++j) {
      words_.push_back(std::make_unique<Var<>>(r.words[j]));
      scales_.push_back(std::make_unique<Var<>>(r.scales[j]));
    }
}

std::vector<RawChunk> WeightSlots::get() const {
  std::vector<RawChunk> group(words_.size() / n_tiles_);
  for (size_t u = 0; u < group.size(); ++u)
    for (size_t j = 0; j < n_tiles_; ++j) {
      group[u].words.push_back(words_[u * n_tiles_ + j]->get());
      group[u].scales.push_back(scales_[u * n_tiles_ + j]->get());
    }
  return group;
}

void WeightSlots::set(const std::vector<RawChunk>& group) {
  for (size_t u = 0; u < group.size(); ++u)
    for (size_t j = 0; j < n_tiles_; ++j) {
      *words_[u * n_tiles_ + j] = group[u].words[j];
      *scales_[u * n_tiles_ + j] = group[u].scales[j];
    }
}

namespace {

/// The loop's body over groups; `group(c0)` gives the raw weights of the group at chunk c0.
void k_loop(const Value& first, const Value& end, int unroll, bool fast, std::vector<std::unique_ptr<Var<>>>& acc,
            const RegisterKLoopSteps& steps, const std::function<std::vector<RawChunk>(const Value&)>& group) {
  std::optional<Var<>> scale_max;
  if (fast) scale_max.emplace(Int(0));
  for_range(first, end, unroll, [&](Value c0) {
    std::vector<RawChunk> current = group(c0);
    for (int u = 0; u < unroll; ++u)
      steps.compute(c0 + u, current[size_t(u)], fast ? tile::Fp4Path::SoftwareSmallScale : tile::Fp4Path::Auto);
    if (fast)
      for (const RawChunk& r : current)
        for (const Value& sc : r.scales) *scale_max = umax(*scale_max, sc);
  });
  if (fast)
    if_(tile::wave_umax(*scale_max) > tile::kFp4SmallScaleMax, [&] {
      for (auto& v : acc) *v = splat(0.0f, 4);
      for_range(first, end, 1, [&](Value c) { steps.compute(c, steps.load_exact(c), tile::Fp4Path::Software); });
    });
}

}  // namespace

void register_k_loop(const Value& first, const Value& end, int unroll, bool fast, WeightSlots& slots,
                     std::vector<std::unique_ptr<Var<>>>& acc, const RegisterKLoopSteps& steps) {
  k_loop(first, end, unroll, fast, acc, steps, [&](const Value& c0) {
    std::vector<RawChunk> current = slots.get();
    if_(c0 + unroll < end, [&] { slots.set(steps.load_group(c0 + unroll)); });
    return current;
  });
}

void streamed_k_loop(const Value& first, const Value& end, int unroll, bool fast,
                     std::vector<std::unique_ptr<Var<>>>& acc, const RegisterKLoopSteps& steps) {
  k_loop(first, end, unroll, fast, acc, steps, steps.load_group);
}

}  // namespace tilejit::kernels::stage2_detail
