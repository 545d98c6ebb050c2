// Conversions (int resize, int<->float with RNE, saturating float->int, float<->float), bitcast, vector ops.
#include <cmath>
#include <limits>

#include "emu_test.h"

namespace emutest {
namespace {

/// Value of `bits` (raw storage of `s`) as a signed or unsigned integer.
int64_t as_int(Scalar s, uint64_t bits, bool sign) {
  int w = ir::scalar_bits(s);
  uint64_t m = w == 64 ? ~0ull : ((1ull << w) - 1);
  bits &= m;
  if (sign && w < 64 && (bits >> (w - 1)) & 1) bits |= ~m;
  return int64_t(bits);
}

std::vector<uint8_t> int_bytes(Scalar s, const std::vector<uint64_t>& v) {
  int eb = elem_size(s);
  std::vector<uint8_t> out(v.size() * eb);
  for (size_t i = 0; i < v.size(); ++i) {
    uint64_t x = s == Scalar::I1 ? (v[i] & 1) : v[i];
    std::memcpy(out.data() + i * eb, &x, eb);
  }
  return out;
}
uint64_t read_int(const std::vector<uint8_t>& b, Scalar s, size_t i) {
  int eb = elem_size(s);
  uint64_t x = 0;
  std::memcpy(&x, b.data() + i * eb, eb);
  return x;
}

TEST(Convert, IntegerExtendAndTruncate) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  const size_t lanes = 128;
  std::vector<uint64_t> src(lanes);
  for (auto& x : src) x = rng();
  struct Case {
    OpCode code;
    Scalar from, to;
  };
  std::vector<Case> cases = {{OpCode::SExt, Scalar::I8, Scalar::I32},  {OpCode::ZExt, Scalar::I8, Scalar::I32},
                             {OpCode::SExt, Scalar::I32, Scalar::I64}, {OpCode::ZExt, Scalar::I32, Scalar::I64},
                             {OpCode::SExt, Scalar::I16, Scalar::I64}, {OpCode::SExt, Scalar::I1, Scalar::I32},
                             {OpCode::ZExt, Scalar::I1, Scalar::I8},   {OpCode::Trunc, Scalar::I64, Scalar::I16},
                             {OpCode::Trunc, Scalar::I32, Scalar::I8}, {OpCode::Trunc, Scalar::I32, Scalar::I1}};
  for (auto& c : cases) {
    SCOPED_TRACE(std::string(ir::op_info(c.code).name) + " " + std::string(ir::scalar_name(c.from)) + " -> " +
                 std::string(ir::scalar_name(c.to)));
    auto in = int_bytes(c.from, src);
    auto out = run_op_bytes(c.code, V(c.to, 2), {Operand{V(c.from, 2), in}}, lanes / 2);
    for (size_t i = 0; i < lanes; ++i) {
      uint64_t x = read_int(in, c.from, i);
      int64_t want = c.code == OpCode::SExt ? as_int(c.from, x, true) : as_int(c.from, x, false);
      ASSERT_EQ(read_int(out, c.to, i), uint64_t(as_int(c.to, uint64_t(want), false))) << std::hex << x;
    }
  }
}

/// Independent integer -> float reference: exact value rounded once with arbitrary precision.
double ref_int_to_float(Big exact, Scalar to) {
  switch (to) {
    case Scalar::BF16: return round_big(exact, 8, -126, 127);
    case Scalar::F16: return round_big(exact, 11, -14, 15);
    case Scalar::F32: return round_big(exact, 24, -126, 127);
    default: return round_big(exact, 53, -1022, 1023);
  }
}
uint64_t float_bits(double v, Scalar to) {
  switch (to) {
    case Scalar::BF16: return std::bit_cast<uint32_t>(float(v)) >> 16;
    case Scalar::F16: return ref_f16(float(v));
    case Scalar::F32: return std::bit_cast<uint32_t>(float(v));
    default: return std::bit_cast<uint64_t>(v);
  }
}

TEST(Convert, IntToFloatRoundsOnceToNearestEven) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> src;
  for (int i = 0; i < 250; ++i) {
    uint64_t r = rng();
    src.push_back(i % 3 == 0 ? r >> (rng() % 64) : i % 3 == 1 ? uint64_t(int64_t(r % 100000) - 50000) : r);
  }
  // 2^62 + 2^54 + 1: a bf16 tie after rounding to double first; one rounding goes up.
  src.push_back((1ull << 62) + (1ull << 54) + 1);
  src.push_back(~0ull);
  src.push_back(1ull << 63);
  src.push_back(70000);  // overflows f16
  src.push_back(0);
  pad_to(src, 64);
  for (Scalar from : {Scalar::I32, Scalar::I64, Scalar::I8})
    for (Scalar to : {Scalar::F32, Scalar::F64, Scalar::BF16, Scalar::F16})
      for (OpCode code : {OpCode::SIToFP, OpCode::UIToFP}) {
        SCOPED_TRACE(std::string(ir::op_info(code).name) + " " + std::string(ir::scalar_name(from)) + " -> " +
                     std::string(ir::scalar_name(to)));
        auto in = int_bytes(from, src);
        auto out = run_op_bytes(code, S(to), {Operand{S(from), in}}, src.size());
        for (size_t i = 0; i < src.size(); ++i) {
          uint64_t x = read_int(in, from, i);
          int64_t v = as_int(from, x, code == OpCode::SIToFP);
          Big exact = code == OpCode::SIToFP ? Big(v) : Big(uint64_t(v));
          uint64_t want = float_bits(ref_int_to_float(exact, to), to);
          ASSERT_EQ(read_int(out, to, i), want) << std::hex << x;
        }
      }
}

TEST(Convert, FloatToIntSaturatesAndMapsNaNToZero) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> src = {NAN, -NAN, INFINITY, -INFINITY, 3e9f, -3e9f, -0.7f, 2.9f, -2.9f, 200.0f, -200.0f,
                            300.0f, -5.0f, 127.5f, -128.5f, 255.9f, 4.5e9f, 1e19f, -1e19f, 2147483520.0f, 0.0f, -0.0f};
  for (int i = 0; i < 300; ++i) src.push_back(random_float(rng));
  for (int i = 0; i < 100; ++i) src.push_back(float(int32_t(rng())) / float(1 + rng() % 1000));
  pad_to(src, 64);
  auto ref = [](double v, Scalar to, bool sign) -> int64_t {
    if (std::isnan(v)) return 0;
    int w = ir::scalar_bits(to);
    long double lo = sign ? -std::ldexp(1.0L, w - 1) : 0.0L;
    long double hi = sign ? std::ldexp(1.0L, w - 1) - 1 : std::ldexp(1.0L, w) - 1;
    long double t = std::trunc((long double)v);
    if (t < lo) t = lo;
    if (t > hi) t = hi;
    return sign ? int64_t(t) : int64_t(uint64_t(t));
  };
  for (Scalar to : {Scalar::I8, Scalar::I16, Scalar::I32, Scalar::I64})
    for (OpCode code : {OpCode::FPToSI, OpCode::FPToUI}) {
      SCOPED_TRACE(std::string(ir::op_info(code).name) + " -> " + std::string(ir::scalar_name(to)));
      auto out = run_op_bytes(code, S(to), {Operand::of(S(Scalar::F32), src)}, src.size());
      std::vector<double> d(src.begin(), src.end());
      auto out64 = run_op_bytes(code, S(to), {Operand::of(S(Scalar::F64), d)}, d.size());
      for (size_t i = 0; i < src.size(); ++i) {
        uint64_t want = uint64_t(as_int(to, uint64_t(ref(src[i], to, code == OpCode::FPToSI)), false));
        ASSERT_EQ(read_int(out, to, i), want) << src[i];
        ASSERT_EQ(read_int(out64, to, i), want) << src[i] << " (from f64)";
      }
    }
}

TEST(Convert, FloatTruncationAndExtension) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> f = special_floats();
  // bf16 ties: low half exactly 0x8000 with even and odd upper halves; values just over the tie.
  for (uint32_t hi : {0x3F80u, 0x3F81u, 0x0001u, 0x7F7Fu, 0xC2AAu}) {
    f.push_back(std::bit_cast<float>((hi << 16) | 0x8000u));
    f.push_back(std::bit_cast<float>((hi << 16) | 0x8001u));
    f.push_back(std::bit_cast<float>((hi << 16) | 0x7FFFu));
  }
  f.push_back(65520.0f);  // rounds to f16 infinity
  f.push_back(65519.0f);
  f.push_back(0x1p-25f);  // f16 subnormal tie
  f.push_back(0x1.8p-25f);
  for (int i = 0; i < 400; ++i) f.push_back(random_float(rng));
  pad_to(f, 64);
  auto tobf = run_op<uint16_t>(OpCode::FPTrunc, S(Scalar::BF16), {Operand::of(S(Scalar::F32), f)}, f.size());
  auto toh = run_op<uint16_t>(OpCode::FPTrunc, S(Scalar::F16), {Operand::of(S(Scalar::F32), f)}, f.size());
  auto tod = run_op<double>(OpCode::FPExt, S(Scalar::F64), {Operand::of(S(Scalar::F32), f)}, f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    if (std::isnan(f[i])) {
      ASSERT_TRUE(std::isnan(bf16f(tobf[i])) && std::isnan(f16f(toh[i])) && std::isnan(tod[i]));
      continue;
    }
    ASSERT_EQ(tobf[i], ref_bf16(f[i])) << std::hexfloat << f[i];
    ASSERT_EQ(toh[i], ref_f16(f[i])) << std::hexfloat << f[i];
    ASSERT_TRUE(same_double(tod[i], double(f[i])));
  }
  // Back up: bf16/f16 -> f32 is exact.
  auto bf_back = run_op<float>(OpCode::FPExt, S(Scalar::F32), {Operand::of(S(Scalar::BF16), tobf)}, f.size());
  auto h_back = run_op<float>(OpCode::FPExt, S(Scalar::F32), {Operand::of(S(Scalar::F16), toh)}, f.size());
  for (size_t i = 0; i < f.size(); ++i) {
    ASSERT_TRUE(same_float(bf_back[i], bf16f(tobf[i])));
    ASSERT_TRUE(same_float(h_back[i], f16f(toh[i])));
  }
  // f64 -> f32 / bf16 / f16 round once from the double (1 + 2^-8 + 2^-40 must go up in bf16).
  std::vector<double> d = {1.0 + 0x1p-8 + 0x1p-40, -(1.0 + 0x1p-8 + 0x1p-40), 1.0 + 0x1p-8, 1e300, -1e-300, 0x1p-140,
                           0x1.0000018p-126};
  std::mt19937_64 r64(seed);
  std::uniform_real_distribution<double> u(-1, 1);
  while (d.size() % 64 || d.size() < 256) d.push_back(std::ldexp(u(r64), int(r64() % 300) - 150));
  auto d32 = run_op<float>(OpCode::FPTrunc, S(Scalar::F32), {Operand::of(S(Scalar::F64), d)}, d.size());
  auto dbf = run_op<uint16_t>(OpCode::FPTrunc, S(Scalar::BF16), {Operand::of(S(Scalar::F64), d)}, d.size());
  auto dh = run_op<uint16_t>(OpCode::FPTrunc, S(Scalar::F16), {Operand::of(S(Scalar::F64), d)}, d.size());
  for (size_t i = 0; i < d.size(); ++i) {
    ASSERT_TRUE(same_float(d32[i], float(d[i]))) << d[i];
    ASSERT_EQ(dbf[i], float_bits(round_big(Big(d[i]), 8, -126, 127), Scalar::BF16)) << std::hexfloat << d[i];
    ASSERT_EQ(dh[i], float_bits(round_big(Big(d[i]), 11, -14, 15), Scalar::F16)) << std::hexfloat << d[i];
  }
}

TEST(Convert, BitcastKeepsBitsWithElementZeroLow) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const size_t lanes = 64;
  std::vector<uint32_t> w(lanes * 2);
  for (auto& x : w) x = rng();
  // <2 x bf16> -> i32 -> <4 x i8>, and <2 x i32> -> i64 -> <2 x f32>.
  std::vector<uint16_t> h(lanes * 2);
  for (size_t i = 0; i < h.size(); ++i) h[i] = uint16_t(w[i]);
  auto packed = run_op<uint32_t>(OpCode::Bitcast, S(Scalar::I32), {Operand::of(V(Scalar::BF16, 2), h)}, lanes);
  auto bytes = run_op<uint8_t>(OpCode::Bitcast, V(Scalar::I8, 4), {Operand::of(S(Scalar::I32), packed)}, lanes);
  auto wide = run_op<uint64_t>(OpCode::Bitcast, S(Scalar::I64), {Operand::of(V(Scalar::I32, 2), w)}, lanes);
  auto fl = run_op<uint32_t>(OpCode::Bitcast, V(Scalar::F32, 2), {Operand::of(S(Scalar::I64), wide)}, lanes);
  for (size_t l = 0; l < lanes; ++l) {
    uint32_t want = uint32_t(h[2 * l]) | (uint32_t(h[2 * l + 1]) << 16);
    ASSERT_EQ(packed[l], want);
    for (int b = 0; b < 4; ++b) ASSERT_EQ(bytes[4 * l + b], uint8_t(want >> (8 * b)));
    ASSERT_EQ(wide[l], uint64_t(w[2 * l]) | (uint64_t(w[2 * l + 1]) << 32));
    ASSERT_EQ(fl[2 * l], w[2 * l]);
    ASSERT_EQ(fl[2 * l + 1], w[2 * l + 1]);
  }
  // <8 x i1> <-> i8: element e is bit e.
  std::vector<uint8_t> bits(lanes * 8), byte(lanes);
  for (auto& x : bits) x = rng() & 1;
  for (auto& x : byte) x = uint8_t(rng());
  auto to_i8 = run_op<uint8_t>(OpCode::Bitcast, S(Scalar::I8), {Operand::of(V(Scalar::I1, 8), bits)}, lanes);
  auto to_bits = run_op<uint8_t>(OpCode::Bitcast, V(Scalar::I1, 8), {Operand::of(S(Scalar::I8), byte)}, lanes);
  for (size_t l = 0; l < lanes; ++l) {
    uint8_t want = 0;
    for (int e = 0; e < 8; ++e) want |= uint8_t(bits[8 * l + e] << e);
    ASSERT_EQ(to_i8[l], want);
    for (int e = 0; e < 8; ++e) ASSERT_EQ(to_bits[8 * l + e], (byte[l] >> e) & 1);
  }
}

TEST(Convert, VectorExtractInsertSplatBuild) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const size_t lanes = 128;
  std::vector<uint16_t> v8(lanes * 8);
  for (auto& x : v8) x = uint16_t(rng());
  std::vector<uint32_t> v4(lanes * 4), s(lanes), t(lanes), u(lanes);
  for (auto& x : v4) x = rng();
  for (auto& x : s) x = rng();
  for (auto& x : t) x = rng();
  for (auto& x : u) x = rng();
  auto ex = run_op<uint16_t>(OpCode::Extract, S(Scalar::BF16), {Operand::of(V(Scalar::BF16, 8), v8)}, lanes, {5});
  auto ins = run_op<uint32_t>(OpCode::Insert, V(Scalar::I32, 4),
                              {Operand::of(V(Scalar::I32, 4), v4), Operand::of(S(Scalar::I32), s)}, lanes, {2});
  auto sp = run_op<uint32_t>(OpCode::Splat, V(Scalar::F32, 4), {Operand::of(S(Scalar::F32), s)}, lanes);
  auto bv = run_op<uint32_t>(OpCode::BuildVec, V(Scalar::F32, 3),
                             {Operand::of(S(Scalar::F32), s), Operand::of(S(Scalar::F32), t), Operand::of(S(Scalar::F32), u)}, lanes);
  for (size_t l = 0; l < lanes; ++l) {
    ASSERT_EQ(ex[l], v8[8 * l + 5]);
    for (int e = 0; e < 4; ++e) {
      ASSERT_EQ(ins[4 * l + e], e == 2 ? s[l] : v4[4 * l + e]);
      ASSERT_EQ(sp[4 * l + e], s[l]);
    }
    ASSERT_EQ(bv[3 * l + 0], s[l]);
    ASSERT_EQ(bv[3 * l + 1], t[l]);
    ASSERT_EQ(bv[3 * l + 2], u[l]);
  }
}

}  // namespace
}  // namespace emutest
