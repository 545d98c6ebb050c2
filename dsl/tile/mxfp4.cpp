// FP4 decoding: the gfx950 conversion instruction, or the exact bit-manipulation recipe.
#include "dsl/tile/mxfp4.h"

#include "dsl/ops.h"
#include "dsl/tile/intrinsics.h"

#include <fmt/format.h>

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

// The placed pairs P_j of recipe A (isa-semantics.md §6): pair j holds codes (lo, hi) = (2j, 2j+1)
// (Natural) or (j, j+4) (Split) as bf16 halves with the sign at bit 15 (31) and E1 E0 m at bits
// 8:6 (24:22), which reads as E2M1(c) * 2^-126.
//
// Split order: the two codes of pair j sit 16 bits apart in `word`, as in P_j, so pair j is the
// word shifted by 6 - 4j for the magnitudes and by 12 - 4j for the signs. Merging the word with
// itself rotated left by 6 (every sign 6 bits up) gives two words that need one rotate per pair:
// C01 holds codes 0, 1, 4, 5 (magnitudes in place, signs at bits 9, 13, 25, 29) and C23 codes
// 2, 3, 6, 7 (signs at 17, 21, 1, 5); P_j is C rotated left by 6 - 4j, masked: 11 integer
// operations per word. Natural order unshuffles the word into Split's layout first.
std::vector<Value> placed_pairs(const Value& word, Fp4Order order, const dsl::SrcLoc& loc) {
  auto a = [&](const Value& v) { return Arg(v, loc); };
  auto k = [&](uint32_t v) { return Arg(int32_t(v), loc).as(kI32); };
  auto shift = [&](const Value& v, int s) {  // s > 0: left, s < 0: logical right
    return s >= 0 ? Value(a(v) << Arg(s, loc)) : dsl::lshr(a(v), Arg(-s, loc), loc);
  };
  auto rotl = [&](const Value& v, int s) {
    s = (s + 32) % 32;
    return Value(a(shift(v, s)) | a(shift(v, s - 32)));
  };
  std::vector<Value> pairs;
  if (order == Fp4Order::Split) {
    const Value rot6 = rotl(word, 6);
    auto merge = [&](uint32_t magnitudes) {  // those bits from the word, the rest from rot6
      return dsl::bit_select(k(magnitudes), a(word), a(rot6), loc);
    };
    const Value c01 = merge(0x00770077), c23 = merge(0x77007700);
    for (int j = 0; j < 4; ++j) {
      // Pairs 0 and 1 need no bit that wraps around: a plain left shift.
      Value c = j < 2 ? shift(c01, 6 - 4 * j) : rotl(c23, 6 - 4 * j);
      pairs.push_back(Value(a(c) & k(0x81C081C0)));
    }
    return pairs;
  }
  // Natural order: unshuffle the codes (even ones to nibbles 0-3, odd ones to 4-7), after which
  // the Split pairs are the natural ones: two bit selects and a byte permute (PRMT) per word
  // instead of four shifts and masks per pair.
  const Value sh4 = shift(word, -4), sh8 = shift(word, -8);
  const Value even = dsl::bit_select(k(0x0F0F0F0F), a(word), a(sh4), loc);  // codes 0, 2 | 4, 6 in bytes 0 | 2
  const Value odd = dsl::bit_select(k(0x0F0F0F0F), a(sh4), a(sh8), loc);    // codes 1, 3 | 5, 7
  const Type bytes = Type::vector(Scalar::I8, 4);
  const Value eb = dsl::bitcast(a(even), bytes, loc), ob = dsl::bitcast(a(odd), bytes, loc);
  const Value unshuffled = dsl::make_vector({dsl::extract(a(eb), 0, loc), dsl::extract(a(eb), 2, loc),
                                             dsl::extract(a(ob), 0, loc), dsl::extract(a(ob), 2, loc)}, loc);
  return placed_pairs(dsl::bitcast(a(unshuffled), kI32, loc), Fp4Order::Split, loc);
}

// Recipe A in packed bf16x2 arithmetic: the placed pairs times 2^126 and the scale 2^(x-127), two
// exact multiplies (x = 0: the subnormal 2^-127; x = 255: NaN, propagated). With `small_scale`
// (x <= 128) a single multiply by 2^(x-1) (biased exponent x + 126, a normal bf16) does both.
Value software(const Value& word, const Value& scale, Fp4Order order, bool small_scale, const dsl::SrcLoc& loc) {
  const Type v2bf = Type::vector(Scalar::BF16, 2);
  auto a = [&](const Value& v) { return Arg(v, loc); };
  auto k = [&](uint32_t v) { return Arg(int32_t(v), loc).as(kI32); };
  auto bf16x2 = [&](const Value& v) { return dsl::bitcast(a(v), v2bf, loc); };

  Value x = scale;
  Value pow, two126;
  if (small_scale) {
    pow = Value(a(Value(a(x) + Arg(126, loc))) * Arg(0x00800080, loc));  // 2^(x-1) in both halves
  } else {
    pow = Value(a(Value(a(x) << Arg(7, loc))) | a(Value(a(x) << Arg(23, loc))));  // 2^(x-127) twice
    pow = dsl::select(a(Value(a(x) == Arg(0, loc))), k(0x00400040), a(pow), loc);
    pow = dsl::select(a(Value(a(x) == Arg(255, loc))), k(0x7FFF7FFF), a(pow), loc);
    two126 = bf16x2(Arg(int32_t(0x7E807E80), loc).as(kI32));
  }
  std::vector<Value> pairs;
  for (const Value& p : placed_pairs(word, order, loc)) {
    Value placed = small_scale ? bf16x2(p) : Value(a(bf16x2(p)) * a(two126));
    Value v = Value(a(placed) * a(bf16x2(pow)));
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

Fp4Order preferred_fp4_order() { return dsl::target().has_fp4_convert ? Fp4Order::Natural : Fp4Order::Split; }

Value in_fp4_order(const Value& v8, Fp4Order order, const dsl::SrcLoc& loc) {
  return order == Fp4Order::Split ? split_pairs(v8, loc) : v8;
}

Value decode_fp4x8(const Value& word, const Value& scale, Fp4Path path, Fp4Order order, const dsl::SrcLoc& loc) {
  if (word.type() != kI32 || scale.type() != kI32)
    dsl::detail::type_error("decode_fp4x8 takes an i32 word and an i32 E8M0 scale, got " +
                                ir::to_string(word.type()) + " and " + ir::to_string(scale.type()), loc);
  bool hw = path == Fp4Path::Hardware || (path == Fp4Path::Auto && dsl::target().has_fp4_convert);
  if (!hw) return software(word, scale, order, path == Fp4Path::SoftwareSmallScale, loc);
  Value v = hardware(word, scale, loc);
  return in_fp4_order(v, order, loc);
}

namespace {
struct OffsetMath {
  const dsl::SrcLoc& loc;
  Arg a(const Value& v) const { return Arg(v, loc); }
  Arg i(int v) const { return Arg(v, loc); }
  Value div(const Value& x, int d) const { return dsl::udiv(a(x), i(d), loc); }
  Value rem(const Value& x, int d) const { return dsl::urem(a(x), i(d), loc); }
  Value add(const Value& x, const Value& y) const { return Value(a(x) + a(y)); }
  Value mul(const Value& x, const Value& y) const { return Value(a(x) * a(y)); }
  Value mulc(const Value& x, int c) const { return Value(a(x) * i(c)); }
};
}  // namespace

// 256-byte blocks of (16 rows x 16 bytes): row group n/16 after row group, K/32 blocks each.
Value mxfp4_weight_offset(const Arg& n_arg, const Arg& kb_arg, const Arg& K_arg, const dsl::SrcLoc& loc) {
  OffsetMath m{loc};
  Value n = Value(n_arg.as(kI32)), kb = Value(kb_arg.as(kI32)), K = Value(K_arg.as(kI32));
  Value block = m.add(m.mul(m.div(n, 16), m.div(K, 32)), kb);
  return m.add(m.mulc(block, 256), m.mulc(m.rem(n, 16), 16));
}

// n = n1*32 + np*16 + nl, kb = k1*8 + kp*4 + kl -> ((((n1 * K/256 + k1) * 4 + kl) * 16 + nl) * 4 + kp * 2 + np.
Value mxfp4_scale_offset(const Arg& n_arg, const Arg& kb_arg, const Arg& K_arg, const dsl::SrcLoc& loc) {
  OffsetMath m{loc};
  Value n = Value(n_arg.as(kI32)), kb = Value(kb_arg.as(kI32)), K = Value(K_arg.as(kI32));
  return m.add(m.mulc(m.add(m.mulc(m.add(m.mul(m.div(n, 32), m.div(K, 256)), m.div(kb, 8)), 4), m.rem(kb, 4)), 64),
               m.add(m.mulc(m.rem(n, 16), 4), m.add(m.mulc(m.rem(m.div(kb, 4), 2), 2), m.rem(m.div(n, 16), 2))));
}

Value load_mxfp4_codes(const Value& w, const Arg& n_arg, const Arg& kb_arg, const Arg& N_arg, const Arg& K_arg, int words,
                       int first_word, bool rows_checked, ir::CachePolicy policy, const dsl::SrcLoc& loc) {
  // Also load_b_mxfp4's checks: the messages name both.
  if (words != 1 && words != 4)
    dsl::detail::type_error("load_b_mxfp4 / load_mxfp4_codes read 1 or 4 words, got " + std::to_string(words), loc);
  if (first_word < 0 || first_word + words > 4)
    dsl::detail::type_error(fmt::format("load_b_mxfp4 / load_mxfp4_codes: words {}..{} are outside the 16-byte block",
                                        first_word, first_word + words - 1), loc);
  if (w.type() != Type::pointer(Scalar::I32, ir::AddrSpace::Global))
    dsl::detail::type_error("load_b_mxfp4 / load_mxfp4_codes take the weights as ptr<global, i32>, got " +
                                ir::to_string(w.type()), loc);
  OffsetMath m{loc};
  Value n = Value(n_arg.as(kI32)), kb = Value(kb_arg.as(kI32)), N = Value(N_arg.as(kI32)), K = Value(K_arg.as(kI32));
  Value w_off = m.add(mxfp4_weight_offset(m.a(n), m.a(kb), m.a(K), loc), Value(m.i(first_word * 4).as(kI32)));
  Type t = words == 4 ? Type::vector(Scalar::I32, 4) : kI32;
  Value bytes = m.mul(m.div(N, 16), m.mulc(K, 8));  // N * K / 2 without overflowing early
  return rows_checked ? dsl::buffer_load(w, m.a(bytes), m.a(w_off), t, policy, loc)
                      : dsl::load(w, m.a(dsl::lshr(m.a(w_off), m.i(2), loc)), words, policy, loc);
}

Mxfp4Fragment load_b_mxfp4(const Value& w, const Value& scales, const Arg& n_arg, const Arg& kb_arg, const Arg& N_arg,
                           const Arg& K_arg, int words, int first_word, bool rows_checked, ir::CachePolicy policy,
                           ir::CachePolicy scale_policy, const dsl::SrcLoc& loc) {
  if (scales.type() != Type::pointer(Scalar::I8, ir::AddrSpace::Global))
    dsl::detail::type_error("load_b_mxfp4 takes the scales as ptr<global, i8>, got " + ir::to_string(scales.type()), loc);
  Value codes = load_mxfp4_codes(w, n_arg, kb_arg, N_arg, K_arg, words, first_word, rows_checked, policy, loc);
  OffsetMath m{loc};
  Value n = Value(n_arg.as(kI32)), kb = Value(kb_arg.as(kI32)), N = Value(N_arg.as(kI32)), K = Value(K_arg.as(kI32));
  Value sn = rows_checked ? dsl::min(m.a(n), m.a(Value(m.a(N) - m.i(1))), loc) : n;
  Value s_off = mxfp4_scale_offset(m.a(sn), m.a(kb), m.a(K), loc);
  Value scale = dsl::zext(m.a(dsl::load(scales, m.a(s_off), 1, scale_policy, loc)), kI32, loc);
  return {codes, scale};
}

Value load_mxfp4_scale_word(const Value& scales, const Arg& n_arg, const Arg& kb_arg, const Arg& N_arg, const Arg& K_arg,
                            bool rows_checked, const dsl::SrcLoc& loc) {
  if (scales.type() != Type::pointer(Scalar::I8, ir::AddrSpace::Global))
    dsl::detail::type_error("load_mxfp4_scale_word takes the scales as ptr<global, i8>, got " + ir::to_string(scales.type()), loc);
  OffsetMath m{loc};
  Value n = Value(n_arg.as(kI32)), kb = Value(kb_arg.as(kI32)), N = Value(N_arg.as(kI32)), K = Value(K_arg.as(kI32));
  Value sn = rows_checked ? dsl::min(m.a(n), m.a(Value(m.a(N) - m.i(1))), loc) : n;
  // Clearing bit 4 of the row and bit 2 of the block gives the word's first byte (a multiple of 4).
  Value n0 = Value(m.a(sn) & m.a(Value(m.i(~16).as(kI32))));
  Value kb0 = Value(m.a(kb) & m.a(Value(m.i(~4).as(kI32))));
  Value bytes = dsl::load(scales, m.a(mxfp4_scale_offset(m.a(n0), m.a(kb0), m.a(K), loc)), 4, loc);
  return dsl::bitcast(m.a(bytes), kI32, loc);
}

Value mxfp4_scale_in_word(const Value& word, const Arg& n_arg, const Arg& kb_arg, const dsl::SrcLoc& loc) {
  if (word.type() != kI32) dsl::detail::type_error("mxfp4_scale_in_word takes the i32 word, got " + ir::to_string(word.type()), loc);
  OffsetMath m{loc};
  Value n = Value(n_arg.as(kI32)), kb = Value(kb_arg.as(kI32));
  Value byte = m.add(m.mulc(m.rem(m.div(kb, 4), 2), 2), m.rem(m.div(n, 16), 2));
  return Value(m.a(dsl::lshr(m.a(word), m.a(Value(m.a(byte) << m.i(3))), loc)) & m.i(0xFF));
}

}  // namespace tilejit::tile
