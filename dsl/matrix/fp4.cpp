// E2M1 / E8M0 decoding and the two FP4 -> bf16 conversions (gfx950 instruction semantics, sm_90 recipe).
#include "dsl/matrix/fp4.h"

#include <bit>
#include <limits>

#include "dsl/error.h"
#include "dsl/ir/numeric.h"
#include "dsl/matrix/float_round.h"

namespace tilejit::matrix {
namespace {

/// |E2M1(code)| in units of 0.5: E = 0 gives m (subnormal 0.5·m), else 2^(E-1)·(1 + m/2) = 2^E + m·2^(E-1).
constexpr uint32_t half_units(uint8_t code) {
  const uint32_t e = (code >> 1) & 3u, m = code & 1u;
  return e == 0 ? m : (1u << e) + (m << (e - 1));
}

/// One element of the gfx950 conversion: E2M1(code)·2^(x-127) as bf16 bits.
uint16_t cvt_one(uint8_t code, uint8_t x) {
  const bool neg = code & 8u;
  if (x == 255) return uint16_t(0x7FFFu | (uint32_t(neg) << 15));  // E8M0 NaN [isa §2, SRC]
  // The exact value is half_units · 2^(x-128); round it once (RNE) to bf16. Finite results are exact:
  // at most 2 significant bits, the smallest 2^-128 is a multiple of bf16's 2^-133 (isa §2, DERIVED).
  return uint16_t(detail::round_to_format(half_units(code & 7u), int(x) - 128, neg, detail::kBf16,
                                          detail::Round::NearestEven));
}

}  // namespace

float e2m1_value(uint8_t code) {
  const float v = float(half_units(code & 7u)) * 0.5f;
  return (code & 8u) ? -v : v;
}

float e8m0_value(uint8_t x) {
  if (x == 255) return std::numeric_limits<float>::quiet_NaN();
  if (x == 0) return std::bit_cast<float>(0x00400000u);  // 2^-127, an f32 subnormal
  return std::bit_cast<float>(uint32_t(x) << 23);
}

uint32_t cvt_scalef32_pk_bf16_fp4(uint32_t src, float scale, int byte_sel) {
  if (byte_sel < 0 || byte_sel > 3)
    throw InternalError("cvt_scalef32_pk_bf16_fp4: byte_sel must be in [0, 3]");
  const uint8_t x = uint8_t(std::bit_cast<uint32_t>(scale) >> 23);  // exponent field only
  const uint8_t byte = uint8_t(src >> (8 * byte_sel));
  return uint32_t(cvt_one(byte & 0xFu, x)) | (uint32_t(cvt_one(byte >> 4, x)) << 16);
}

uint16_t fp4_to_bf16_software(uint8_t code, uint8_t scale_e8m0) {
  // Step 1: P(c) widened to f32: sign to bit 31, E1 E0 m to bits 24:22. Equals E2M1(c)·2^-126.
  float f = std::bit_cast<float>(((uint32_t(code) & 8u) << 28) | ((uint32_t(code) & 7u) << 22));
  // Step 2: times 2^126, exact.
  f *= 0x1p126f;
  // Step 3: times the scale; x = 0 needs the subnormal 2^-127 (x << 23 would be 0.0). Exact or ±Inf.
  const float s = scale_e8m0 == 0 ? std::bit_cast<float>(0x00400000u)
                                  : std::bit_cast<float>(uint32_t(scale_e8m0) << 23);
  f *= s;
  // Step 4: round to bf16 (RNE; exact for finite results).
  const uint16_t bf = ir::f32_to_bf16(f);
  // Step 5: x = 255 is NaN whatever step 3 gave (Inf·v or 0·Inf); NVIDIA's canonical bf16 NaN.
  return scale_e8m0 == 255 ? uint16_t(0x7FFFu) : bf;
}

}  // namespace tilejit::matrix
