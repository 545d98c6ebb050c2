// Tests of E2M1 and E8M0 coding against formulas written independently here.
#include <gtest/gtest.h>

#include <bit>
#include <cfloat>
#include <cmath>
#include <limits>

#include "kernels/mxfp4/mxfp4.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::mxfp4 {
namespace {

using testing_support::SeededRng;

// E2M1 by its bit fields: sign bit 3, exponent bits 2..1 (bias 1), mantissa bit 0.
double e2m1_formula(int code) {
  const int sign = (code >> 3) & 1, exp = (code >> 1) & 3, man = code & 1;
  const double mag = exp == 0 ? man * 0.5 : (1.0 + man * 0.5) * std::ldexp(1.0, exp - 1);
  return sign ? -mag : mag;
}

// E8M0 as the reference decoding defines it: 2^(s-127), 255 is NaN.
double e8m0_formula(int s) { return s == 255 ? std::numeric_limits<double>::quiet_NaN() : std::ldexp(1.0, s - 127); }

// Nearest E2M1 code by search over the grid, ties to the even code, saturating at 6.
uint8_t nearest_e2m1(float x) {
  const double a = std::fabs(double(x));
  int best = 7;
  if (a < 6.0) {
    double best_d = INFINITY;
    for (int c = 0; c < 8; ++c) {
      const double d = std::fabs(a - e2m1_formula(c));
      if (d < best_d || (d == best_d && c % 2 == 0)) best_d = d, best = c;
    }
  }
  return uint8_t(best | (std::signbit(x) ? 8 : 0));
}

TEST(E2M1, TableMatchesBitFields) {
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(double(e2m1_to_float(uint8_t(c))), e2m1_formula(c)) << "code " << c;
    EXPECT_EQ(std::signbit(e2m1_to_float(uint8_t(c))), c >= 8) << "code " << c;  // code 8 is -0
    EXPECT_EQ(e2m1_to_float(uint8_t(c | 0xF0)), e2m1_to_float(uint8_t(c))) << "high bits ignored, code " << c;
  }
}

TEST(E2M1, EveryCodeTimesEdgeScalesIsExact) {
  SeededRng rng;
  for (int s : {0, 1, 127, 254, 255}) {
    for (int c = 0; c < 16; ++c) {
      // A block of 32 copies of code c in random positions mixed with code c ^ 1.
      std::array<uint8_t, 16> packed;
      std::array<int, 32> codes;
      for (int i = 0; i < 32; ++i) codes[i] = ((*rng)() & 1) ? c : (c ^ 1);
      codes[size_t(testing_support::uniform(*rng, 0, 31))] = c;
      for (int i = 0; i < 16; ++i) packed[i] = uint8_t(codes[2 * i] | (codes[2 * i + 1] << 4));
      std::array<float, 32> out;
      out.fill(std::bit_cast<float>(0x7FBADBADu));  // poison
      dequantize_block(packed, uint8_t(s), out);
      for (int i = 0; i < 32; ++i) {
        const double want = e2m1_formula(codes[i]) * e8m0_formula(s);
        const float got = out[i];
        SCOPED_TRACE(testing::Message() << "scale " << s << " code " << codes[i] << " element " << i);
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got));
        } else if (std::fabs(want) > double(FLT_MAX)) {
          EXPECT_TRUE(std::isinf(got));
          EXPECT_EQ(std::signbit(got), std::signbit(want));
        } else {
          EXPECT_EQ(double(got), want);
          EXPECT_EQ(std::signbit(got), std::signbit(want));
        }
      }
    }
  }
}

TEST(E8M0, ReferenceDecodingOfEveryByte) {
  for (int s = 0; s < 256; ++s) {
    const float got = e8m0_to_float(uint8_t(s));
    if (s == 255) {
      EXPECT_TRUE(std::isnan(got));
    } else {
      EXPECT_EQ(double(got), std::ldexp(1.0, s - 127)) << "byte " << s;
    }
  }
  EXPECT_EQ(std::bit_cast<uint32_t>(e8m0_to_float(0)), 0x00400000u);  // 2^-127, an f32 subnormal
}

TEST(E8M0, ShiftDecodingDiffersOnlyAtTheEnds) {
  EXPECT_EQ(std::bit_cast<uint32_t>(e8m0_to_float_shift(0)), 0u);  // +0.0
  EXPECT_TRUE(std::isinf(e8m0_to_float_shift(255)));
  EXPECT_GT(e8m0_to_float_shift(255), 0.0f);
  for (int s = 1; s < 255; ++s) EXPECT_EQ(e8m0_to_float_shift(uint8_t(s)), e8m0_to_float(uint8_t(s))) << "byte " << s;
}

// floor(log2 x) + 127, plus one when the significand is >= 1.5 (x normal, positive).
int e8m0_halfup_formula(float x) {
  int e = 0;
  const double m = std::frexp(double(x), &e);  // x = m * 2^e, m in [0.5, 1)
  return (e - 1) + 127 + (2.0 * m >= 1.5 ? 1 : 0);
}

TEST(E8M0, HalfUpEncodingAtTheBoundary) {
  SeededRng rng;
  for (int k = -126; k <= 126; ++k) {
    const float at = std::ldexp(1.5f, k);  // significand exactly 1.5: rounds up
    const float below = std::nextafter(at, 0.0f);
    const float one = std::ldexp(1.0f, k);
    const float top = std::nextafter(std::ldexp(1.0f, k + 1), 0.0f);
    EXPECT_EQ(int(e8m0_from_float(at)), k + 128) << "1.5 * 2^" << k;
    EXPECT_EQ(int(e8m0_from_float(below)), k + 127) << "just below 1.5 * 2^" << k;
    EXPECT_EQ(int(e8m0_from_float(one)), k + 127) << "2^" << k;
    EXPECT_EQ(int(e8m0_from_float(top)), k + 128) << "just below 2^" << k + 1;
  }
  std::uniform_real_distribution<float> mant(1.0f, 2.0f);
  for (int i = 0; i < 20000; ++i) {
    const float x = std::ldexp(mant(*rng), int(testing_support::uniform(*rng, -126, 126)));
    ASSERT_EQ(int(e8m0_from_float(x)), e8m0_halfup_formula(x)) << "x = " << x;
  }
  EXPECT_EQ(e8m0_from_float(0.0f), 0);
  EXPECT_EQ(e8m0_from_float(INFINITY), 255);
  EXPECT_EQ(e8m0_from_float(NAN), 255);
  // Subnormals: aiter rounds up only when the mantissa exceeds 0x400000.
  EXPECT_EQ(e8m0_from_float(std::bit_cast<float>(0x00400000u)), 0);
  EXPECT_EQ(e8m0_from_float(std::bit_cast<float>(0x00400001u)), 1);
  EXPECT_EQ(e8m0_from_float(std::bit_cast<float>(0x00600000u)), 1);
  EXPECT_EQ(e8m0_from_float(std::bit_cast<float>(0x003FFFFFu)), 0);
}

TEST(E2M1, EncodingIsNearestEvenAndSaturates) {
  SeededRng rng;
  // Every midpoint between neighbouring codes and its neighbours, both signs.
  for (int c = 0; c < 7; ++c) {
    const float mid = float((e2m1_formula(c) + e2m1_formula(c + 1)) / 2);
    for (float x : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 10.0f)})
      for (float sx : {x, -x}) EXPECT_EQ(int(float_to_e2m1(sx)), int(nearest_e2m1(sx))) << "x = " << sx;
  }
  for (int c = 0; c < 16; ++c)
    EXPECT_EQ(int(float_to_e2m1(float(e2m1_formula(c)))), c == 8 ? 8 : c) << "exact value of code " << c;
  EXPECT_EQ(int(float_to_e2m1(-0.0f)), 8);
  EXPECT_EQ(int(float_to_e2m1(6.0f)), 7);
  EXPECT_EQ(int(float_to_e2m1(1e30f)), 7);
  EXPECT_EQ(int(float_to_e2m1(-INFINITY)), 15);
  EXPECT_EQ(int(float_to_e2m1(1e-40f)), 0);  // subnormal input
  std::uniform_real_distribution<float> u(-9.0f, 9.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = u(*rng);
    ASSERT_EQ(int(float_to_e2m1(x)), int(nearest_e2m1(x))) << "x = " << x;
  }
}

}  // namespace
}  // namespace tilejit::mxfp4
