// Single-rounding helpers for the emulator's float ops: exact values to f32/bf16/f16 with RNE.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

#include "dsl/ir/numeric.h"

namespace tilejit::emulator::detail {

/// A binary float format: significand bits (with the hidden bit), min normal and max exponents.
struct FloatFormat {
  int p, emin, emax;
};
inline constexpr FloatFormat kFmtBF16{8, -126, 127};
inline constexpr FloatFormat kFmtF16{11, -14, 15};
inline constexpr FloatFormat kFmtF32{24, -126, 127};

/// Rounds the exact value `x` once to `f` (RNE, subnormals kept, overflow to Inf). The result
/// is exactly representable in `f` (and in f32). x87 long double holds every int64 and double exactly.
inline long double round_to_format(long double x, FloatFormat f) {
  if (std::isnan(x) || std::isinf(x) || x == 0) return x;
  int e = std::ilogb(x);
  int q = (e > f.emin ? e : f.emin) - (f.p - 1);
  long double r = std::scalbn(std::nearbyint(std::scalbn(x, -q)), q);
  if (std::fabs(r) >= std::scalbn(1.0L, f.emax + 1)) return std::copysign(INFINITY, x);
  if (r == 0) return std::copysign(0.0L, x);
  return r;
}

/// Exact value -> bf16 bits (RNE); NaN -> quiet NaN with its sign.
inline uint16_t to_bf16_bits(long double x) {
  if (std::isnan(x)) return std::signbit(x) ? 0xFFC0 : 0x7FC0;
  return uint16_t(std::bit_cast<uint32_t>(float(round_to_format(x, kFmtBF16))) >> 16);
}

/// Exact value -> f16 bits (RNE); NaN -> quiet NaN with its sign.
inline uint16_t to_f16_bits(long double x) {
  if (std::isnan(x)) return std::signbit(x) ? 0xFE00 : 0x7E00;
  return ir::f32_to_f16(float(round_to_format(x, kFmtF16)));
}

/// a * b + c in double with round-to-odd, for operands whose product is exact in double
/// (every f32/f16/bf16 pair): rounding the result again to a format of <= 51 bits is then a
/// single correct rounding of the exact value.
inline double fma_round_odd(double a, double b, double c) {
  double p = a * b;  // exact by precondition
  double s = p + c;
  if (!std::isfinite(s) || !std::isfinite(p) || !std::isfinite(c)) return std::fma(a, b, c);
  double bp = s - p;
  double err = (p - (s - bp)) + (c - bp);
  if (err != 0 && (std::bit_cast<uint64_t>(s) & 1) == 0)
    s = std::nextafter(s, err > 0 ? INFINITY : -INFINITY);
  return s;
}

}  // namespace tilejit::emulator::detail
