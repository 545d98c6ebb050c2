// Element traits: how each IR scalar type is stored per lane and read as a number; type dispatch.
#pragma once
#include <cstdint>
#include <type_traits>

#include "backend/emulator/rounding.h"
#include "dsl/ir/numeric.h"
#include "dsl/ir/types.h"

namespace tilejit::emulator::detail {

using ir::Scalar;

/// Storage and numeric view of scalar type S. i1 is one byte holding 0 or 1.
template <Scalar S>
struct Elem;

template <class U, int Bits>
struct IntElem {
  using T = U;  // unsigned storage
  static constexpr bool is_float = false;
  static constexpr int bits = Bits;
  static int64_t sval(T x) {
    if constexpr (Bits == 1) return -int64_t(x & 1);
    else return int64_t(std::make_signed_t<T>(x));
  }
  static uint64_t uval(T x) { return uint64_t(x); }
  static T from_int(uint64_t v) {
    if constexpr (Bits == 1) return T(v & 1);
    else return T(v);
  }
};

template <> struct Elem<Scalar::I1> : IntElem<uint8_t, 1> {};
template <> struct Elem<Scalar::I8> : IntElem<uint8_t, 8> {};
template <> struct Elem<Scalar::I16> : IntElem<uint16_t, 16> {};
template <> struct Elem<Scalar::I32> : IntElem<uint32_t, 32> {};
template <> struct Elem<Scalar::I64> : IntElem<uint64_t, 64> {};

/// Float formats: C is the type arithmetic runs in (f32 for the 16-bit formats).
template <> struct Elem<Scalar::F32> {
  using T = float;
  using C = float;
  static constexpr bool is_float = true;
  static constexpr int bits = 32;
  static C ld(T x) { return x; }
  static T st(C x) { return x; }
  static T round(long double x) { return float(x); }  // one rounding from the exact value
};
template <> struct Elem<Scalar::F64> {
  using T = double;
  using C = double;
  static constexpr bool is_float = true;
  static constexpr int bits = 64;
  static C ld(T x) { return x; }
  static T st(C x) { return x; }
  static T round(long double x) { return double(x); }
};
template <> struct Elem<Scalar::BF16> {
  using T = uint16_t;
  using C = float;
  static constexpr bool is_float = true;
  static constexpr int bits = 16;
  static C ld(T x) { return ir::bf16_to_f32(x); }
  static T st(C x) { return ir::f32_to_bf16(x); }
  static T round(long double x) { return to_bf16_bits(x); }
};
template <> struct Elem<Scalar::F16> {
  using T = uint16_t;
  using C = float;
  static constexpr bool is_float = true;
  static constexpr int bits = 16;
  static C ld(T x) { return ir::f16_to_f32(x); }
  static T st(C x) { return ir::f32_to_f16(x); }
  static T round(long double x) { return to_f16_bits(x); }
};

template <Scalar S>
struct Tag {
  static constexpr Scalar value = S;
  using E = Elem<S>;
};

/// Calls f(Tag<S>{}) for the runtime scalar s.
template <class F>
auto with_scalar(Scalar s, F&& f) {
  switch (s) {
    case Scalar::I1: return f(Tag<Scalar::I1>{});
    case Scalar::I8: return f(Tag<Scalar::I8>{});
    case Scalar::I16: return f(Tag<Scalar::I16>{});
    case Scalar::I32: return f(Tag<Scalar::I32>{});
    case Scalar::I64: return f(Tag<Scalar::I64>{});
    case Scalar::F16: return f(Tag<Scalar::F16>{});
    case Scalar::BF16: return f(Tag<Scalar::BF16>{});
    case Scalar::F32: return f(Tag<Scalar::F32>{});
    case Scalar::F64: return f(Tag<Scalar::F64>{});
  }
  return f(Tag<Scalar::I32>{});
}

/// As with_scalar, for integer types only (floats map to i32; callers check first).
template <class F>
auto with_int(Scalar s, F&& f) {
  switch (s) {
    case Scalar::I1: return f(Tag<Scalar::I1>{});
    case Scalar::I8: return f(Tag<Scalar::I8>{});
    case Scalar::I16: return f(Tag<Scalar::I16>{});
    case Scalar::I64: return f(Tag<Scalar::I64>{});
    default: return f(Tag<Scalar::I32>{});
  }
}

/// As with_scalar, for float types only (ints map to f32; callers check first).
template <class F>
auto with_float(Scalar s, F&& f) {
  switch (s) {
    case Scalar::F16: return f(Tag<Scalar::F16>{});
    case Scalar::BF16: return f(Tag<Scalar::BF16>{});
    case Scalar::F64: return f(Tag<Scalar::F64>{});
    default: return f(Tag<Scalar::F32>{});
  }
}

/// An unsigned integer type of N bytes (1, 2, 4, 8), for bit moves.
template <int N>
using UBytes = std::conditional_t<N == 1, uint8_t,
               std::conditional_t<N == 2, uint16_t, std::conditional_t<N == 4, uint32_t, uint64_t>>>;

/// Calls f(std::integral_constant<int, N>{}) for an element size of 1, 2, 4 or 8 bytes.
template <class F>
auto with_bytes(int n, F&& f) {
  switch (n) {
    case 1: return f(std::integral_constant<int, 1>{});
    case 2: return f(std::integral_constant<int, 2>{});
    case 4: return f(std::integral_constant<int, 4>{});
    default: return f(std::integral_constant<int, 8>{});
  }
}

/// Bytes one element of `s` occupies in value storage (i1: 1).
inline int elem_bytes(Scalar s) { return s == Scalar::I1 ? 1 : ir::scalar_bits(s) / 8; }

}  // namespace tilejit::emulator::detail
