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

// Recipe A of isa-semantics.md §6 in packed bf16x2 arithmetic. Pair j holds codes (lo, hi) =
// (2j, 2j+1) (Natural) or (j, j+4) (Split); P_j places them as bf16 halves: sign at bit 15 (31),
// E1 E0 m at bits 8:6 (24:22), which reads as E2M1(c) * 2^-126. Two exact bf16x2 multiplies then
// apply 2^126 and the scale 2^(x-127) (x = 0: the subnormal 2^-127; x = 255: NaN, propagated).
// In Split order the two codes of a pair sit 16 bits apart in `word`, as they must in P_j, so
// one shift serves both magnitudes and one both signs.
Value software(const Value& word, const Value& scale, Fp4Order order, const dsl::SrcLoc& loc) {
  const Type v2bf = Type::vector(Scalar::BF16, 2);
  auto a = [&](const Value& v) { return Arg(v, loc); };
  auto k = [&](uint32_t v) { return Arg(int32_t(v), loc).as(kI32); };
  auto shift = [&](const Value& v, int s) {  // s > 0: left, s < 0: logical right
    return s >= 0 ? Value(a(v) << Arg(s, loc)) : dsl::lshr(a(v), Arg(-s, loc), loc);
  };
  auto bits = [&](int s, uint32_t mask) { return Value(a(shift(word, s)) & k(mask)); };
  auto bf16x2 = [&](const Value& v) { return dsl::bitcast(a(v), v2bf, loc); };

  Value x = scale;
  Value pow = Value(a(Value(a(x) << Arg(7, loc))) | a(Value(a(x) << Arg(23, loc))));  // 2^(x-127) twice
  pow = dsl::select(a(Value(a(x) == Arg(0, loc))), k(0x00400040), a(pow), loc);
  pow = dsl::select(a(Value(a(x) == Arg(255, loc))), k(0x7FFF7FFF), a(pow), loc);
  Value two126 = bf16x2(Arg(int32_t(0x7E807E80), loc).as(kI32));
  std::vector<Value> pairs;
  for (int j = 0; j < 4; ++j) {
    Value p;
    if (order == Fp4Order::Split) {
      int d = 4 * j;
      p = Value(a(bits(6 - d, 0x01C001C0)) | a(bits(12 - d, 0x80008000)));
    } else {
      int d = 8 * j;
      p = Value(a(Value(a(bits(6 - d, 0x000001C0)) | a(bits(12 - d, 0x00008000)))) |
                a(Value(a(bits(18 - d, 0x01C00000)) | a(bits(24 - d, 0x80000000)))));
    }
    Value v = Value(a(Value(a(bf16x2(p)) * a(two126))) * a(bf16x2(pow)));
    pairs.push_back(dsl::bitcast(a(v), kI32, loc));
  }
  return dsl::bitcast(a(dsl::make_vector(pairs, loc)), Type::vector(Scalar::BF16, 8), loc);
}
}  // namespace

Value split_pairs(const Value& v8, const dsl::SrcLoc& loc) {
  if (!v8.type().is_value() || v8.type().width != 8 || v8.type().size_bytes() != 16)
    dsl::detail::type_error("split_pairs takes <8 x T> with a 16-bit T, got " + ir::to_string(v8.type()), loc);
  std::vector<Value> e;
  for (int j = 0; j < 4; ++j)
    for (int h = 0; h < 2; ++h) e.push_back(dsl::extract(Arg(v8, loc), j + 4 * h, loc));
  return dsl::make_vector(e, loc);
}

Value decode_fp4x8(const Value& word, const Value& scale, Fp4Path path, Fp4Order order, const dsl::SrcLoc& loc) {
  if (word.type() != kI32 || scale.type() != kI32)
    dsl::detail::type_error("decode_fp4x8 takes an i32 word and an i32 E8M0 scale, got " +
                                ir::to_string(word.type()) + " and " + ir::to_string(scale.type()), loc);
  bool hw = path == Fp4Path::Hardware || (path == Fp4Path::Auto && dsl::target().has_fp4_convert);
  if (!hw) return software(word, scale, order, loc);
  Value v = hardware(word, scale, loc);
  return order == Fp4Order::Split ? split_pairs(v, loc) : v;
}

}  // namespace tilejit::tile
