// Bit-exact conversions between f32 and the 16-bit float formats (RNE, NaN kept quiet).
#pragma once
#include <bit>
#include <cstdint>

namespace tilejit::ir {

/// f32 -> bf16, round to nearest even; NaN becomes a quiet NaN with the sign kept.
inline uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x0040u);
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

inline float bf16_to_f32(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

/// f32 -> IEEE half, round to nearest even, overflow to Inf, subnormals kept.
inline uint16_t f32_to_f16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t absu = u & 0x7fffffffu;
  if (absu > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((absu >> 13) & 0x1ffu));
  if (absu >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds to >= 65520: Inf
  if (absu < 0x38800000u) {                                    // below half's normal range
    // Scale into half's subnormal grid (2^-24 per step) and round once.
    float a = std::bit_cast<float>(absu);
    float scaled = a * 16777216.0f;  // exact: multiply by 2^24
    // Round to nearest even integer in f32 using the 2^23 trick.
    float r = (scaled + 8388608.0f) - 8388608.0f;
    return uint16_t(sign | uint32_t(r));
  }
  uint32_t mant = absu & 0x7fffffu;
  uint32_t exp = (absu >> 23) - 112;  // rebias 127 -> 15
  uint32_t h = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;
  return uint16_t(sign | h);
}

inline float f16_to_f32(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  if (exp == 0) {
    float m = float(mant) * (1.0f / 16777216.0f);  // mant * 2^-24, exact
    return std::bit_cast<float>(std::bit_cast<uint32_t>(m) | sign);
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mant << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (mant << 13));
}

}  // namespace tilejit::ir
