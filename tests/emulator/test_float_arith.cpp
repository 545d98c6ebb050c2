// Float ops (f32, f64, bf16, f16) against plain C++: IEEE edge cases, RNE ties, single-rounding fma, minnum.
#include <cmath>
#include <limits>

#include "emu_test.h"

namespace emutest {
namespace {

/// Every pair of special values, then random pairs, padded to whole blocks.
std::pair<std::vector<float>, std::vector<float>> float_pairs(std::mt19937& rng, size_t random_pairs) {
  std::vector<float> a, b;
  auto sp = special_floats();
  for (float x : sp)
    for (float y : sp) {
      a.push_back(x);
      b.push_back(y);
    }
  for (size_t i = 0; i < random_pairs; ++i) {
    a.push_back(random_float(rng));
    b.push_back(random_float(rng));
  }
  pad_to(a, 64);
  pad_to(b, 64);
  return {a, b};
}

float ref_minnum(float x, float y) {
  if (std::isnan(x)) return y;
  if (std::isnan(y)) return x;
  if (x == 0 && y == 0) return std::signbit(x) ? x : y;
  return x < y ? x : y;
}
float ref_maxnum(float x, float y) {
  if (std::isnan(x)) return y;
  if (std::isnan(y)) return x;
  if (x == 0 && y == 0) return std::signbit(x) ? y : x;
  return x > y ? x : y;
}

struct FCase {
  OpCode code;
  std::function<float(float, float)> ref;
};
std::vector<FCase> float_binops() {
  return {{OpCode::FAdd, [](float x, float y) { return x + y; }},
          {OpCode::FSub, [](float x, float y) { return x - y; }},
          {OpCode::FMul, [](float x, float y) { return x * y; }},
          {OpCode::FDiv, [](float x, float y) { return x / y; }},
          {OpCode::FMin, ref_minnum},
          {OpCode::FMax, ref_maxnum}};
}

TEST(FloatOps, F32BinaryOpsAreIeeeWithDenormals) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto [a, b] = float_pairs(rng, 600);
  for (auto& c : float_binops()) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name));
    // As <4 x f32> so vectors are covered too.
    auto out = run_op<float>(c.code, V(Scalar::F32, 4),
                             {Operand::of(V(Scalar::F32, 4), a), Operand::of(V(Scalar::F32, 4), b)}, a.size() / 4);
    ASSERT_EQ(out.size(), a.size());
    for (size_t i = 0; i < a.size(); ++i)
      ASSERT_TRUE(same_float(out[i], c.ref(a[i], b[i])))
          << a[i] << " , " << b[i] << " -> " << out[i] << " expected " << c.ref(a[i], b[i]);
  }
}

TEST(FloatOps, MinMaxFollowMinnumMaxnum) {
  // Explicit checks of the NaN and signed-zero rules (independent of the table above).
  std::vector<float> a = {NAN, 1.0f, NAN, -0.0f, 0.0f, -INFINITY, 2.0f, -3.0f};
  std::vector<float> b = {5.0f, NAN, NAN, 0.0f, -0.0f, 1.0f, 2.0f, -4.0f};
  pad_to(a, 64);
  pad_to(b, 64);
  auto mn = run_op<float>(OpCode::FMin, S(Scalar::F32), {Operand::of(S(Scalar::F32), a), Operand::of(S(Scalar::F32), b)}, 64);
  auto mx = run_op<float>(OpCode::FMax, S(Scalar::F32), {Operand::of(S(Scalar::F32), a), Operand::of(S(Scalar::F32), b)}, 64);
  EXPECT_EQ(mn[0], 5.0f);
  EXPECT_EQ(mx[0], 5.0f);
  EXPECT_EQ(mn[1], 1.0f);
  EXPECT_EQ(mx[1], 1.0f);
  EXPECT_TRUE(std::isnan(mn[2]) && std::isnan(mx[2]));
  EXPECT_TRUE(std::signbit(mn[3]) && !std::signbit(mx[3]));
  EXPECT_TRUE(std::signbit(mn[4]) && !std::signbit(mx[4]));
  EXPECT_EQ(mn[5], -INFINITY);
  EXPECT_EQ(mx[5], 1.0f);
  EXPECT_EQ(mn[7], -4.0f);
  EXPECT_EQ(mx[7], -3.0f);
}

TEST(FloatOps, F64BinaryOps) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<double> a, b;
  std::vector<double> sp = {0.0, -0.0, INFINITY, -INFINITY, NAN, 4.9e-324, -1e-310, 1.0, 3.0, 1e300};
  for (double x : sp)
    for (double y : sp) {
      a.push_back(x);
      b.push_back(y);
    }
  std::uniform_real_distribution<double> u(-1, 1);
  while (a.size() % 64 || a.size() < 256) {
    a.push_back(std::ldexp(u(rng), int(rng() % 600) - 300));
    b.push_back(std::ldexp(u(rng), int(rng() % 600) - 300));
  }
  std::vector<std::pair<OpCode, std::function<double(double, double)>>> cases = {
      {OpCode::FAdd, [](double x, double y) { return x + y; }},
      {OpCode::FSub, [](double x, double y) { return x - y; }},
      {OpCode::FMul, [](double x, double y) { return x * y; }},
      {OpCode::FDiv, [](double x, double y) { return x / y; }}};
  for (auto& [code, ref] : cases) {
    auto out = run_op<double>(code, S(Scalar::F64), {Operand::of(S(Scalar::F64), a), Operand::of(S(Scalar::F64), b)}, a.size());
    for (size_t i = 0; i < a.size(); ++i) ASSERT_TRUE(same_double(out[i], ref(a[i], b[i]))) << a[i] << " " << b[i];
  }
}

/// bf16 values: specials, random, and pairs whose f32 sum is an exact bf16 tie.
std::pair<std::vector<uint16_t>, std::vector<uint16_t>> bf16_pairs(std::mt19937& rng) {
  std::vector<uint16_t> a, b;
  std::vector<uint16_t> sp = {0x0000, 0x8000, 0x3F80, 0xBF80, 0x7F80, 0xFF80, 0x7FC0, 0x0001, 0x8001,
                              0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x3C00, 0x4049};
  for (auto x : sp)
    for (auto y : sp) {
      a.push_back(x);
      b.push_back(y);
    }
  // Ties: 1.0 + 2^-8 (tie -> even 1.0), 1.0078125 + 2^-8 (tie -> up), 256 + 1 (tie).
  a.insert(a.end(), {0x3F80, 0x3F81, 0x4380, 0x3F80, 0x4000});
  b.insert(b.end(), {0x3B80, 0x3B80, 0x3F80, 0x3B00, 0x3C00});
  for (int i = 0; i < 400; ++i) {
    a.push_back(uint16_t(rng()));
    b.push_back(uint16_t(rng()));
  }
  pad_to(a, 64);
  pad_to(b, 64);
  return {a, b};
}

TEST(FloatOps, BF16ArithmeticIsF32RoundedToNearestEven) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto [a, b] = bf16_pairs(rng);
  for (auto& c : float_binops()) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name));
    auto out = run_op<uint16_t>(c.code, V(Scalar::BF16, 2),
                                {Operand::of(V(Scalar::BF16, 2), a), Operand::of(V(Scalar::BF16, 2), b)}, a.size() / 2);
    for (size_t i = 0; i < a.size(); ++i) {
      uint16_t want = ref_bf16(c.ref(bf16f(a[i]), bf16f(b[i])));
      if (std::isnan(bf16f(want))) ASSERT_TRUE(std::isnan(bf16f(out[i]))) << std::hex << a[i] << " " << b[i];
      else ASSERT_EQ(out[i], want) << std::hex << a[i] << " , " << b[i];
    }
  }
}

TEST(FloatOps, F16ArithmeticIsF32RoundedToNearestEven) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<uint16_t> a, b;
  std::vector<uint16_t> sp = {0x0000, 0x8000, 0x3C00, 0xBC00, 0x7C00, 0xFC00, 0x7E00, 0x0001, 0x83FF, 0x7BFF, 0x3C01};
  for (auto x : sp)
    for (auto y : sp) {
      a.push_back(x);
      b.push_back(y);
    }
  for (int i = 0; i < 500; ++i) {
    a.push_back(uint16_t(rng()));
    b.push_back(uint16_t(rng()));
  }
  pad_to(a, 64);
  pad_to(b, 64);
  for (auto& c : float_binops()) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name));
    auto out = run_op<uint16_t>(c.code, S(Scalar::F16), {Operand::of(S(Scalar::F16), a), Operand::of(S(Scalar::F16), b)}, a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      uint16_t want = ref_f16(c.ref(f16f(a[i]), f16f(b[i])));
      if (std::isnan(f16f(want))) ASSERT_TRUE(std::isnan(f16f(out[i])));
      else ASSERT_EQ(out[i], want) << std::hex << a[i] << " , " << b[i];
    }
  }
}

TEST(FloatOps, F32FmaIsOneRounding) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> a, b, c;
  for (int i = 0; i < 1024; ++i) {
    a.push_back(random_float(rng));
    b.push_back(random_float(rng));
    c.push_back(random_float(rng));
  }
  // A case where fmul-then-fadd differs from fma: (1 + 2^-12)^2 - 1.
  a[0] = b[0] = 1.0f + 0x1p-12f;
  c[0] = -(1.0f + 0x1p-11f);
  auto out = run_op<float>(OpCode::Fma, S(Scalar::F32),
                           {Operand::of(S(Scalar::F32), a), Operand::of(S(Scalar::F32), b), Operand::of(S(Scalar::F32), c)}, a.size());
  EXPECT_EQ(out[0], 0x1p-24f);
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_TRUE(same_float(out[i], std::fma(a[i], b[i], c[i]))) << a[i] << " " << b[i] << " " << c[i];
}

template <class ToBits, class FromBits>
void check_fma16(Scalar s, int p, int emin, int emax, ToBits to_bits, FromBits from_bits) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<uint16_t> a, b, c;
  for (int i = 0; i < 768; ++i) {
    uint16_t x = uint16_t(rng()), y = uint16_t(rng()), z = uint16_t(rng());
    auto finite = [&](uint16_t v) { return std::isfinite(from_bits(v)); };
    if (!finite(x) || !finite(y) || !finite(z)) continue;
    a.push_back(x);
    b.push_back(y);
    c.push_back(z);
  }
  // Double-rounding traps: (1 + 2^-4)^2 = 1.125 + 2^-8 is a bf16 tie; +-2^-100 decides the
  // direction, which a double intermediate would lose. Then a plain tie: 1 + 2^-8 -> 1.0.
  if (s == Scalar::BF16) {
    a[0] = 0x3F88; b[0] = 0x3F88; c[0] = 0x0D80;
    a[1] = 0x3F88; b[1] = 0x3F88; c[1] = 0x8D80;
    a[2] = 0x3F80; b[2] = 0x3F80; c[2] = 0x3B80;
  }
  pad_to(a, 64);
  pad_to(b, 64);
  pad_to(c, 64);
  auto out = run_op<uint16_t>(OpCode::Fma, S(s), {Operand::of(S(s), a), Operand::of(S(s), b), Operand::of(S(s), c)}, a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    Big exact = Big(from_bits(a[i])) * Big(from_bits(b[i])) + Big(from_bits(c[i]));
    double r = round_big(exact, p, emin, emax);
    uint16_t want = to_bits(float(r));
    if (exact == 0) continue;  // the sign of an exact zero is checked by the f32 test
    ASSERT_EQ(out[i], want) << std::hex << a[i] << " * " << b[i] << " + " << c[i];
  }
}

TEST(FloatOps, BF16FmaRoundsOnceFromTheExactValue) {
  check_fma16(Scalar::BF16, 8, -126, 127, [](float f) { return uint16_t(std::bit_cast<uint32_t>(f) >> 16); }, bf16f);
}

TEST(FloatOps, F16FmaRoundsOnceFromTheExactValue) {
  check_fma16(Scalar::F16, 11, -14, 15, ref_f16, f16f);
}

TEST(FloatOps, SqrtIsCorrectlyRoundedAndTranscendentalsAreClose) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> a = special_floats();
  for (int i = 0; i < 300; ++i) a.push_back(std::fabs(random_float(rng)));
  for (int i = 0; i < 100; ++i) a.push_back(std::ldexp(float(rng() % 1000) / 1000.0f, int(rng() % 20) - 10));
  pad_to(a, 64);
  auto sq = run_op<float>(OpCode::Sqrt, S(Scalar::F32), {Operand::of(S(Scalar::F32), a)}, a.size());
  auto rs = run_op<float>(OpCode::Rsqrt, S(Scalar::F32), {Operand::of(S(Scalar::F32), a)}, a.size());
  auto e2 = run_op<float>(OpCode::Exp2, S(Scalar::F32), {Operand::of(S(Scalar::F32), a)}, a.size());
  auto l2 = run_op<float>(OpCode::Log2, S(Scalar::F32), {Operand::of(S(Scalar::F32), a)}, a.size());
  auto close = [](float got, double want) {
    if (std::isnan(want)) return std::isnan(got);
    if (std::isinf(want) || want == 0) return double(got) == want;
    if (std::fabs(want) > 3.4e38) return std::isinf(got) || std::fabs(got) > 3.3e38f;
    return std::fabs(double(got) - want) <= 4e-7 * std::fabs(want) + 1e-45;
  };
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_TRUE(same_float(sq[i], std::sqrt(a[i]))) << a[i];
    ASSERT_TRUE(close(rs[i], 1.0 / std::sqrt(double(a[i])))) << a[i] << " rsqrt " << rs[i];
    ASSERT_TRUE(close(e2[i], std::exp2(double(a[i])))) << a[i] << " exp2 " << e2[i];
    ASSERT_TRUE(close(l2[i], std::log2(double(a[i])))) << a[i] << " log2 " << l2[i];
  }
}

TEST(FloatOps, NegAndAbsFlipOnlyTheSignBit) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<uint32_t> a;
  for (float f : special_floats()) a.push_back(std::bit_cast<uint32_t>(f));
  a.push_back(0x7FA00001);  // signalling NaN payload
  while (a.size() % 64) a.push_back(uint32_t(rng()));
  auto neg = run_op<uint32_t>(OpCode::FNeg, S(Scalar::F32), {Operand::of(S(Scalar::F32), a)}, a.size());
  auto abs = run_op<uint32_t>(OpCode::FAbs, S(Scalar::F32), {Operand::of(S(Scalar::F32), a)}, a.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(neg[i], a[i] ^ 0x80000000u);
    ASSERT_EQ(abs[i], a[i] & 0x7FFFFFFFu);
  }
  // bf16 fneg on a vector.
  std::vector<uint16_t> h(128);
  for (auto& x : h) x = uint16_t(rng());
  auto hn = run_op<uint16_t>(OpCode::FNeg, V(Scalar::BF16, 2), {Operand::of(V(Scalar::BF16, 2), h)}, 64);
  for (size_t i = 0; i < h.size(); ++i) ASSERT_EQ(hn[i], uint16_t(h[i] ^ 0x8000));
}

}  // namespace
}  // namespace emutest
