// Tests of the random input generators for MoE tests.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/moe/host/moe_host.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::moe {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

TEST(Inputs, RoutingHasDistinctExpertsAndSoftmaxWeights) {
  SeededRng rng;
  for (int trial = 0; trial < 50; ++trial) {
    const int64_t E = uniform(*rng, 1, 64), topk = uniform(*rng, 1, std::min<int64_t>(E, 8)), tokens = uniform(*rng, 1, 100);
    RoutingOptions opt;
    opt.empty_experts = uniform(*rng, 0, E - topk);
    opt.skew = double(uniform(*rng, 0, 20)) / 10.0;
    const Routing r = random_routing(*rng, tokens, topk, E, opt);
    ASSERT_EQ(int64_t(r.topk_ids.size()), tokens * topk);
    ASSERT_EQ(int64_t(r.topk_weights.size()), tokens * topk);
    ASSERT_EQ(int64_t(r.empty_experts.size()), opt.empty_experts);
    ASSERT_TRUE(std::is_sorted(r.empty_experts.begin(), r.empty_experts.end()));
    for (int64_t t = 0; t < tokens; ++t) {
      std::set<int32_t> seen;
      double sum = 0.0;
      for (int64_t s = 0; s < topk; ++s) {
        const int32_t e = r.topk_ids[size_t(t * topk + s)];
        ASSERT_GE(e, 0);
        ASSERT_LT(e, E);
        ASSERT_FALSE(std::binary_search(r.empty_experts.begin(), r.empty_experts.end(), e)) << "forced-empty expert used";
        ASSERT_TRUE(seen.insert(e).second) << "expert " << e << " twice in token " << t;
        const float w = r.topk_weights[size_t(t * topk + s)];
        ASSERT_GT(w, 0.0f);
        sum += w;
      }
      ASSERT_NEAR(sum, 1.0, 1e-5) << "token " << t;
    }
  }
}

TEST(Inputs, SkewMakesRaggedCounts) {
  SeededRng rng;
  const int64_t E = 16, topk = 2, tokens = 2000;
  RoutingOptions opt;
  opt.skew = 1.5;
  const Routing r = random_routing(*rng, tokens, topk, E, opt);
  std::vector<int64_t> count(size_t(E), 0);
  for (int32_t e : r.topk_ids) ++count[size_t(e)];
  const auto [mn, mx] = std::minmax_element(count.begin(), count.end());
  EXPECT_GT(*mx, 4 * std::max<int64_t>(*mn, 1)) << "skewed routing should load experts unevenly";
  const Routing u = random_routing(*rng, tokens, topk, E);
  std::fill(count.begin(), count.end(), 0);
  for (int32_t e : u.topk_ids) ++count[size_t(e)];
  for (int64_t c : count) EXPECT_NEAR(double(c), double(tokens * topk) / E, 0.3 * double(tokens * topk) / E);
}

TEST(Inputs, NormalBf16Activations) {
  SeededRng rng;
  const float sd = float(uniform(*rng, 1, 4)) / 2.0f;
  const std::vector<uint16_t> v = random_bf16_normal(*rng, 200000, sd);
  double sum = 0.0, sq = 0.0;
  std::set<uint16_t> distinct;
  for (uint16_t b : v) {
    const double x = ir::bf16_to_f32(b);
    ASSERT_TRUE(std::isfinite(x));
    sum += x;
    sq += x * x;
    distinct.insert(b);
  }
  const double mean = sum / double(v.size()), var = sq / double(v.size()) - mean * mean;
  EXPECT_NEAR(mean, 0.0, 0.02 * sd);
  EXPECT_NEAR(std::sqrt(var), sd, 0.02 * sd);
  EXPECT_GT(distinct.size(), 1000u);
}

TEST(Inputs, RandomMxfp4WeightsCoverCodesAndStayInScaleRange) {
  SeededRng rng;
  const int64_t E = uniform(*rng, 1, 4), N = uniform(*rng, 1, 40), K = 32 * uniform(*rng, 1, 8);
  const uint8_t lo = uint8_t(uniform(*rng, 100, 127)), hi = uint8_t(lo + uniform(*rng, 0, 6));
  const mxfp4::Mxfp4Matrix w = random_mxfp4_weights(*rng, E, N, K, lo, hi);
  ASSERT_EQ(w.rows, E * N);
  ASSERT_EQ(w.cols, K);
  ASSERT_EQ(int64_t(w.packed.size()), E * N * K / 2);
  ASSERT_EQ(int64_t(w.scales.size()), E * N * K / 32);
  std::set<int> codes, scales;
  for (uint8_t b : w.packed) codes.insert(b & 0xF), codes.insert(b >> 4);
  for (uint8_t s : w.scales) {
    ASSERT_GE(s, lo);
    ASSERT_LE(s, hi);
    scales.insert(s);
  }
  EXPECT_EQ(codes.size(), 16u);
  if (w.scales.size() >= 64) EXPECT_EQ(int(scales.size()), hi - lo + 1);
  expect_throw_with<std::invalid_argument>([&] { random_mxfp4_weights(*rng, 1, 1, 40); }, {"K", "40"});
  expect_throw_with<std::invalid_argument>([&] { random_mxfp4_weights(*rng, 1, 1, 32, 130, 120); }, {"scale_min"});
}

TEST(Inputs, RoutingArgumentErrors) {
  SeededRng rng;
  RoutingOptions opt;
  opt.empty_experts = 3;
  expect_throw_with<std::invalid_argument>([&] { random_routing(*rng, 4, 2, 4, opt); }, {"topk", "empty_experts"});
  expect_throw_with<std::invalid_argument>([&] { random_routing(*rng, 4, 0, 4); }, {"topk"});
  expect_throw_with<std::invalid_argument>([&] { random_routing(*rng, -1, 1, 4); }, {"tokens"});
  opt = {};
  opt.skew = -1.0;
  expect_throw_with<std::invalid_argument>([&] { random_routing(*rng, 4, 1, 4, opt); }, {"skew"});
}

}  // namespace
}  // namespace tilejit::moe
