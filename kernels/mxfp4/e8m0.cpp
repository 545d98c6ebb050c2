// E8M0 scale decoding and aiter's half-up encoding.
#include "kernels/mxfp4/e8m0.h"

#include <bit>
#include <limits>

namespace tilejit::mxfp4 {

float e8m0_to_float(uint8_t scale) {
  if (scale == 255) return std::numeric_limits<float>::quiet_NaN();
  if (scale == 0) return std::bit_cast<float>(0x00400000u);  // 2^-127
  return std::bit_cast<float>(uint32_t(scale) << 23);
}

float e8m0_to_float_shift(uint8_t scale) { return std::bit_cast<float>(uint32_t(scale) << 23); }

uint8_t e8m0_from_float(float x) {
  const uint32_t u = std::bit_cast<uint32_t>(x);
  const uint32_t exponent = (u >> 23) & 0xFFu;
  if (exponent == 0xFFu) return 0xFF;
  const bool round_up = (u & 0x400000u) != 0 && ((u & 0x200000u) != 0 || (u & 0x1FFFFFu) != 0 || exponent > 0);
  return uint8_t(exponent + (round_up ? 1u : 0u));
}

}  // namespace tilejit::mxfp4
