// FP4 decoding: the gfx950 conversion instruction, or the exact bit-manipulation recipe.
#include "dsl/tile/mxfp4.h"

#include "dsl/ops.h"
#include "dsl/tile/intrinsics.h"

namespace tilejit::tile {

using dsl::Arg;
using dsl::Value;
using ir::Scalar;
using ir::Type;

namespace {
const Type kI32 = Type::scalar(Scalar::I32);
const Type kF32 = Type::scalar(Scalar::F32);

Value hardware(const Value& word, const Value& scale, const dsl::SrcLoc& loc) {
  // The instruction reads only the exponent field of its f32 scale operand.
  Value scale_f32 = dsl::bitcast(Arg(Value(Arg(scale, loc) << Arg(23, loc)), loc), kF32, loc);
  std::vector<Value> words;
  for (int b = 0; b < 4; ++b)
    words.push_back(dsl::bitcast(Arg(cvt_pk_bf16_fp4(word, scale_f32, b, loc), loc), kI32, loc));
  return dsl::bitcast(Arg(dsl::make_vector(words, loc), loc), Type::vector(Scalar::BF16, 8), loc);
}

Value software(const Value& word, const Value& scale, const dsl::SrcLoc& loc) {
  const Type v8i = Type::vector(Scalar::I32, 8), v8f = Type::vector(Scalar::F32, 8);
  auto c = [&](int v) { return Arg(v, loc).as(kI32); };
  std::vector<Value> shifts;
  for (int e = 0; e < 8; ++e) shifts.push_back(c(4 * e));
  Value codes = dsl::Value(Arg(dsl::lshr(Arg(dsl::splat(Arg(word, loc), 8, loc), loc),
                                         Arg(dsl::make_vector(shifts, loc), loc), loc), loc) & Arg(15, loc));
  // P(c): sign to bit 31, exponent and mantissa bits to 24..22: the f32 value E2M1(c) * 2^-126.
  Value sign = Value(Arg(Value(Arg(codes, loc) & Arg(8, loc)), loc) << Arg(28, loc));
  Value mag = Value(Arg(Value(Arg(codes, loc) & Arg(7, loc)), loc) << Arg(22, loc));
  Value f = dsl::bitcast(Arg(Value(Arg(sign, loc) | Arg(mag, loc)), loc), v8f, loc);
  f = Value(Arg(f, loc) * Arg(0x1p126f, loc));  // exact: 0 or a normal with <= 2 significant bits
  // 2^(x-127): x << 23 as f32 bits, with x = 0 -> 2^-127 (a subnormal) spelled out.
  Value is_zero = Value(Arg(scale, loc) == Arg(0, loc));
  Value pow = dsl::select(Arg(is_zero, loc), Arg(c(0x00400000), loc), Arg(Value(Arg(scale, loc) << Arg(23, loc)), loc), loc);
  f = Value(Arg(f, loc) * Arg(dsl::bitcast(Arg(pow, loc), kF32, loc), loc));
  Value bf = dsl::cast(Arg(f, loc), Type::vector(Scalar::BF16, 8), loc);
  Value nan = dsl::bitcast(Arg(dsl::splat(Arg(Arg(0x7FFF, loc).as(Type::scalar(Scalar::I16)), loc), 8, loc), loc),
                           Type::vector(Scalar::BF16, 8), loc);
  return dsl::select(Arg(Value(Arg(scale, loc) == Arg(255, loc)), loc), Arg(nan, loc), Arg(bf, loc), loc);
}
}  // namespace

Value decode_fp4x8(const Value& word, const Value& scale, Fp4Path path, const dsl::SrcLoc& loc) {
  if (word.type() != kI32 || scale.type() != kI32)
    dsl::detail::type_error("decode_fp4x8 takes an i32 word and an i32 E8M0 scale, got " +
                                ir::to_string(word.type()) + " and " + ir::to_string(scale.type()), loc);
  bool hw = path == Fp4Path::Hardware || (path == Fp4Path::Auto && dsl::target().has_fp4_convert);
  return hw ? hardware(word, scale, loc) : software(word, scale, loc);
}

}  // namespace tilejit::tile
