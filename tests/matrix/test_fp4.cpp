// Tests of E2M1/E8M0 decoding and both FP4 -> bf16 conversions, exhaustively against ldexp in double.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <random>

#include "dsl/error.h"
#include "dsl/matrix/fp4.h"
#include "matrix_test_util.h"

namespace tilejit::matrix::test {
namespace {

/// E2M1 from its definition (OCP MX v1.0 §5.3.3): code s e1 e0 m; E = 0 gives (-1)^s·0.5·m,
/// otherwise (-1)^s·2^(E-1)·(1 + m/2).
double e2m1_reference(int code) {
  const int s = (code >> 3) & 1, E = (code >> 1) & 3, m = code & 1;
  const double mag = E == 0 ? 0.5 * m : std::ldexp(1.0 + m / 2.0, E - 1);
  return s ? -mag : mag;
}

/// The reference conversion: ldexp in double, then bf16. Every finite result is an f32 with the
/// low 16 bits zero (checked), so bf16 is the top half; values past f32's range give ±Inf.
uint16_t scaled_bf16_reference(int code, int x) {
  const double v = std::ldexp(e2m1_reference(code), x - 127);
  const float f = std::fabs(v) >= std::ldexp(1.0, 128) ? (v < 0 ? -INFINITY : INFINITY) : float(v);
  const uint32_t u = std::bit_cast<uint32_t>(f);
  EXPECT_EQ(u & 0xFFFFu, 0u) << "code " << code << " x " << x << " is not a bf16 value";
  if (std::isfinite(f)) {
    EXPECT_EQ(double(f), v) << "code " << code << " x " << x;
  }
  return uint16_t(u >> 16);
}

TEST(Fp4, E2m1ValuesFollowTheOcpDefinition) {
  for (int code = 0; code < 16; ++code) {
    const float v = e2m1_value(uint8_t(code));
    EXPECT_EQ(double(v), e2m1_reference(code)) << "code " << code;
    EXPECT_EQ(std::signbit(v), code >= 8) << "code " << code;  // code 8 is -0.0
    // Only the low nibble is read.
    EXPECT_EQ(std::bit_cast<uint32_t>(e2m1_value(uint8_t(code | 0xA0))), std::bit_cast<uint32_t>(v));
  }
  EXPECT_EQ(e2m1_value(7), 6.0f);
  EXPECT_EQ(e2m1_value(1), 0.5f);
}

TEST(Fp4, E8m0ValuesArePowersOfTwoWithNanAt255) {
  for (int x = 0; x < 255; ++x) EXPECT_EQ(double(e8m0_value(uint8_t(x))), std::ldexp(1.0, x - 127)) << "x " << x;
  EXPECT_EQ(double(e8m0_value(0)), std::ldexp(1.0, -127));  // an f32 subnormal, not zero
  EXPECT_TRUE(std::isnan(e8m0_value(255)));
}

// All 16 codes in both nibbles × all 256 scale bytes × every byte_sel, with random other bytes in
// src and random sign and mantissa bits in the scale (only its exponent field counts).
TEST(Fp4, CvtScalef32PkBf16Fp4IsExactForEveryCodeScaleAndByte) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  int checked = 0;
  for (int sel = 0; sel < 4; ++sel) {
    for (int x = 0; x < 256; ++x) {
      for (int byte = 0; byte < 256; ++byte) {
        const uint32_t noise = uint32_t(rng()) & ~(0xFFu << (8 * sel));
        const uint32_t src = noise | (uint32_t(byte) << (8 * sel));
        const float scale = std::bit_cast<float>((uint32_t(rng()) & 0x807FFFFFu) | (uint32_t(x) << 23));
        const uint32_t got = cvt_scalef32_pk_bf16_fp4(src, scale, sel);
        const int lo = byte & 0xF, hi = byte >> 4;
        uint32_t want;
        if (x == 255) {  // E8M0 NaN: 0x7FFF with the code's sign
          want = (0x7FFFu | uint32_t(lo >> 3) << 15) | (0x7FFFu | uint32_t(hi >> 3) << 15) << 16;
        } else {
          want = scaled_bf16_reference(lo, x) | uint32_t(scaled_bf16_reference(hi, x)) << 16;
        }
        ASSERT_EQ(got, want) << fmt::format("src {:#010x} byte_sel {} x {} (codes lo {} hi {})", src, sel, x, lo, hi);
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 4 * 256 * 256);
}

/// Element `e` (0 or 1) of a packed cvt result, as a float.
float element(uint32_t packed, int e) { return bf16_value(uint16_t(packed >> (16 * e))); }

/// A scale operand whose exponent field is x, with random sign and mantissa bits.
float scale_with_exponent(std::mt19937& rng, int x) {
  return std::bit_cast<float>((uint32_t(rng()) & 0x807FFFFFu) | (uint32_t(x) << 23));
}

TEST(Fp4, CvtSpecialCases) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (int code = 0; code < 16; ++code) {
    const int other = int(rng() % 16);
    for (int sel = 0; sel < 4; ++sel) {
      const uint32_t src = uint32_t(code | other << 4) << (8 * sel);
      // x = 255 is NaN, 0x7FFF with the code's sign.
      const uint32_t nan = cvt_scalef32_pk_bf16_fp4(src, scale_with_exponent(rng, 255), sel);
      EXPECT_EQ(nan & 0xFFFFu, code >= 8 ? 0xFFFFu : 0x7FFFu) << "code " << code;
      // x = 0 (scale bits 0 or a subnormal scale) is 2^-127, not 0.
      for (float zero_exp : {0.0f, -0.0f, std::bit_cast<float>(0x00000001u | (uint32_t(rng()) & 0x7FFFFFu))}) {
        const uint32_t r = cvt_scalef32_pk_bf16_fp4(src, zero_exp, sel);
        EXPECT_EQ(double(element(r, 0)), std::ldexp(double(e2m1_value(uint8_t(code))), -127)) << "code " << code;
        EXPECT_EQ(double(element(r, 1)), std::ldexp(double(e2m1_value(uint8_t(other))), -127)) << "code " << other;
      }
      // Code 8 is -0 at every finite scale.
      if (code == 8) {
        for (int x = 0; x < 255; ++x)
          EXPECT_EQ(cvt_scalef32_pk_bf16_fp4(src, scale_with_exponent(rng, x), sel) & 0xFFFFu, 0x8000u) << x;
      }
    }
  }
  // Overflow gives ±Inf: |v|·2^127 >= 2^128 for |v| >= 2 at x = 254; 1.5·2^127 stays finite.
  for (int code = 0; code < 16; ++code) {
    const float v = element(cvt_scalef32_pk_bf16_fp4(uint32_t(code), scale_with_exponent(rng, 254), 0), 0);
    const double want = std::ldexp(double(e2m1_value(uint8_t(code))), 127);
    if (std::fabs(want) >= std::ldexp(1.0, 128)) {
      EXPECT_TRUE(std::isinf(v)) << "code " << code;
      EXPECT_EQ(std::signbit(v), code >= 8) << "code " << code;
    } else {
      EXPECT_EQ(double(v), want) << "code " << code;
    }
  }
  // The scale's sign and mantissa bits are ignored: -1.5f reads as x = 127, like 1.0f.
  const uint32_t src = uint32_t(rng());
  EXPECT_EQ(cvt_scalef32_pk_bf16_fp4(src, -1.5f, 2), cvt_scalef32_pk_bf16_fp4(src, 1.0f, 2));
  // Element 0 comes from the low nibble of the selected byte, element 1 from the high nibble.
  const uint32_t r = cvt_scalef32_pk_bf16_fp4(src, 1.0f, 2);
  EXPECT_EQ(std::bit_cast<uint32_t>(element(r, 0)), std::bit_cast<uint32_t>(e2m1_value(uint8_t((src >> 16) & 0xF))));
  EXPECT_EQ(std::bit_cast<uint32_t>(element(r, 1)), std::bit_cast<uint32_t>(e2m1_value(uint8_t((src >> 20) & 0xF))));
}

TEST(Fp4, CvtRejectsByteSelOutsideZeroToThree) {
  EXPECT_THROW(cvt_scalef32_pk_bf16_fp4(0x12345678u, 1.0f, 4), InternalError);
  EXPECT_THROW(cvt_scalef32_pk_bf16_fp4(0x12345678u, 1.0f, -1), InternalError);
}

TEST(Fp4, SoftwareConversionIsExactForEveryCodeAndScale) {
  for (int code = 0; code < 16; ++code) {
    for (int x = 0; x < 256; ++x) {
      const uint16_t got = fp4_to_bf16_software(uint8_t(code), uint8_t(x));
      const uint16_t want = x == 255 ? uint16_t(0x7FFF) : scaled_bf16_reference(code, x);  // recipe A: 0x7FFF
      ASSERT_EQ(got, want) << "code " << code << " x " << x;
    }
  }
}

TEST(Fp4, SoftwareConversionGivesTheCvtBitsExceptNan) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (int x = 0; x < 255; ++x) {
    for (int code = 0; code < 16; ++code) {
      const int sel = int(rng() % 4), other = int(rng() % 16);
      const uint32_t src = (uint32_t(rng()) & ~(0xFFu << (8 * sel))) | uint32_t(code | other << 4) << (8 * sel);
      const uint32_t hw = cvt_scalef32_pk_bf16_fp4(src, scale_with_exponent(rng, x), sel);
      ASSERT_EQ(hw & 0xFFFFu, fp4_to_bf16_software(uint8_t(code), uint8_t(x))) << "code " << code << " x " << x;
      ASSERT_EQ(hw >> 16, fp4_to_bf16_software(uint8_t(other), uint8_t(x))) << "code " << other << " x " << x;
    }
  }
}

}  // namespace
}  // namespace tilejit::matrix::test
