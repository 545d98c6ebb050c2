// E2M1 encoding, bit for bit as aiter's _f32_to_floatx_unpacked (torchao custom_fp_utils).
#include "kernels/mxfp4/e2m1.h"

#include <bit>

namespace tilejit::mxfp4 {

uint8_t float_to_e2m1(float x) {
  constexpr uint32_t kDenormMaskInt = 149u << 23;  // f32 2^22: its ulp is 0.5, E2M1's subnormal step
  constexpr float kMaxNormal = 6.0f;
  constexpr float kMinNormal = 1.0f;
  const uint32_t bits = std::bit_cast<uint32_t>(x);
  const uint32_t sign = bits & 0x80000000u;
  const uint32_t mag_bits = bits ^ sign;
  const float mag = std::bit_cast<float>(mag_bits);

  uint8_t code = 7;  // saturate (also +-Inf)
  const bool saturate = mag >= kMaxNormal;
  const bool denormal = !saturate && mag < kMinNormal;
  if (denormal) {
    // Adding 2^22 rounds |x| to a multiple of 0.5 (RNE); the low bits count the halves.
    const float shifted = mag + std::bit_cast<float>(kDenormMaskInt);
    code = uint8_t(std::bit_cast<uint32_t>(shifted) - kDenormMaskInt);
  } else if (!saturate) {
    // Normal range (and NaN, which fails both comparisons): rebias the exponent
    // from 127 to 1 and round the mantissa to one bit, ties to even.
    uint32_t v = mag_bits;
    const uint32_t mant_odd = (v >> 22) & 1u;
    v += (uint32_t(1 - 127) << 23) + ((1u << 21) - 1u);
    v += mant_odd;
    code = uint8_t(v >> 22);
  }
  return uint8_t((code | (sign >> 28)) & 0xFu);
}

}  // namespace tilejit::mxfp4
