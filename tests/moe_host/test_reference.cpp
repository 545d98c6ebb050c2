// Tests of the reference stage 2 against a naive loop, and of the once-rounded double -> bf16 conversion.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/moe/host/moe_host.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::moe {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

constexpr double kGrid[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};

// W[e][n][k] decoded here from the nibbles and 2^(scale - 127).
double naive_weight(const mxfp4::Mxfp4Matrix& w, int64_t e, int64_t n, int64_t k, int64_t N, int64_t K) {
  const int64_t row = e * N + n;
  const uint8_t byte = w.packed[size_t(row * K / 2 + k / 2)];
  const int code = (k % 2 == 0) ? (byte & 0xF) : (byte >> 4);
  const double v = (code & 8) ? -kGrid[code & 7] : kGrid[code & 7];
  return v * std::ldexp(1.0, int(w.scales[size_t(row * K / 32 + k / 32)]) - 127);
}

struct Problem {
  Stage2Shape shape;
  std::vector<uint16_t> a;
  mxfp4::Mxfp4Matrix w;
  std::vector<float> bias;
  Routing routing;
  Stage2Inputs inputs() const { return {a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights}; }
};

Problem make_problem(std::mt19937& rng, int64_t tokens, int64_t topk, int64_t E, int64_t N, int64_t K, bool bias) {
  Problem p;
  p.shape = {tokens, topk, E, N, K};
  p.a = random_bf16_normal(rng, size_t(tokens * topk * K));
  p.w = random_mxfp4_weights(rng, E, N, K);
  if (bias) p.bias = random_f32_normal(rng, size_t(E * N));
  p.routing = random_routing(rng, tokens, topk, E);
  return p;
}

// The formula, one output element at a time, pairs in (token, slot) order.
std::vector<double> naive(const Problem& p, const Stage2Options& o) {
  const auto& s = p.shape;
  const int64_t rows = o.accumulate ? s.tokens : s.tokens * s.topk;
  std::vector<double> out(size_t(rows * s.model_dim), 0.0);
  for (int64_t t = 0; t < s.tokens; ++t)
    for (int64_t j = 0; j < s.topk; ++j) {
      const int64_t e = p.routing.topk_ids[size_t(t * s.topk + j)];
      const double w = o.doweight ? double(p.routing.topk_weights[size_t(t * s.topk + j)]) : 1.0;
      for (int64_t n = 0; n < s.model_dim; ++n) {
        double acc = 0.0;
        for (int64_t k = 0; k < s.inter_dim; ++k)
          acc += double(ir::bf16_to_f32(p.a[size_t((t * s.topk + j) * s.inter_dim + k)])) *
                 naive_weight(p.w, e, n, k, s.model_dim, s.inter_dim);
        if (!p.bias.empty()) acc += double(p.bias[size_t(e * s.model_dim + n)]);
        const int64_t row = o.accumulate ? t : t * s.topk + j;
        out[size_t(row * s.model_dim + n)] += w * acc;
      }
    }
  return out;
}

// Once-rounded double -> bf16, written with frexp: quantum of the binade, ties to an even multiple.
double bf16_round_formula(double x) {
  const double a = std::fabs(x);
  if (a == 0.0) return x;
  int e = 0;
  std::frexp(a, &e);                       // a in [2^(e-1), 2^e)
  const int q_exp = std::max(e - 1, -126) - 7;  // bf16: 8 significant bits, subnormal quantum 2^-133
  const double q = std::ldexp(1.0, q_exp);
  const double lo = std::floor(a / q) * q, hi = lo + q;
  double r = (a - lo < hi - a) ? lo : (a - lo > hi - a) ? hi : (std::fmod(lo / q, 2.0) == 0.0 ? lo : hi);
  if (r >= 0x1p128) r = INFINITY;
  return std::copysign(r, x);
}

TEST(Stage2Reference, MatchesNaiveLoopForEveryOption) {
  SeededRng rng;
  for (int trial = 0; trial < 40; ++trial) {
    const int64_t topk = uniform(*rng, 1, 3), E = uniform(*rng, topk, 5);
    const bool bias = trial % 2 == 0;
    const Problem p = make_problem(*rng, uniform(*rng, 1, 5), topk, E, uniform(*rng, 1, 6), 32 * uniform(*rng, 1, 3), bias);
    for (bool doweight : {false, true})
      for (bool accumulate : {false, true})
        for (OutputType ot : {OutputType::f32, OutputType::bf16}) {
          SCOPED_TRACE(testing::Message() << "trial " << trial << " doweight " << doweight << " accumulate " << accumulate
                                          << " bf16 " << (ot == OutputType::bf16) << " bias " << bias);
          const Stage2Options o{doweight, accumulate, ot};
          const Stage2Result r = moe_stage2_reference(p.shape, p.inputs(), o);
          const std::vector<double> want = naive(p, o);
          ASSERT_EQ(r.rows, accumulate ? p.shape.tokens : p.shape.tokens * p.shape.topk);
          ASSERT_EQ(r.cols, p.shape.model_dim);
          ASSERT_EQ(r.exact.size(), want.size());
          ASSERT_EQ(r.out_f32.size(), ot == OutputType::f32 ? want.size() : 0u);
          ASSERT_EQ(r.out_bf16.size(), ot == OutputType::bf16 ? want.size() : 0u);
          for (size_t i = 0; i < want.size(); ++i) {
            // Per-slot rows are the same sums in the same order; summed slots may differ in order.
            if (!accumulate || p.shape.topk == 1)
              ASSERT_EQ(r.exact[i], want[i]) << "element " << i;
            else
              ASSERT_NEAR(r.exact[i], want[i], 1e-12 * (1.0 + std::fabs(want[i]))) << "element " << i;
            // The output is the exact value rounded once.
            if (ot == OutputType::f32)
              ASSERT_EQ(r.out_f32[i], float(r.exact[i])) << "element " << i;
            else
              ASSERT_EQ(double(ir::bf16_to_f32(r.out_bf16[i])), bf16_round_formula(r.exact[i])) << "element " << i;
          }
        }
  }
}

TEST(Stage2Reference, SortedVariantAgrees) {
  SeededRng rng;
  for (int trial = 0; trial < 10; ++trial) {
    const int64_t E = uniform(*rng, 4, 12), topk = uniform(*rng, 1, 4), tokens = uniform(*rng, 1, 20);
    Problem p = make_problem(*rng, tokens, topk, E, uniform(*rng, 1, 24), 32 * uniform(*rng, 1, 4), trial % 3 != 0);
    RoutingOptions ro;
    ro.empty_experts = uniform(*rng, 0, E - topk);
    p.routing = random_routing(*rng, tokens, topk, E, ro);
    const SortedRouting sorted = moe_sorting(p.routing.topk_ids, p.routing.topk_weights, tokens, topk, E, uniform(*rng, 1, 16));
    for (bool accumulate : {false, true}) {
      const Stage2Options o{true, accumulate, OutputType::f32};
      const Stage2Result a = moe_stage2_reference(p.shape, p.inputs(), o);
      const Stage2Result b = moe_stage2_reference_sorted(p.shape, p.inputs(), sorted, o);
      ASSERT_EQ(a.exact.size(), b.exact.size());
      for (size_t i = 0; i < a.exact.size(); ++i)
        ASSERT_NEAR(a.exact[i], b.exact[i], 1e-12 * (1.0 + std::fabs(a.exact[i]))) << "element " << i;
    }
  }
}

TEST(Stage2Reference, ArgumentErrorsNameTheArgument) {
  SeededRng rng;
  const Problem p = make_problem(*rng, 3, 2, 4, 5, 64, true);
  Stage2Inputs in = p.inputs();
  in.a = in.a.first(in.a.size() - 1);
  expect_throw_with<std::invalid_argument>([&] { moe_stage2_reference(p.shape, in); }, {"a", "tokens*topk*inter_dim"});
  in = p.inputs();
  in.w_packed = in.w_packed.first(10);
  expect_throw_with<std::invalid_argument>([&] { moe_stage2_reference(p.shape, in); }, {"w_packed"});
  in = p.inputs();
  in.w_scales = in.w_scales.first(10);
  expect_throw_with<std::invalid_argument>([&] { moe_stage2_reference(p.shape, in); }, {"w_scales"});
  in = p.inputs();
  in.bias = in.bias.first(3);
  expect_throw_with<std::invalid_argument>([&] { moe_stage2_reference(p.shape, in); }, {"bias"});
  Stage2Shape bad = p.shape;
  bad.inter_dim = 48;
  expect_throw_with<std::invalid_argument>([&] { moe_stage2_reference(bad, p.inputs()); }, {"inter_dim", "48"});
  std::vector<int32_t> ids = p.routing.topk_ids;
  ids[3] = 4;  // token 1, slot 1
  in = p.inputs();
  in.topk_ids = ids;
  expect_throw_with<std::invalid_argument>([&] { moe_stage2_reference(p.shape, in); }, {"token 1", "slot 1"});
}

TEST(Bf16Round, MatchesOnceRoundedFormula) {
  SeededRng rng;
  std::uniform_real_distribution<double> mant(1.0, 2.0);
  for (int i = 0; i < 200000; ++i) {
    const double x = std::ldexp(mant(*rng), int(uniform(*rng, -140, 130))) * (uniform(*rng, 0, 1) ? -1.0 : 1.0);
    const double want = bf16_round_formula(x);
    const float got = ir::bf16_to_f32(double_to_bf16(x));
    ASSERT_EQ(double(got), want) << "x = " << x;
    ASSERT_EQ(std::signbit(got), std::signbit(want));
  }
  // Values just above a bf16 tie that an f32 intermediate would round onto the tie.
  for (int i = 0; i < 20000; ++i) {
    const int ex = int(uniform(*rng, -120, 120));
    const double b = std::ldexp(double(uniform(*rng, 128, 255)), ex);  // a bf16 value, quantum 2^ex
    for (double d : {0.5 + 0x1p-20, 0.5 - 0x1p-20, 0.5})
      for (double sign : {1.0, -1.0}) {
        const double x = sign * (b + d * std::ldexp(1.0, ex));
        ASSERT_EQ(double(ir::bf16_to_f32(double_to_bf16(x))), bf16_round_formula(x)) << "x = " << x;
      }
  }
  EXPECT_EQ(double_to_bf16(0x1p200), 0x7F80);
  EXPECT_EQ(double_to_bf16(-0x1p200), 0xFF80);
  EXPECT_EQ(double_to_bf16(-0.0), 0x8000);
  EXPECT_TRUE(std::isnan(ir::bf16_to_f32(double_to_bf16(NAN))));
}

}  // namespace
}  // namespace tilejit::moe
