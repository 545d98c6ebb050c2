// E2M1 (FP4) codes: the value table, exact decoding and aiter's rounding encoder.
#pragma once
#include <array>
#include <cstdint>

namespace tilejit::mxfp4 {

/// Values of the 16 E2M1 codes: bit 3 sign, bits 2..1 exponent (bias 1), bit 0
/// mantissa. Codes 8..15 are the negatives of 0..7; code 8 is -0.
inline constexpr std::array<float, 16> kE2M1Values = {
    0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
    -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

/// Largest finite E2M1 magnitude.
inline constexpr float kE2M1Max = 6.0f;

/// Value of an E2M1 code; only the low 4 bits of `code` are used.
inline float e2m1_to_float(uint8_t code) { return kE2M1Values[code & 0xFu]; }

/// f32 -> E2M1 code with aiter's conversion (`_f32_to_floatx_unpacked`, ebits 2,
/// mbits 1): round to nearest, ties to even code; magnitudes >= 6 (Inf included)
/// saturate to +-6; the sign is kept, so -0.0 gives code 8. NaN has no code: the
/// result is whatever that bit algorithm yields (3 | sign for a default quiet
/// NaN); callers must not rely on it.
uint8_t float_to_e2m1(float x);

}  // namespace tilejit::mxfp4
