// Bit-level helpers for the matrix numerics: split floats into integer significands, round exact values.
#pragma once
#include <bit>
#include <cstdint>

namespace tilejit::matrix::detail {

/// An IEEE binary format with an implicit leading bit: f32 (8, 23) and bf16 (8, 7).
struct FloatFormat {
  int exp_bits;
  int frac_bits;
};
inline constexpr FloatFormat kF32{8, 23};
inline constexpr FloatFormat kBf16{8, 7};

enum class Round : uint8_t { NearestEven, TowardZero };

/// A finite float as (-1)^neg · sig · 2^(exp - frac_bits), where exp is the unbiased exponent
/// (the format's minimum exponent for subnormals and zero) and sig includes the implicit bit.
/// This is MMA-Sim's (significand in [0,2), exponent) split with the significand scaled to an integer.
struct Split {
  bool neg;
  uint32_t sig;  ///< 0 for ±0
  int exp;
};

/// Classification of an encoded value.
enum class Kind : uint8_t { Finite, Inf, NaN };

/// Reads an encoding of `fmt` (at most 32 bits).
inline Kind classify(uint32_t bits, FloatFormat fmt) {
  uint32_t exp_field = (bits >> fmt.frac_bits) & ((1u << fmt.exp_bits) - 1);
  uint32_t frac = bits & ((1u << fmt.frac_bits) - 1);
  if (exp_field != (1u << fmt.exp_bits) - 1) return Kind::Finite;
  return frac ? Kind::NaN : Kind::Inf;
}

/// Splits a finite encoding of `fmt`.
inline Split split(uint32_t bits, FloatFormat fmt) {
  int bias = (1 << (fmt.exp_bits - 1)) - 1;
  uint32_t exp_field = (bits >> fmt.frac_bits) & ((1u << fmt.exp_bits) - 1);
  uint32_t frac = bits & ((1u << fmt.frac_bits) - 1);
  bool neg = (bits >> (fmt.frac_bits + fmt.exp_bits)) & 1u;
  if (exp_field == 0) return {neg, frac, 1 - bias};  // subnormal or zero
  return {neg, frac | (1u << fmt.frac_bits), int(exp_field) - bias};
}

/// Number of significant bits of v (0 for 0).
inline int bit_length(unsigned __int128 v) {
  uint64_t hi = uint64_t(v >> 64), lo = uint64_t(v);
  return hi ? 128 - std::countl_zero(hi) : 64 - std::countl_zero(lo);
}

/// Rounds the exact value (-1)^neg · mag · 2^lsb_exp to `fmt` and returns its encoding.
/// mag must be below 2^127. A zero magnitude gives a zero with the given sign. Results past the
/// largest finite value become ±Inf in both modes (the MMA-Sim models produce Inf for RZ overflow too).
inline uint32_t round_to_format(unsigned __int128 mag, int lsb_exp, bool neg, FloatFormat fmt, Round mode) {
  const uint32_t sign = uint32_t(neg) << (fmt.frac_bits + fmt.exp_bits);
  if (mag == 0) return sign;
  const int bias = (1 << (fmt.exp_bits - 1)) - 1;
  const int emin = 1 - bias;
  const int len = bit_length(mag);
  const int msb_exp = lsb_exp + len - 1;
  // Step 1: the quantum of the result: 2^(exponent - frac_bits), where subnormals share emin's quantum.
  int q = (msb_exp > emin ? msb_exp : emin) - fmt.frac_bits;
  const int sh = q - lsb_exp;  // how many low bits of mag fall below the quantum
  unsigned __int128 sig;
  if (sh <= 0) {
    sig = mag << -sh;  // exact; fits in frac_bits + 1 bits
  } else if (sh > len) {
    sig = 0;  // below half a quantum: rounds to zero in both modes
  } else {
    // Step 2: keep the bits at or above the quantum, then round with the dropped bits.
    sig = mag >> sh;
    const unsigned __int128 rem = mag & (((unsigned __int128)1 << sh) - 1);
    const unsigned __int128 half = (unsigned __int128)1 << (sh - 1);
    if (mode == Round::NearestEven && (rem > half || (rem == half && (sig & 1)))) ++sig;
  }
  if (sig == 0) return sign;
  // Step 3: a carry out of the significand moves to the next binade.
  if (sig >> (fmt.frac_bits + 1)) {
    sig >>= 1;
    ++q;
  }
  // Step 4: encode. A significand below 2^frac_bits is a subnormal (q is then emin - frac_bits).
  const uint32_t max_field = (1u << fmt.exp_bits) - 1;
  uint32_t field = (sig >> fmt.frac_bits) ? uint32_t(q + fmt.frac_bits + bias) : 0u;
  if (field >= max_field) return sign | (max_field << fmt.frac_bits);  // overflow: ±Inf
  return sign | (field << fmt.frac_bits) | (uint32_t(sig) & ((1u << fmt.frac_bits) - 1));
}

}  // namespace tilejit::matrix::detail
