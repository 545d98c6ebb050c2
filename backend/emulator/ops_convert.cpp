// Semantics of conversions (int resize, int<->float, float<->float, bitcast) and vector element ops.
#include <fmt/format.h>

#include <cmath>
#include <cstring>

#include "backend/emulator/elem.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

namespace {

using ir::OpCode;

enum class Conv { SExt, ZExt, SIToFP, UIToFP, FPToSI, FPToUI, FPToFP };

template <Scalar S, Scalar D, Conv K>
typename Elem<D>::T convert(typename Elem<S>::T x) {
  using ES = Elem<S>;
  using ED = Elem<D>;
  if constexpr (K == Conv::SExt) {
    return ED::from_int(uint64_t(ES::sval(x)));
  } else if constexpr (K == Conv::ZExt) {
    return ED::from_int(ES::uval(x));
  } else if constexpr (K == Conv::SIToFP || K == Conv::UIToFP) {
    // int -> float: one RNE rounding (native for f32/f64, exact long double otherwise).
    if constexpr (K == Conv::SIToFP) {
      int64_t v = ES::sval(x);
      if constexpr (D == Scalar::F32) return float(v);
      else if constexpr (D == Scalar::F64) return double(v);
      else return ED::round((long double)v);
    } else {
      uint64_t v = ES::uval(x);
      if constexpr (D == Scalar::F32) return float(v);
      else if constexpr (D == Scalar::F64) return double(v);
      else return ED::round((long double)v);
    }
  } else if constexpr (K == Conv::FPToSI || K == Conv::FPToUI) {
    // Saturating, NaN -> 0 (llvm.fpto[su]i.sat).
    double v = double(ES::ld(x));
    constexpr int bits = ED::bits;
    if (std::isnan(v)) return ED::from_int(0);
    if constexpr (K == Conv::FPToSI) {
      const double lim = std::ldexp(1.0, bits - 1);
      constexpr uint64_t smax = bits == 64 ? (~0ull >> 1) : (1ull << (bits - 1)) - 1;
      if (v >= lim) return ED::from_int(smax);
      if (v <= -lim) return ED::from_int(~smax);  // the minimum, sign-extended
      return ED::from_int(uint64_t(int64_t(std::trunc(v))));
    } else {
      const double lim = std::ldexp(1.0, bits);
      if (!(v > -1.0)) return ED::from_int(0);
      constexpr uint64_t umax = bits == 64 ? ~0ull : (1ull << (bits % 64)) - 1;
      if (v >= lim) return ED::from_int(umax);
      return ED::from_int(uint64_t(std::trunc(v)));
    }
  } else {
    // float -> float: exact widening, or one RNE rounding from the exact value.
    if constexpr (D == Scalar::F64) return double(ES::ld(x));
    else if constexpr (S == Scalar::F64) return ED::round((long double)x);
    else return ED::st(ES::ld(x));
  }
}

template <Scalar S, Scalar D, Conv K>
void exec_conv(Wave& w, const Inst& in) {
  using TS = typename Elem<S>::T;
  using TD = typename Elem<D>::T;
  TD* r = w.at<TD>(in.r);
  const TS* a = w.at<TS>(in.o[0]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) r[i] = convert<S, D, K>(a[i]);
}

template <Conv K>
Handler conv_handler(Scalar s, Scalar d) {
  constexpr bool from_int = K == Conv::SExt || K == Conv::ZExt || K == Conv::SIToFP || K == Conv::UIToFP;
  constexpr bool to_int = K == Conv::SExt || K == Conv::ZExt || K == Conv::FPToSI || K == Conv::FPToUI;
  auto inner = [&](auto st) -> Handler {
    using ST = decltype(st);
    if constexpr (to_int)
      return with_int(d, [](auto dt) -> Handler { return exec_conv<ST::value, decltype(dt)::value, K>; });
    else
      return with_float(d, [](auto dt) -> Handler { return exec_conv<ST::value, decltype(dt)::value, K>; });
  };
  if constexpr (from_int) return with_int(s, inner);
  else return with_float(s, inner);
}

Handler select_conversion(Prep& p) {
  const ir::Type& a = p.type(0);
  const ir::Type& t = p.in.rt;
  p.require(a.is_value() && t.is_value(), "converts values");
  p.require(a.width == t.width, "operand and result must have the same width");
  int sb = ir::scalar_bits(a.elem), db = ir::scalar_bits(t.elem);
  switch (p.op.code) {
    case OpCode::SExt:
    case OpCode::ZExt:
      p.require(a.is_int() && t.is_int() && db >= sb, "extends an integer to a wider integer");
      return p.op.code == OpCode::SExt ? conv_handler<Conv::SExt>(a.elem, t.elem)
                                       : conv_handler<Conv::ZExt>(a.elem, t.elem);
    case OpCode::Trunc:
      p.require(a.is_int() && t.is_int() && db <= sb, "truncates an integer to a narrower integer");
      return conv_handler<Conv::ZExt>(a.elem, t.elem);
    case OpCode::SIToFP:
      p.require(a.is_int() && t.is_float(), "converts an integer to a float");
      return conv_handler<Conv::SIToFP>(a.elem, t.elem);
    case OpCode::UIToFP:
      p.require(a.is_int() && t.is_float(), "converts an integer to a float");
      return conv_handler<Conv::UIToFP>(a.elem, t.elem);
    case OpCode::FPToSI:
      p.require(a.is_float() && t.is_int(), "converts a float to an integer");
      return conv_handler<Conv::FPToSI>(a.elem, t.elem);
    case OpCode::FPToUI:
      p.require(a.is_float() && t.is_int(), "converts a float to an integer");
      return conv_handler<Conv::FPToUI>(a.elem, t.elem);
    case OpCode::FPExt: {
      p.require(a.is_float() && t.is_float(), "extends a float");
      bool exact = a.elem == t.elem || t.elem == Scalar::F64 ||
                   (t.elem == Scalar::F32 && (a.elem == Scalar::F16 || a.elem == Scalar::BF16));
      p.require(exact, "fpext needs a destination that holds every source value");
      return conv_handler<Conv::FPToFP>(a.elem, t.elem);
    }
    case OpCode::FPTrunc:
      p.require(a.is_float() && t.is_float() && db <= sb, "truncates a float to a narrower float");
      return conv_handler<Conv::FPToFP>(a.elem, t.elem);
    default: return nullptr;
  }
}

// ---- bitcast ----

void exec_bitcast_copy(Wave& w, const Inst& in) {
  std::memcpy(w.at<uint8_t>(in.r), w.at<uint8_t>(in.o[0]), size_t(w.nlanes) * in.aux);
}

/// Bit-level bitcast where a side is an i1 vector (one byte per element in storage, one bit in the type).
void exec_bitcast_bits(Wave& w, const Inst& in) {
  const ir::Type& s = in.ot[0];
  const ir::Type& d = in.rt;
  auto layout = [](const ir::Type& t, int& n, int& eb, int& bits) {
    n = t.is_pointer() ? 1 : t.width;
    bits = t.is_pointer() ? t.size_bytes() * 8 : ir::scalar_bits(t.elem);
    eb = t.is_pointer() ? t.size_bytes() : elem_bytes(t.elem);
  };
  int sn, seb, sbits, dn, deb, dbits;
  layout(s, sn, seb, sbits);
  layout(d, dn, deb, dbits);
  const uint8_t* a = w.at<uint8_t>(in.o[0]);
  uint8_t* r = w.at<uint8_t>(in.r);
  uint8_t packed[512];
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    std::memset(packed, 0, sizeof packed);
    const uint8_t* src = a + size_t(l) * sn * seb;
    for (int e = 0; e < sn; ++e)
      for (int b = 0; b < sbits; ++b) {
        int bit = (src[e * seb + b / 8] >> (b % 8)) & 1;
        int pos = e * sbits + b;
        packed[pos / 8] |= uint8_t(bit << (pos % 8));
      }
    uint8_t* dst = r + size_t(l) * dn * deb;
    std::memset(dst, 0, size_t(dn) * deb);
    for (int e = 0; e < dn; ++e)
      for (int b = 0; b < dbits; ++b) {
        int pos = e * dbits + b;
        int bit = (packed[pos / 8] >> (pos % 8)) & 1;
        dst[e * deb + b / 8] |= uint8_t(bit << (b % 8));
      }
  }
}

Handler select_bitcast(Prep& p) {
  const ir::Type& a = p.type(0);
  const ir::Type& t = p.in.rt;
  p.require((a.is_value() || a.is_pointer()) && (t.is_value() || t.is_pointer()), "bitcasts values or pointers");
  auto bits = [](const ir::Type& x) {
    return x.is_pointer() ? x.size_bytes() * 8 : x.width * ir::scalar_bits(x.elem);
  };
  p.require(bits(a) == bits(t), fmt::format("bitcast between different sizes ({} and {} bits)", bits(a), bits(t)));
  p.require(!a.is_pointer() || !t.is_pointer() || a.space == t.space, "bitcast cannot change the address space");
  bool i1 = (a.is_value() && a.elem == Scalar::I1) || (t.is_value() && t.elem == Scalar::I1);
  if (i1) return exec_bitcast_bits;
  p.in.aux = uint64_t(t.size_bytes());
  return exec_bitcast_copy;
}

// ---- vector element ops (bit moves by element size) ----

template <int N>
void exec_extract(Wave& w, const Inst& in) {
  using U = UBytes<N>;
  U* r = w.at<U>(in.r);
  const U* a = w.at<U>(in.o[0]);
  const uint32_t W = in.ot[0].width;
  const size_t idx = size_t(in.attr);
  for (uint32_t l = 0; l < w.nlanes; ++l) r[l] = a[l * W + idx];
}

template <int N>
void exec_insert(Wave& w, const Inst& in) {
  using U = UBytes<N>;
  U* r = w.at<U>(in.r);
  const U* a = w.at<U>(in.o[0]);
  const U* s = w.at<U>(in.o[1]);
  const uint32_t W = in.width;
  std::memcpy(r, a, size_t(w.nlanes) * W * N);
  for (uint32_t l = 0; l < w.nlanes; ++l) r[l * W + size_t(in.attr)] = s[l];
}

template <int N>
void exec_splat(Wave& w, const Inst& in) {
  using U = UBytes<N>;
  U* r = w.at<U>(in.r);
  const U* s = w.at<U>(in.o[0]);
  const uint32_t W = in.width;
  for (uint32_t l = 0; l < w.nlanes; ++l)
    for (uint32_t e = 0; e < W; ++e) r[l * W + e] = s[l];
}

template <int N>
void exec_build_vec(Wave& w, const Inst& in) {
  using U = UBytes<N>;
  U* r = w.at<U>(in.r);
  const uint32_t W = in.width;
  for (uint32_t e = 0; e < W; ++e) {
    const U* s = w.at<U>(in.ov[e]);
    for (uint32_t l = 0; l < w.nlanes; ++l) r[l * W + e] = s[l];
  }
}

Handler select_vector(Prep& p) {
  const ir::Type& t = p.in.rt;
  switch (p.op.code) {
    case OpCode::Extract: {
      const ir::Type& v = p.type(0);
      p.require(v.is_value() && t == v.element(), "extracts an element of the operand vector");
      p.require(p.in.attr >= 0 && p.in.attr < v.width, "the element index is out of range");
      return with_bytes(elem_bytes(t.elem), [](auto n) -> Handler { return exec_extract<decltype(n)::value>; });
    }
    case OpCode::Insert:
      p.require(t.is_value() && p.type(0) == t && p.type(1) == t.element(),
                "inserts an element into a vector of the result type");
      p.require(p.in.attr >= 0 && p.in.attr < t.width, "the element index is out of range");
      return with_bytes(elem_bytes(t.elem), [](auto n) -> Handler { return exec_insert<decltype(n)::value>; });
    case OpCode::Splat:
      p.require(t.is_value() && p.type(0) == t.element(), "splats a scalar of the result's element type");
      return with_bytes(elem_bytes(t.elem), [](auto n) -> Handler { return exec_splat<decltype(n)::value>; });
    case OpCode::BuildVec:
      p.require(t.is_value() && p.nops() == t.width, "needs one operand per result element");
      for (size_t i = 0; i < p.nops(); ++i)
        p.require(p.type(i) == t.element(), "every operand must have the result's element type");
      return with_bytes(elem_bytes(t.elem), [](auto n) -> Handler { return exec_build_vec<decltype(n)::value>; });
    default: return nullptr;
  }
}

}  // namespace

Handler select_convert(Prep& p) {
  switch (p.op.code) {
    case OpCode::SExt: case OpCode::ZExt: case OpCode::Trunc: case OpCode::SIToFP: case OpCode::UIToFP:
    case OpCode::FPToSI: case OpCode::FPToUI: case OpCode::FPExt: case OpCode::FPTrunc:
      return select_conversion(p);
    case OpCode::Bitcast: return select_bitcast(p);
    case OpCode::Extract: case OpCode::Insert: case OpCode::Splat: case OpCode::BuildVec:
      return select_vector(p);
    default: return nullptr;
  }
}

}  // namespace tilejit::emulator::detail
