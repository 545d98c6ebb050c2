// Probes of the three MMA rounding models through mma_dot: the isa-semantics.md §5.1 Hopper probes, CDNA3 group steps, exact rounding.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <vector>

#include "dsl/matrix/mma.h"
#include "matrix_test_util.h"

namespace tilejit::matrix::test {
namespace {

double p2(int e) { return std::ldexp(1.0, e); }
constexpr double kInf = std::numeric_limits<double>::infinity();

/// A K-long dot product built from chosen (a, b) pairs at chosen k positions; every other position
/// holds a random bf16 times ±0, so zero products of any sign and partner surround the probe.
class Probe {
 public:
  Probe(int k, uint32_t seed) : rng_(seed), a_(k), b_(k), used_(k, false) {
    std::uniform_int_distribution<int> sign(0, 1);
    for (int i = 0; i < k; ++i) {
      const uint16_t x = random_bf16(rng_, -20, 20), zero = uint16_t(sign(rng_) << 15);
      if (sign(rng_)) a_[i] = x, b_[i] = zero;
      else a_[i] = zero, b_[i] = x;
    }
  }
  /// Puts a·b at position k.
  Probe& at(int k, double a, double b) {
    EXPECT_FALSE(used_[k]) << "position " << k << " used twice";
    used_[k] = true;
    a_[k] = exact_bf16(a);
    b_[k] = exact_bf16(b);
    return *this;
  }
  /// Puts a·b at a random unused position in [lo, hi).
  Probe& in(int lo, int hi, double a, double b) {
    std::vector<int> free;
    for (int k = lo; k < hi; ++k)
      if (!used_[k]) free.push_back(k);
    EXPECT_FALSE(free.empty());
    return at(free[std::uniform_int_distribution<size_t>(0, free.size() - 1)(rng_)], a, b);
  }
  Probe& anywhere(double a, double b) { return in(0, int(a_.size()), a, b); }
  Probe& raw(int k, uint16_t a, uint16_t b) {
    used_[k] = true;
    a_[k] = a;
    b_[k] = b;
    return *this;
  }
  uint32_t run(MmaNumerics n, float c) const { return f32_bits(mma_dot(n, a_.data(), b_.data(), int(a_.size()), c)); }
  std::mt19937& rng() { return rng_; }

 private:
  std::mt19937 rng_;
  std::vector<uint16_t> a_, b_;
  std::vector<bool> used_;
};

uint32_t bits(double v) { return f32_bits(float(v)); }

#define SEEDED()                  \
  const uint32_t seed = fresh_seed(); \
  SCOPED_TRACE(fmt::format("seed {}", seed))

// ---------------------------------------------------------------------------------------------
// Sm90Truncate (isa-semantics.md §5.1, each checked on the H100).

TEST(Sm90Probe, OnePlusOneAndAHalfTimesTwoPowMinus24TruncatesToOne) {
  SEEDED();
  // As a product plus C, and as two products.
  Probe p1(16, seed);
  p1.anywhere(1.5 * p2(-24), 1.0);
  EXPECT_EQ(p1.run(MmaNumerics::Sm90Truncate, 1.0f), 0x3F800000u);
  EXPECT_EQ(p1.run(MmaNumerics::Exact, 1.0f), 0x3F800001u);  // RNE rounds up
  Probe p2_(16, seed + 1);
  p2_.anywhere(1.0, 1.0).anywhere(1.5 * p2(-12), p2(-12));
  EXPECT_EQ(p2_.run(MmaNumerics::Sm90Truncate, 0.0f), 0x3F800000u);
  // Toward zero for negative sums too.
  Probe p3(16, seed + 2);
  p3.anywhere(-1.5 * p2(-24), 1.0);
  EXPECT_EQ(p3.run(MmaNumerics::Sm90Truncate, -1.0f), 0xBF800000u);
  EXPECT_EQ(p3.run(MmaNumerics::Exact, -1.0f), 0xBF800001u);
}

TEST(Sm90Probe, ATwoPowMinus25TermIsKeptAndATwoPowMinus26TermDropped) {
  SEEDED();
  // 1 - 2^-25: the term survives alignment (25 fractional bits), and RZ gives 1 - 2^-24.
  Probe kept(16, seed);
  kept.anywhere(-p2(-25), 1.0);
  EXPECT_EQ(kept.run(MmaNumerics::Sm90Truncate, 1.0f), bits(1.0 - p2(-24)));
  EXPECT_EQ(kept.run(MmaNumerics::Exact, 1.0f), bits(1.0));  // a tie, to even
  // 1 - 2^-26: the term truncates to 0 before the sum.
  Probe dropped(16, seed + 1);
  dropped.anywhere(-p2(-26), 1.0);
  EXPECT_EQ(dropped.run(MmaNumerics::Sm90Truncate, 1.0f), bits(1.0));
  // Four such terms: four 2^-25 add up to a visible 2^-23, four 2^-26 still vanish.
  Probe four25(16, seed + 2), four26(16, seed + 3);
  for (int i = 0; i < 4; ++i) four25.anywhere(p2(-25), 1.0), four26.anywhere(p2(-26), 1.0);
  EXPECT_EQ(four25.run(MmaNumerics::Sm90Truncate, 1.0f), bits(1.0 + p2(-23)));
  EXPECT_EQ(four26.run(MmaNumerics::Sm90Truncate, 1.0f), bits(1.0));
  EXPECT_EQ(four26.run(MmaNumerics::Exact, 1.0f), bits(1.0));  // exact 1 + 2^-24: a tie, to even
}

TEST(Sm90Probe, SubnormalResultsTruncateWhereRneRoundsUp) {
  SEEDED();
  // 1.75·2^-149 as one product: RZ keeps 2^-149, RNE gives 2^-148.
  Probe p(16, seed);
  p.anywhere(1.75 * p2(-75), p2(-74));
  EXPECT_EQ(p.run(MmaNumerics::Sm90Truncate, 0.0f), 0x00000001u);
  EXPECT_EQ(p.run(MmaNumerics::Exact, 0.0f), 0x00000002u);
  // Subnormal bf16 inputs are kept: 2^-133 · 2^100 = 2^-33.
  Probe q(16, seed + 1);
  q.raw(3, 0x0001, exact_bf16(p2(100)));
  EXPECT_EQ(q.run(MmaNumerics::Sm90Truncate, 0.0f), bits(p2(-33)));
}

TEST(Sm90Probe, SpecialValues) {
  SEEDED();
  std::mt19937 rng(seed);
  const uint16_t nan = 0x7FC1, inf = 0x7F80, ninf = 0xFF80, two = exact_bf16(2.0);
  auto run = [&](uint16_t a0, uint16_t b0, uint16_t a1, uint16_t b1, float c) {
    Probe p(16, uint32_t(rng()));
    p.raw(0, a0, b0).raw(9, a1, b1);
    return p.run(MmaNumerics::Sm90Truncate, c);
  };
  EXPECT_EQ(run(nan, two, two, two, 1.0f), 0x7FFFFFFFu);                                    // NaN input
  EXPECT_EQ(run(two, two, two, two, std::numeric_limits<float>::quiet_NaN()), 0x7FFFFFFFu);  // NaN C
  EXPECT_EQ(run(inf, two, two, two, 1.0f), 0x7F800000u);                                    // Inf + finite
  EXPECT_EQ(run(inf, two, ninf, two, 1.0f), 0x7FFFFFFFu);                                   // Inf - Inf
  EXPECT_EQ(run(inf, 0x8000, two, two, 1.0f), 0x7FFFFFFFu);                                 // Inf · 0
  EXPECT_EQ(run(two, two, two, two, -float(kInf)), 0xFF800000u);                            // C = -Inf
  // Finite products past f32's range: Inf (2^127·2 = 2^128). A cancelling pair still sets the
  // alignment exponent to 128, so C = 1 truncates away: +0.
  EXPECT_EQ(run(exact_bf16(p2(127)), two, two, two, 1.0f), 0x7F800000u);
  EXPECT_EQ(run(exact_bf16(p2(127)), two, exact_bf16(-p2(127)), two, 1.0f), 0u);
}

TEST(Sm90Probe, ZeroResultsArePositive) {
  SEEDED();
  Probe p(16, seed);
  p.anywhere(3.0, 1.0).anywhere(-3.0, 1.0);
  EXPECT_EQ(p.run(MmaNumerics::Sm90Truncate, 0.0f), 0u);
  EXPECT_EQ(p.run(MmaNumerics::Sm90Truncate, -0.0f), 0u);
  // A negative sum below the smallest subnormal truncates to +0 (MMA-Sim's int()).
  Probe q(16, seed + 1);
  q.anywhere(-p2(-75), p2(-75));
  EXPECT_EQ(q.run(MmaNumerics::Sm90Truncate, 0.0f), 0u);
  EXPECT_EQ(q.run(MmaNumerics::Exact, 0.0f), 0x80000000u);  // RNE of -2^-150: a tie to -0
}

// ---------------------------------------------------------------------------------------------
// Cdna3 (isa-semantics.md §1.4): groups of 8 in K order.

TEST(Cdna3Probe, ProductsTruncateTowardZeroAgainstTheirGroupsMaximum) {
  SEEDED();
  for (double sign : {1.0, -1.0}) {
    // Seven ±2^-26 next to 1.0 in one group: each is below 24 fractional bits and vanishes (toward zero).
    Probe same(16, seed);
    same.in(0, 8, 1.0, 1.0);
    for (int i = 0; i < 7; ++i) same.in(0, 8, sign * p2(-13), p2(-13));
    EXPECT_EQ(same.run(MmaNumerics::Cdna3, 0.0f), bits(1.0)) << "sign " << sign;
    // Exact: 1 + 7·2^-26 rounds to 1 + 2^-23; 1 - 7·2^-26 (spacing 2^-24 below 1) to 1 - 2^-23.
    EXPECT_EQ(same.run(MmaNumerics::Exact, 0.0f), bits(1.0 + sign * p2(-23))) << "sign " << sign;
    // Eight in the other group keep their exact sum ±2^-23.
    Probe other(16, seed + 1);
    other.in(0, 8, 1.0, 1.0);
    for (int i = 0; i < 8; ++i) other.in(8, 16, sign * p2(-13), p2(-13));
    EXPECT_EQ(other.run(MmaNumerics::Cdna3, 0.0f), bits(1.0 + sign * p2(-23))) << "sign " << sign;
  }
}

TEST(Cdna3Probe, AccumulatorIsFlooredToTwentyFourBitsAtTheCommonExponent) {
  SEEDED();
  // C = -(1 + 2^-23) meets a product 4 (E = 2): floor(-(2^22 + 1/2)) drops C to -(1 + 2^-22),
  // so D = 3 - 2^-22; the exact sum 3 - 2^-23 is a tie that rounds to 3.
  Probe p(32, seed);
  p.in(0, 8, 4.0, 1.0);
  const float c = -float(1.0 + p2(-23));
  EXPECT_EQ(p.run(MmaNumerics::Cdna3, c), bits(3.0 - p2(-22)));
  EXPECT_EQ(p.run(MmaNumerics::Exact, c), bits(3.0));
  // When the accumulator sets E itself (product 0.5, E = 0) nothing is floored away:
  // -(1 + 2^-23) + 0.5 = -(0.5 + 2^-23) exactly.
  Probe q(32, seed + 1);
  q.in(0, 32, 0.5, 1.0);
  EXPECT_EQ(q.run(MmaNumerics::Cdna3, c), bits(-0.5 - p2(-23)));
}

TEST(Cdna3Probe, GroupSumIsFlooredToThirtyOneBitsAtTheCommonExponent) {
  SEEDED();
  // C = 2 + 2^-22 (odd last bit). Products -2^-23 and +2^-45 share a group (2^-45 is within 24 bits
  // of 2^-23). At E = 1 the sum -2^-23 + 2^-45 floors to -2^-23 exactly, so D = 2 + 2^-23 is a tie
  // and rounds to the even 2. The exact sum is just above the tie: 2 + 2^-22. (Truncation toward
  // zero instead of floor would also give 2 + 2^-22.)
  Probe p(16, seed);
  const int group = std::uniform_int_distribution<int>(0, 1)(p.rng()) * 8;
  p.in(group, group + 8, -p2(-23), 1.0).in(group, group + 8, p2(-45), 1.0);
  const float c = float(2.0 + p2(-22));
  EXPECT_EQ(p.run(MmaNumerics::Cdna3, c), bits(2.0));
  EXPECT_EQ(p.run(MmaNumerics::Exact, c), bits(2.0 + p2(-22)));
}

TEST(Cdna3Probe, EachGroupRoundsToNearestEven) {
  SEEDED();
  // 1 + 1.5·2^-24 rounds up (RNE), unlike Sm90Truncate.
  Probe up(16, seed);
  up.anywhere(1.5 * p2(-24), 1.0);
  EXPECT_EQ(up.run(MmaNumerics::Cdna3, 1.0f), bits(1.0 + p2(-23)));
  EXPECT_EQ(up.run(MmaNumerics::Sm90Truncate, 1.0f), bits(1.0));
  // 2^-24 in each of two groups: each group's tie rounds back to 1; fused (Sm90, Exact) they make 2^-23.
  Probe two(16, seed + 1);
  two.in(0, 8, p2(-24), 1.0).in(8, 16, p2(-24), 1.0);
  EXPECT_EQ(two.run(MmaNumerics::Cdna3, 1.0f), bits(1.0));
  EXPECT_EQ(two.run(MmaNumerics::Exact, 1.0f), bits(1.0 + p2(-23)));
  EXPECT_EQ(two.run(MmaNumerics::Sm90Truncate, 1.0f), bits(1.0 + p2(-23)));
}

TEST(Cdna3Probe, SpecialValuesAndProductOverflow) {
  SEEDED();
  const double big = p2(127);
  // Products of 2^128 and -2^128 count as +Inf and -Inf: NaN, although they cancel exactly.
  Probe cancel(16, seed);
  cancel.in(0, 8, big, 2.0).in(0, 8, -big, 2.0);
  EXPECT_TRUE(std::isnan(f32_from_bits(cancel.run(MmaNumerics::Cdna3, 1.0f))));
  EXPECT_EQ(cancel.run(MmaNumerics::Exact, 1.0f), bits(1.0));
  // One overflowing product is +Inf, and the Inf accumulator stays through later groups.
  Probe one(32, seed + 1);
  one.in(0, 8, big, 2.0).in(8, 32, -1.0, 1.0);
  EXPECT_EQ(one.run(MmaNumerics::Cdna3, 1.0f), 0x7F800000u);
  // NaN inputs and Inf · 0.
  Probe nan(16, seed + 2);
  nan.raw(5, 0x7FC1, exact_bf16(1.0));
  EXPECT_TRUE(std::isnan(f32_from_bits(nan.run(MmaNumerics::Cdna3, 1.0f))));
  Probe inf0(16, seed + 3);
  inf0.raw(12, 0x7F80, 0x0000);
  EXPECT_TRUE(std::isnan(f32_from_bits(inf0.run(MmaNumerics::Cdna3, 1.0f))));
  EXPECT_EQ(inf0.run(MmaNumerics::Cdna3, 0.0f) & 0x7FC00000u, 0x7FC00000u);
}

// ---------------------------------------------------------------------------------------------
// Exact: one RNE rounding of the exact sum, with ties and sticky bits anywhere in the range.

TEST(ExactModel, TiesAndStickyBitsAcrossTheWholeRange) {
  SEEDED();
  const double tiny = p2(-133);  // the smallest bf16 subnormal; tiny² = 2^-266
  for (int s : {0, 1, -1}) {
    SCOPED_TRACE(fmt::format("sticky {}", s));
    // Subnormal tie: 2^-149 + 2^-150 lies between 2^-149 (odd) and 2^-148 (even).
    Probe sub(32, seed + uint32_t(s + 1));
    sub.anywhere(p2(-75), p2(-75));
    if (s) sub.anywhere(s * tiny, tiny);
    EXPECT_EQ(sub.run(MmaNumerics::Exact, f32_from_bits(1)), s < 0 ? 1u : 2u);
    // Normal tie: 1 + 2^-24 between 1 (even) and 1 + 2^-23, broken by a 2^-200 far below.
    Probe one(32, seed + 7 + uint32_t(s + 1));
    one.anywhere(p2(-12), p2(-12));
    if (s) one.anywhere(s * p2(-100), p2(-100));
    EXPECT_EQ(one.run(MmaNumerics::Exact, 1.0f), s > 0 ? bits(1.0 + p2(-23)) : bits(1.0));
  }
}

TEST(ExactModel, CancellationOverflowAndSignedZero) {
  SEEDED();
  std::mt19937 rng(seed);
  // 2^200 - 2^200 + c is c exactly, for any f32 c.
  for (int rep = 0; rep < 50; ++rep) {
    const float c = f32_from_bits(uint32_t(random_bf16(rng, -126, 127, 4)) << 16 | (rng() & 0xFFFFu));
    Probe p(16, uint32_t(rng()));
    p.anywhere(p2(100), p2(100)).anywhere(-p2(100), p2(100));
    EXPECT_EQ(p.run(MmaNumerics::Exact, c), f32_bits(c)) << c;
  }
  Probe over(16, seed + 1);
  over.anywhere(p2(127), 2.0);
  EXPECT_EQ(over.run(MmaNumerics::Exact, -1.0f), 0x7F800000u);
  Probe under(16, seed + 2);
  under.anywhere(-p2(127), 2.0);
  EXPECT_EQ(under.run(MmaNumerics::Exact, 1.0f), 0xFF800000u);
  // x - x is +0; only when every addend is -0 is the sum -0.
  Probe cancel(16, seed + 3);
  cancel.anywhere(1.5, 3.0).anywhere(-1.5, 3.0);
  EXPECT_EQ(cancel.run(MmaNumerics::Exact, -0.0f), 0u);
  std::vector<uint16_t> a(16), b(16);
  for (int i = 0; i < 16; ++i) {
    a[i] = random_bf16(rng, -20, 20);
    b[i] = uint16_t(a[i] & 0x8000u ? 0x0000u : 0x8000u);  // opposite sign zero: product -0
  }
  EXPECT_EQ(f32_bits(mma_dot(MmaNumerics::Exact, a.data(), b.data(), 16, -0.0f)), 0x80000000u);
  EXPECT_EQ(f32_bits(mma_dot(MmaNumerics::Exact, a.data(), b.data(), 16, 0.0f)), 0u);
  // NaN and Inf.
  a[4] = 0x7FC1;
  EXPECT_EQ(f32_bits(mma_dot(MmaNumerics::Exact, a.data(), b.data(), 16, 1.0f)), 0x7FC00000u);
}

}  // namespace
}  // namespace tilejit::matrix::test
