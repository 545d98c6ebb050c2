// Random test inputs for the MoE stage-2 kernel.
#include "kernels/moe/host/inputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "dsl/ir/numeric.h"

namespace tilejit::moe {

Routing random_routing(std::mt19937& rng, int64_t tokens, int64_t topk, int64_t num_experts, const RoutingOptions& options) {
  constexpr const char* fn = "random_routing";
  if (tokens < 0) throw std::invalid_argument(fmt::format("{}: tokens (= {}) must not be negative", fn, tokens));
  if (num_experts <= 0) throw std::invalid_argument(fmt::format("{}: num_experts (= {}) must be positive", fn, num_experts));
  if (options.empty_experts < 0 || topk < 1 || num_experts - options.empty_experts < topk)
    throw std::invalid_argument(fmt::format("{}: topk (= {}) must be in [1, num_experts - empty_experts = {} - {}]", fn, topk,
                                            num_experts, options.empty_experts));
  if (!(options.skew >= 0.0)) throw std::invalid_argument(fmt::format("{}: skew (= {}) must be >= 0", fn, options.skew));

  // A random permutation: the first empty_experts are never used, the rest get weights by rank.
  std::vector<int32_t> order(static_cast<size_t>(num_experts));
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  Routing r;
  r.empty_experts.assign(order.begin(), order.begin() + options.empty_experts);
  std::sort(r.empty_experts.begin(), r.empty_experts.end());
  std::vector<int32_t> live(order.begin() + options.empty_experts, order.end());
  std::vector<double> base(live.size());
  for (size_t i = 0; i < live.size(); ++i) base[i] = 1.0 / std::pow(double(i + 1), options.skew);

  std::normal_distribution<float> normal(0.0f, 1.0f);
  r.topk_ids.resize(size_t(tokens * topk));
  r.topk_weights.resize(size_t(tokens * topk));
  std::vector<double> w;
  std::vector<float> logits(static_cast<size_t>(topk));
  for (int64_t t = 0; t < tokens; ++t) {
    w = base;
    for (int64_t s = 0; s < topk; ++s) {
      std::discrete_distribution<size_t> pick(w.begin(), w.end());
      const size_t i = pick(rng);
      w[i] = 0.0;  // without replacement: distinct experts per token
      r.topk_ids[size_t(t * topk + s)] = live[i];
    }
    float mx = -INFINITY;
    for (auto& l : logits) mx = std::max(mx, l = normal(rng));
    double sum = 0.0;
    for (float l : logits) sum += std::exp(double(l - mx));
    for (int64_t s = 0; s < topk; ++s)
      r.topk_weights[size_t(t * topk + s)] = float(std::exp(double(logits[size_t(s)] - mx)) / sum);
  }
  return r;
}

std::vector<uint16_t> random_bf16_normal(std::mt19937& rng, size_t count, float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<uint16_t> v(count);
  for (auto& x : v) x = ir::f32_to_bf16(normal(rng));
  return v;
}

std::vector<float> random_f32_normal(std::mt19937& rng, size_t count, float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> v(count);
  for (auto& x : v) x = normal(rng);
  return v;
}

mxfp4::Mxfp4Matrix random_mxfp4_weights(std::mt19937& rng, int64_t E, int64_t N, int64_t K, uint8_t scale_min,
                                        uint8_t scale_max) {
  constexpr const char* fn = "random_mxfp4_weights";
  if (E <= 0 || N <= 0)
    throw std::invalid_argument(fmt::format("{}: E (= {}) and N (= {}) must be positive", fn, E, N));
  if (K <= 0 || K % mxfp4::kBlockSize != 0)
    throw std::invalid_argument(fmt::format("{}: K (= {}) must be a positive multiple of 32", fn, K));
  if (scale_min > scale_max)
    throw std::invalid_argument(fmt::format("{}: scale_min (= {}) must be <= scale_max (= {})", fn, scale_min, scale_max));
  mxfp4::Mxfp4Matrix m;
  m.rows = E * N;
  m.cols = K;
  m.packed.resize(size_t(E * N * K / 2));
  m.scales.resize(size_t(E * N * K / mxfp4::kBlockSize));
  // Four code bytes per 32-bit draw (uniform bytes; a GPT-OSS expert set is 600 MB).
  for (size_t i = 0; i < m.packed.size(); i += 4) {
    const uint32_t r = uint32_t(rng());
    for (size_t j = 0; j < 4 && i + j < m.packed.size(); ++j) m.packed[i + j] = uint8_t(r >> (8 * j));
  }
  std::uniform_int_distribution<int> scale(scale_min, scale_max);
  for (auto& s : m.scales) s = uint8_t(scale(rng));
  return m;
}

void plant_scales(std::mt19937& rng, mxfp4::Mxfp4Matrix& w, int64_t N, int64_t expert, int count, int64_t rows,
                  int64_t first_block, uint8_t lo, uint8_t hi) {
  const int64_t blocks = w.cols / mxfp4::kBlockSize;
  if (N <= 0 || w.rows % N || expert < 0 || expert >= w.rows / N || rows <= 0 || rows > N || first_block < 0 ||
      first_block >= blocks || lo > hi || count < 0)
    throw std::invalid_argument(fmt::format("plant_scales: expert {}, rows < {}, blocks {}.. and [{}, {}] are not a "
                                            "region of the {} x {} scales with {} rows per expert",
                                            expert, rows, first_block, lo, hi, w.rows, blocks, N));
  std::uniform_int_distribution<int64_t> row(0, rows - 1), block(first_block, blocks - 1);
  std::uniform_int_distribution<int> value(lo, hi);
  for (int i = 0; i < count; ++i) w.scales[size_t((expert * N + row(rng)) * blocks + block(rng))] = uint8_t(value(rng));
}

}  // namespace tilejit::moe
