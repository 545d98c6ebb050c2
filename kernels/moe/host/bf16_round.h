// Rounding a double once to bf16 or f32 (the reference's output conversion).
#pragma once
#include <cstdint>

namespace tilejit::moe {

/// double -> bf16 bits, one rounding to nearest even (no double rounding through
/// f32: the value is first rounded to f32 with round-to-odd, which preserves the
/// final RNE result). Overflow gives +-Inf, NaN a quiet NaN, subnormals are kept.
uint16_t double_to_bf16(double x);

}  // namespace tilejit::moe
