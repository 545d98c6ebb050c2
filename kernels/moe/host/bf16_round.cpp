// double -> bf16 with a single round-to-nearest-even, via round-to-odd f32.
#include "kernels/moe/host/bf16_round.h"

#include <bit>
#include <cmath>
#include <limits>

#include "dsl/ir/numeric.h"

namespace tilejit::moe {
namespace {

// double -> f32 rounded to odd: truncate toward zero, set the last bit when inexact.
float round_to_odd_f32(double x) {
  const double mag = std::fabs(x);
  if (mag >= 0x1p128) return std::copysign(std::numeric_limits<float>::max(), float(x));  // odd, above bf16's max
  float f = float(x);  // RNE; finite here
  if (double(f) == x) return f;
  uint32_t u = std::bit_cast<uint32_t>(f);
  if (std::fabs(double(f)) > mag) --u;  // rounded away from zero: step back toward it (same sign)
  u |= 1u;
  return std::bit_cast<float>(u);
}

}  // namespace

uint16_t double_to_bf16(double x) {
  if (std::isnan(x))
    return uint16_t(ir::f32_to_bf16(std::numeric_limits<float>::quiet_NaN()) | (std::signbit(x) ? 0x8000u : 0u));
  if (std::isinf(x)) return std::signbit(x) ? 0xFF80u : 0x7F80u;
  return ir::f32_to_bf16(round_to_odd_f32(x));
}

}  // namespace tilejit::moe
