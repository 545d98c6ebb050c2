// E8M0 block scales: decoding (reference and kernel bit-shift variants) and aiter's encoder.
#pragma once
#include <cstdint>

namespace tilejit::mxfp4 {

/// E8M0 exponent bias.
inline constexpr int kE8M0Bias = 127;

/// Reference decoding used throughout tilejit (as aiter's e8m0_to_f32):
/// 255 -> NaN, 0 -> 2^-127 (an f32 subnormal, bit pattern 0x00400000),
/// any other byte b -> 2^(b-127). Always exact in f32.
float e8m0_to_float(uint8_t scale);

/// The decoding a kernel gets by using `scale << 23` as an f32 bit pattern:
/// 0 -> +0.0, 255 -> +Inf, any other byte b -> 2^(b-127) (same as the reference).
float e8m0_to_float_shift(uint8_t scale);

/// E8M0 byte for a non-negative f32 with aiter's half-up rule (the f32_to_e8m0 of
/// the FlyDSL reference): the f32 exponent field, plus one when mantissa bit 22
/// is set, i.e. when the significand is >= 1.5. For an f32 subnormal (exponent
/// field 0) it rounds up only when the mantissa exceeds 0x400000. NaN and Inf
/// give 255, and so does a value >= 1.5 * 2^127 (rounded past 254). The sign bit is
/// ignored.
uint8_t e8m0_from_float(float x);

}  // namespace tilejit::mxfp4
