// Tests of MXFP4 block quantisation (aiter's rules) and dequantisation.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/mxfp4/mxfp4.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::mxfp4 {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

constexpr double kGrid[8] = {0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0};

double code_value(int c) { return (c & 8) ? -kGrid[c & 7] : kGrid[c & 7]; }

// The contract's scale rule written with frexp: E8M0 of amax/4, exponent + 1 when the significand is >= 1.5.
int expected_scale(double amax) {
  if (amax == 0.0) return 0;
  int e = 0;
  const double m = std::frexp(amax / 4.0, &e);
  return (e - 1) + 127 + (2.0 * m >= 1.5 ? 1 : 0);
}

// Nearest grid value to |y|, ties to the even code, saturating at 6; sign kept.
int expected_code(double y) {
  const double a = std::fabs(y);
  int best = 7;
  if (a < 6.0) {
    double bd = INFINITY;
    for (int c = 0; c < 8; ++c) {
      const double d = std::fabs(a - kGrid[c]);
      if (d < bd || (d == bd && c % 2 == 0)) bd = d, best = c;
    }
  }
  return best | (std::signbit(y) ? 8 : 0);
}

int nibble(const std::array<uint8_t, 16>& p, int i) { return (i % 2 == 0) ? (p[i / 2] & 0xF) : (p[i / 2] >> 4); }

// Checks one quantised block against the independent rules above (inputs normal, amax/4 normal).
void check_block(const std::array<float, 32>& x, const std::array<uint8_t, 16>& packed, uint8_t scale) {
  double amax = 0.0;
  for (float v : x) amax = std::max(amax, std::fabs(double(v)));
  ASSERT_EQ(int(scale), expected_scale(amax));
  const double s = std::ldexp(1.0, int(scale) - 127);
  for (int i = 0; i < 32; ++i) {
    const double y = double(x[i]) / s;  // exact: division by a power of two
    ASSERT_LT(std::fabs(y), 6.0 + 1e-12) << "no saturation with this scale rule";
    ASSERT_EQ(nibble(packed, i), expected_code(y)) << "element " << i << " x = " << x[i];
    // The error bound: half the grid gap at |y|.
    const double a = std::fabs(y);
    const double half_gap = a <= 2.0 ? 0.25 : (a <= 4.0 ? 0.5 : 1.0);
    ASSERT_LE(std::fabs(y - code_value(nibble(packed, i))), half_gap) << "element " << i;
  }
}

TEST(Quantize, NibbleOrderLowIsEven) {
  EXPECT_EQ(pack_e2m1_pair(0x3, 0xA), 0xA3);
  SeededRng rng;
  for (int trial = 0; trial < 100; ++trial) {
    // Even elements all one representable value, odd elements another; amax pinned at 4 so the scale is 2^0.
    // Magnitudes up to code 6 (4.0): a 6.0 would move the scale.
    const int ce = int(uniform(*rng, 0, 6) | uniform(*rng, 0, 1) * 8), co = int(uniform(*rng, 0, 6) | uniform(*rng, 0, 1) * 8);
    std::array<float, 32> x;
    for (int i = 0; i < 32; ++i) x[i] = float(code_value(i % 2 == 0 ? ce : co));
    x[31] = 4.0f;  // odd element 31
    std::array<uint8_t, 16> packed;
    packed.fill(0xEE);
    ASSERT_EQ(quantize_block(x, packed), 127);
    for (int i = 0; i < 15; ++i) ASSERT_EQ(packed[i], uint8_t(ce | (co << 4))) << "byte " << i;
    ASSERT_EQ(packed[15], uint8_t(ce | (6 << 4)));
    for (int k = 0; k < 32; ++k) ASSERT_EQ(int(packed_code(packed, k)), nibble(packed, k));
  }
}

TEST(Quantize, RepresentableBlocksComeBackExactly) {
  SeededRng rng;
  for (int trial = 0; trial < 2000; ++trial) {
    // amax code 5 (3.0) or 6 (4.0) keeps the scale; the rest any code of lower or equal magnitude.
    const int s = int(uniform(*rng, 1, 250));
    const int top = int(uniform(*rng, 5, 6));
    std::array<int, 32> codes;
    for (auto& c : codes) c = int(uniform(*rng, 0, top)) | int(uniform(*rng, 0, 1)) * 8;
    codes[size_t(uniform(*rng, 0, 31))] = top | int(uniform(*rng, 0, 1)) * 8;
    std::array<float, 32> x;
    for (int i = 0; i < 32; ++i) x[i] = float(std::ldexp(code_value(codes[i]), s - 127));
    std::array<uint8_t, 16> packed;
    packed.fill(0xEE);
    ASSERT_EQ(int(quantize_block(x, packed)), s);
    for (int i = 0; i < 32; ++i) ASSERT_EQ(nibble(packed, i), codes[i]) << "element " << i;
    std::array<float, 32> back;
    back.fill(NAN);
    dequantize_block(packed, uint8_t(s), back);
    for (int i = 0; i < 32; ++i) {
      ASSERT_EQ(back[i], x[i]);
      ASSERT_EQ(std::signbit(back[i]), std::signbit(x[i]));
    }
    // The same block given as bf16 (the values are representable in bf16).
    std::array<uint16_t, 32> xb;
    for (int i = 0; i < 32; ++i) xb[i] = ir::f32_to_bf16(x[i]);
    std::array<uint8_t, 16> packed_b;
    packed_b.fill(0xEE);
    ASSERT_EQ(int(quantize_block_bf16(xb, packed_b)), s);
    ASSERT_EQ(packed_b, packed);
  }
}

TEST(Quantize, RandomDataFollowsTheRulesAndTheErrorBound) {
  SeededRng rng;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int trial = 0; trial < 5000; ++trial) {
    const int mag = int(uniform(*rng, -60, 60));
    std::array<float, 32> x;
    for (auto& v : x) v = std::ldexp(normal(*rng), mag);
    std::array<uint8_t, 16> packed;
    packed.fill(0xEE);
    const uint8_t scale = quantize_block(x, packed);
    check_block(x, packed, scale);
  }
}

TEST(Quantize, Bf16InputMatchesWidenedF32) {
  SeededRng rng;
  std::normal_distribution<float> normal(0.0f, 3.0f);
  for (int trial = 0; trial < 2000; ++trial) {
    std::array<uint16_t, 32> xb;
    std::array<float, 32> xf;
    for (int i = 0; i < 32; ++i) {
      xb[i] = ir::f32_to_bf16(normal(*rng));
      xf[i] = std::bit_cast<float>(uint32_t(xb[i]) << 16);
    }
    std::array<uint8_t, 16> pb, pf;
    pb.fill(0xEE);
    pf.fill(0xDD);
    const uint8_t sb = quantize_block_bf16(xb, pb);
    ASSERT_EQ(sb, quantize_block(xf, pf));
    ASSERT_EQ(pb, pf);
    check_block(xf, pb, sb);
  }
}

TEST(Quantize, ScaleRoundsUpAtMantissaOnePointFive) {
  SeededRng rng;
  for (int trial = 0; trial < 200; ++trial) {
    const int k = int(uniform(*rng, -100, 100));
    // amax = 6 * 2^k: amax/4 = 1.5 * 2^k rounds up to 2^(k+1); amax itself becomes code 5 (3.0).
    std::array<float, 32> x{};
    for (auto& v : x) v = std::ldexp(float(uniform(*rng, -4, 4)), k - 2);
    const int pos = int(uniform(*rng, 0, 31));
    x[size_t(pos)] = std::ldexp(6.0f, k);
    std::array<uint8_t, 16> packed;
    EXPECT_EQ(int(quantize_block(x, packed)), k + 128);
    EXPECT_EQ(nibble(packed, pos), 5);
    check_block(x, packed, uint8_t(k + 128));
    // Just below: amax/4 has significand < 1.5, the scale stays 2^k and amax becomes code 7 (6.0).
    x[size_t(pos)] = std::nextafter(std::ldexp(6.0f, k), 0.0f);
    EXPECT_EQ(int(quantize_block(x, packed)), k + 127);
    EXPECT_EQ(nibble(packed, pos), 7);
    check_block(x, packed, uint8_t(k + 127));
  }
}

TEST(Quantize, AllZeroAndNonFiniteBlocks) {
  std::array<float, 32> zeros{};
  zeros[3] = -0.0f;
  std::array<uint8_t, 16> packed;
  packed.fill(0xEE);
  EXPECT_EQ(quantize_block(zeros, packed), 0);  // documented: scale byte 0 (2^-127)
  for (int i = 0; i < 32; ++i) EXPECT_EQ(nibble(packed, i), i == 3 ? 8 : 0) << "element " << i;
  std::array<float, 32> back;
  back.fill(NAN);
  dequantize_block(packed, 0, back);
  for (float v : back) EXPECT_EQ(v, 0.0f);

  SeededRng rng;
  std::array<float, 32> x;
  for (auto& v : x) v = float(uniform(*rng, -100, 100));
  x[size_t(uniform(*rng, 0, 31))] = NAN;
  EXPECT_EQ(quantize_block(x, packed), 255);
  x[size_t(uniform(*rng, 0, 31))] = -INFINITY;
  EXPECT_EQ(quantize_block(x, packed), 255);
}

TEST(Quantize, MatrixFunctionsMatchBlocks) {
  SeededRng rng;
  const int64_t rows = uniform(*rng, 1, 9), cols = 32 * uniform(*rng, 1, 6);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(size_t(rows * cols));
  for (auto& v : x) v = normal(*rng);
  const Mxfp4Matrix m = quantize(x, rows, cols);
  ASSERT_EQ(m.rows, rows);
  ASSERT_EQ(m.cols, cols);
  ASSERT_EQ(int64_t(m.packed.size()), rows * cols / 2);
  ASSERT_EQ(int64_t(m.scales.size()), rows * cols / 32);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols / 32; ++j) {
      std::array<float, 32> blk;
      std::array<uint8_t, 16> packed;
      for (int i = 0; i < 32; ++i) blk[i] = x[size_t(r * cols + j * 32 + i)];
      const uint8_t s = quantize_block(blk, packed);
      ASSERT_EQ(m.scales[size_t(r * (cols / 32) + j)], s) << "row " << r << " block " << j;
      for (int i = 0; i < 16; ++i) ASSERT_EQ(m.packed[size_t(r * cols / 2 + j * 16 + i)], packed[i]);
    }
  // Dequantisation against the code table and 2^(s-127), element by element.
  const std::vector<float> d = dequantize(m);
  ASSERT_EQ(d.size(), x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k < cols; ++k) {
      const uint8_t byte = m.packed[size_t(r * cols / 2 + k / 2)];
      const int code = (k % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      const double want = code_value(code) * std::ldexp(1.0, int(m.scales[size_t(r * (cols / 32) + k / 32)]) - 127);
      ASSERT_EQ(double(d[size_t(r * cols + k)]), want) << "row " << r << " k " << k;
    }
  // bf16 matrices go through the same blocks.
  std::vector<uint16_t> xb(x.size());
  std::vector<float> xw(x.size());
  for (size_t i = 0; i < x.size(); ++i) xw[i] = ir::bf16_to_f32(xb[i] = ir::f32_to_bf16(x[i]));
  const Mxfp4Matrix mb = quantize_bf16(xb, rows, cols);
  const Mxfp4Matrix mw = quantize(xw, rows, cols);
  EXPECT_EQ(mb.packed, mw.packed);
  EXPECT_EQ(mb.scales, mw.scales);
}

TEST(Quantize, ArgumentErrorsNameTheArgument) {
  std::vector<float> x(96, 1.0f);
  expect_throw_with<std::invalid_argument>([&] { quantize(x, 2, 48); }, {"cols", "48", "32"});
  expect_throw_with<std::invalid_argument>([&] { quantize(x, 2, 64); }, {"x", "96", "128"});
  expect_throw_with<std::invalid_argument>([&] { quantize(x, -1, 32); }, {"rows"});
  std::vector<uint16_t> xb(64);
  expect_throw_with<std::invalid_argument>([&] { quantize_bf16(xb, 1, 0); }, {"cols"});
  std::vector<uint8_t> packed(32), scales(2);
  expect_throw_with<std::invalid_argument>([&] { dequantize(packed, scales, 1, 32); }, {"packed", "32", "16"});
  expect_throw_with<std::invalid_argument>([&] { dequantize(std::span(packed).first(16), scales, 1, 32); }, {"scales", "2", "1"});
}

}  // namespace
}  // namespace tilejit::mxfp4
