// Semantics of integer and float arithmetic, comparisons and select (vectors element-wise).
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <type_traits>

#include "backend/emulator/elem.h"
#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

namespace {

using ir::CmpPred;
using ir::OpCode;

template <class U>
using Wide = std::conditional_t<(sizeof(U) < 4), uint32_t, U>;
template <class U>
using Signed = std::make_signed_t<U>;

// ---- Integer ops that cannot fault: one flat loop over every element of every lane. ----

struct IAdd { template <class U> static U f(U a, U b) { return U(Wide<U>(a) + Wide<U>(b)); } };
struct ISub { template <class U> static U f(U a, U b) { return U(Wide<U>(a) - Wide<U>(b)); } };
struct IMul { template <class U> static U f(U a, U b) { return U(Wide<U>(a) * Wide<U>(b)); } };
struct IAnd { template <class U> static U f(U a, U b) { return U(a & b); } };
struct IOr { template <class U> static U f(U a, U b) { return U(a | b); } };
struct IXor { template <class U> static U f(U a, U b) { return U(a ^ b); } };
struct ISMin { template <class U> static U f(U a, U b) { return Signed<U>(a) < Signed<U>(b) ? a : b; } };
struct ISMax { template <class U> static U f(U a, U b) { return Signed<U>(a) > Signed<U>(b) ? a : b; } };
struct IUMin { template <class U> static U f(U a, U b) { return a < b ? a : b; } };
struct IUMax { template <class U> static U f(U a, U b) { return a > b ? a : b; } };

template <class U, class F>
void exec_ibin(Wave& w, const Inst& in) {
  U* r = w.at<U>(in.r);
  const U* a = w.at<U>(in.o[0]);
  const U* b = w.at<U>(in.o[1]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) r[i] = F::template f<U>(a[i], b[i]);
}

template <class F>
Handler ibin(Scalar s) {
  return with_int(s, [](auto t) -> Handler { return exec_ibin<typename decltype(t)::E::T, F>; });
}

template <class U>
void exec_bit_select(Wave& w, const Inst& in) {
  U* r = w.at<U>(in.r);
  const U* m = w.at<U>(in.o[0]);
  const U* a = w.at<U>(in.o[1]);
  const U* b = w.at<U>(in.o[2]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) r[i] = U((a[i] & m[i]) | (b[i] & U(~m[i])));
}

// ---- Division, remainder and shifts: active lanes are checked first, then all lanes run. ----

enum class DivKind { SDiv, UDiv, SRem, URem, Shl, LShr, AShr };

template <Scalar S, DivKind K>
void exec_idiv(Wave& w, const Inst& in) {
  using E = Elem<S>;
  using U = typename E::T;
  using SI = Signed<U>;
  constexpr bool is_shift = K == DivKind::Shl || K == DivKind::LShr || K == DivKind::AShr;
  constexpr bool is_signed = K == DivKind::SDiv || K == DivKind::SRem;
  U* r = w.at<U>(in.r);
  const U* a = w.at<U>(in.o[0]);
  const U* b = w.at<U>(in.o[1]);
  const uint32_t W = in.width;
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    for (uint32_t e = 0; e < W; ++e) {
      U x = a[l * W + e], y = b[l * W + e];
      if constexpr (is_shift) {
        if (uint64_t(y) >= uint64_t(E::bits))
          fault(w, in, l, fmt::format("shift amount {} >= bit width {} (element {})", uint64_t(y), E::bits, e));
      } else {
        if (y == 0) fault(w, in, l, fmt::format("integer division by zero (element {})", e));
        if (is_signed && SI(x) == std::numeric_limits<SI>::min() && SI(y) == SI(-1))
          fault(w, in, l, fmt::format("signed division overflow: {} / -1 (element {})", int64_t(SI(x)), e));
      }
    }
  }
  size_t n = size_t(w.nlanes) * W;
  for (size_t i = 0; i < n; ++i) {
    U x = a[i], y = b[i];
    if constexpr (is_shift) {
      bool ok = uint64_t(y) < uint64_t(E::bits);
      U s = ok ? y : U(0);
      if constexpr (K == DivKind::Shl) r[i] = U(Wide<U>(x) << s);
      else if constexpr (K == DivKind::LShr) r[i] = U(x >> s);
      else r[i] = U(SI(x) >> s);
    } else {
      bool bad = y == 0 || (is_signed && SI(x) == std::numeric_limits<SI>::min() && SI(y) == SI(-1));
      U d = bad ? U(1) : y;
      if constexpr (K == DivKind::SDiv) r[i] = U(SI(x) / SI(d));
      else if constexpr (K == DivKind::SRem) r[i] = U(SI(x) % SI(d));
      else if constexpr (K == DivKind::UDiv) r[i] = U(x / d);
      else r[i] = U(x % d);
    }
  }
}

template <DivKind K>
Handler idiv(Scalar s) {
  switch (s) {
    case Scalar::I8: return exec_idiv<Scalar::I8, K>;
    case Scalar::I16: return exec_idiv<Scalar::I16, K>;
    case Scalar::I64: return exec_idiv<Scalar::I64, K>;
    default: return exec_idiv<Scalar::I32, K>;
  }
}

// ---- Float ops: computed in C (f32 for the 16-bit formats), rounded once to the type. ----

/// llvm.minnum / maxnum: a NaN operand yields the other; -0 orders below +0.
template <class C>
C minnum(C a, C b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  if (a == b) return std::signbit(a) ? a : b;
  return a < b ? a : b;
}
template <class C>
C maxnum(C a, C b) {
  if (std::isnan(a)) return b;
  if (std::isnan(b)) return a;
  if (a == b) return std::signbit(a) ? b : a;
  return a > b ? a : b;
}

struct FAddF { template <class C> static C f(C a, C b) { return a + b; } };
struct FSubF { template <class C> static C f(C a, C b) { return a - b; } };
struct FMulF { template <class C> static C f(C a, C b) { return a * b; } };
struct FDivF { template <class C> static C f(C a, C b) { return a / b; } };
struct FMinF { template <class C> static C f(C a, C b) { return minnum(a, b); } };
struct FMaxF { template <class C> static C f(C a, C b) { return maxnum(a, b); } };

template <Scalar S, class F>
void exec_fbin(Wave& w, const Inst& in) {
  using E = Elem<S>;
  using T = typename E::T;
  using C = typename E::C;
  T* r = w.at<T>(in.r);
  const T* a = w.at<T>(in.o[0]);
  const T* b = w.at<T>(in.o[1]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) r[i] = E::st(F::template f<C>(E::ld(a[i]), E::ld(b[i])));
}

template <class F>
Handler fbin(Scalar s) {
  return with_float(s, [](auto t) -> Handler { return exec_fbin<decltype(t)::value, F>; });
}

/// Unary math computed in double and rounded once to the type (sqrt is exact-then-rounded in C).
enum class FUn { Sqrt, Rsqrt, Exp2, Log2 };

template <Scalar S, FUn K>
void exec_fun(Wave& w, const Inst& in) {
  using E = Elem<S>;
  using T = typename E::T;
  using C = typename E::C;
  T* r = w.at<T>(in.r);
  const T* a = w.at<T>(in.o[0]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) {
    if constexpr (K == FUn::Sqrt) {
      r[i] = E::st(std::sqrt(E::ld(a[i])));
    } else {
      double x = double(E::ld(a[i])), y;
      if constexpr (K == FUn::Rsqrt) y = 1.0 / std::sqrt(x);
      else if constexpr (K == FUn::Exp2) y = std::exp2(x);
      else y = std::log2(x);
      if constexpr (std::is_same_v<C, double>) r[i] = y;
      else if constexpr (std::is_same_v<T, float>) r[i] = float(y);
      else r[i] = E::round(y);
    }
  }
}

template <FUn K>
Handler fun(Scalar s) {
  return with_float(s, [](auto t) -> Handler { return exec_fun<decltype(t)::value, K>; });
}

/// fneg / fabs: sign-bit operations on the raw bits (NaN payloads kept).
template <int N, bool Abs>
void exec_fsign(Wave& w, const Inst& in) {
  using U = UBytes<N>;
  constexpr U sign = U(U(1) << (8 * N - 1));
  U* r = w.at<U>(in.r);
  const U* a = w.at<U>(in.o[0]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) r[i] = Abs ? U(a[i] & ~sign) : U(a[i] ^ sign);
}

/// f32/f64 fma on CPUs with an FMA unit: the fused instruction, vectorised.
template <class T>
__attribute__((target("fma"))) void fma_loop_hw(T* r, const T* a, const T* b, const T* c, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<T, float>) r[i] = __builtin_fmaf(a[i], b[i], c[i]);
    else r[i] = __builtin_fma(a[i], b[i], c[i]);
  }
}

template <class T>
void exec_fma_hw(Wave& w, const Inst& in) {
  fma_loop_hw<T>(w.at<T>(in.r), w.at<T>(in.o[0]), w.at<T>(in.o[1]), w.at<T>(in.o[2]),
                 size_t(w.nlanes) * in.width);
}

Handler fma_handler(Scalar s);

template <Scalar S>
void exec_fma(Wave& w, const Inst& in) {
  using E = Elem<S>;
  using T = typename E::T;
  T* r = w.at<T>(in.r);
  const T* a = w.at<T>(in.o[0]);
  const T* b = w.at<T>(in.o[1]);
  const T* c = w.at<T>(in.o[2]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_same_v<T, float> || std::is_same_v<T, double>)
      r[i] = std::fma(a[i], b[i], c[i]);
    else
      r[i] = E::round(fma_round_odd(double(E::ld(a[i])), double(E::ld(b[i])), double(E::ld(c[i]))));
  }
}

Handler fma_handler(Scalar s) {
  static const bool hw = __builtin_cpu_supports("fma");
  if (hw && s == Scalar::F32) return exec_fma_hw<float>;
  if (hw && s == Scalar::F64) return exec_fma_hw<double>;
  return with_float(s, [](auto t) -> Handler { return exec_fma<decltype(t)::value>; });
}

// ---- Comparisons and select. ----

template <Scalar S, CmpPred P>
void exec_icmp(Wave& w, const Inst& in) {
  using E = Elem<S>;
  using U = typename E::T;
  uint8_t* r = w.at<uint8_t>(in.r);
  const U* a = w.at<U>(in.o[0]);
  const U* b = w.at<U>(in.o[1]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) {
    bool v;
    if constexpr (P == CmpPred::Eq) v = a[i] == b[i];
    else if constexpr (P == CmpPred::Ne) v = a[i] != b[i];
    else if constexpr (P == CmpPred::Slt) v = E::sval(a[i]) < E::sval(b[i]);
    else if constexpr (P == CmpPred::Sle) v = E::sval(a[i]) <= E::sval(b[i]);
    else if constexpr (P == CmpPred::Sgt) v = E::sval(a[i]) > E::sval(b[i]);
    else if constexpr (P == CmpPred::Sge) v = E::sval(a[i]) >= E::sval(b[i]);
    else if constexpr (P == CmpPred::Ult) v = a[i] < b[i];
    else if constexpr (P == CmpPred::Ule) v = a[i] <= b[i];
    else if constexpr (P == CmpPred::Ugt) v = a[i] > b[i];
    else v = a[i] >= b[i];
    r[i] = v;
  }
}

template <Scalar S, CmpPred P>
void exec_fcmp(Wave& w, const Inst& in) {
  using E = Elem<S>;
  using T = typename E::T;
  uint8_t* r = w.at<uint8_t>(in.r);
  const T* a = w.at<T>(in.o[0]);
  const T* b = w.at<T>(in.o[1]);
  size_t n = size_t(w.nlanes) * in.width;
  for (size_t i = 0; i < n; ++i) {
    auto x = E::ld(a[i]), y = E::ld(b[i]);
    bool v;
    if constexpr (P == CmpPred::Oeq) v = x == y;
    else if constexpr (P == CmpPred::Une) v = !(x == y);
    else if constexpr (P == CmpPred::Olt) v = x < y;
    else if constexpr (P == CmpPred::Ole) v = x <= y;
    else if constexpr (P == CmpPred::Ogt) v = x > y;
    else v = x >= y;
    r[i] = v;
  }
}

template <Scalar S>
Handler icmp_for(CmpPred p) {
  switch (p) {
    case CmpPred::Eq: return exec_icmp<S, CmpPred::Eq>;
    case CmpPred::Ne: return exec_icmp<S, CmpPred::Ne>;
    case CmpPred::Slt: return exec_icmp<S, CmpPred::Slt>;
    case CmpPred::Sle: return exec_icmp<S, CmpPred::Sle>;
    case CmpPred::Sgt: return exec_icmp<S, CmpPred::Sgt>;
    case CmpPred::Sge: return exec_icmp<S, CmpPred::Sge>;
    case CmpPred::Ult: return exec_icmp<S, CmpPred::Ult>;
    case CmpPred::Ule: return exec_icmp<S, CmpPred::Ule>;
    case CmpPred::Ugt: return exec_icmp<S, CmpPred::Ugt>;
    case CmpPred::Uge: return exec_icmp<S, CmpPred::Uge>;
    default: return nullptr;
  }
}

template <Scalar S>
Handler fcmp_for(CmpPred p) {
  switch (p) {
    case CmpPred::Oeq: return exec_fcmp<S, CmpPred::Oeq>;
    case CmpPred::Une: return exec_fcmp<S, CmpPred::Une>;
    case CmpPred::Olt: return exec_fcmp<S, CmpPred::Olt>;
    case CmpPred::Ole: return exec_fcmp<S, CmpPred::Ole>;
    case CmpPred::Ogt: return exec_fcmp<S, CmpPred::Ogt>;
    case CmpPred::Oge: return exec_fcmp<S, CmpPred::Oge>;
    default: return nullptr;
  }
}

/// select with a condition per element (VecCond) or one per lane.
template <int N, bool VecCond>
void exec_select(Wave& w, const Inst& in) {
  using U = UBytes<N>;
  U* r = w.at<U>(in.r);
  const uint8_t* c = w.at<uint8_t>(in.o[0]);
  const U* a = w.at<U>(in.o[1]);
  const U* b = w.at<U>(in.o[2]);
  const uint32_t W = in.width;
  if constexpr (VecCond) {
    size_t n = size_t(w.nlanes) * W;
    for (size_t i = 0; i < n; ++i) r[i] = c[i] ? a[i] : b[i];
  } else {
    for (uint32_t l = 0; l < w.nlanes; ++l)
      for (uint32_t e = 0; e < W; ++e) r[l * W + e] = c[l] ? a[l * W + e] : b[l * W + e];
  }
}

/// Checks an integer op's types; returns the element type.
Scalar int_types(Prep& p, bool i1_ok) {
  const ir::Type& t = p.in.rt;
  p.require(t.is_int(), "the result must be an integer scalar or vector");
  for (size_t i = 0; i < p.nops(); ++i) p.require(p.type(i) == t, "operand types must equal the result type");
  p.require(t.elem != Scalar::I1 || i1_ok, "i1 operands are allowed for and/or/xor only");
  return t.elem;
}

/// Checks a float op's types; returns the element type.
Scalar float_types(Prep& p) {
  const ir::Type& t = p.in.rt;
  p.require(t.is_float(), "the result must be a float scalar or vector");
  for (size_t i = 0; i < p.nops(); ++i) p.require(p.type(i) == t, "operand types must equal the result type");
  return t.elem;
}

Handler fsign(Prep& p, bool abs) {
  int eb = elem_bytes(float_types(p));
  return with_bytes(eb, [&](auto n) -> Handler {
    return abs ? exec_fsign<decltype(n)::value, true> : exec_fsign<decltype(n)::value, false>;
  });
}

Handler select_cmp(Prep& p) {
  const ir::Type& a = p.type(0);
  p.require(p.type(1) == a, "both operands must have the same type");
  int w = a.is_pointer() ? 1 : a.width;
  p.require(p.in.rt == (w == 1 ? ir::Type::scalar(Scalar::I1) : ir::Type::vector(Scalar::I1, w)),
            "the result must be i1 with the operands' width");
  p.in.width = uint32_t(w);
  CmpPred pred = CmpPred(p.in.attr);
  p.require(p.in.attr >= 0 && p.in.attr <= int64_t(CmpPred::Oge), "attr 0 is not a predicate");
  Handler h = nullptr;
  if (p.op.code == OpCode::ICmp) {
    p.require(a.is_int() || a.is_pointer(), "icmp compares integers or pointers");
    Scalar s = a.is_pointer() ? (a.size_bytes() == 8 ? Scalar::I64 : Scalar::I32) : a.elem;
    h = with_int(s, [&](auto t) { return icmp_for<decltype(t)::value>(pred); });
    p.require(h != nullptr, fmt::format("predicate '{}' is not an integer predicate", ir::pred_name(pred)));
  } else {
    p.require(a.is_float(), "fcmp compares floats");
    h = with_float(a.elem, [&](auto t) { return fcmp_for<decltype(t)::value>(pred); });
    p.require(h != nullptr, fmt::format("predicate '{}' is not a float predicate", ir::pred_name(pred)));
  }
  return h;
}

Handler select_select(Prep& p) {
  const ir::Type& c = p.type(0);
  const ir::Type& t = p.in.rt;
  p.require(t.is_value() || t.is_pointer(), "the result must be a value or pointer");
  p.require(p.type(1) == t && p.type(2) == t, "both choices must have the result type");
  p.require(c.is_bool(), "the condition must be i1 or <N x i1>");
  int w = t.is_pointer() ? 1 : t.width;
  p.require(c.width == 1 || c.width == w, "the condition's width must be 1 or the result's");
  p.in.width = uint32_t(w);
  int eb = t.is_pointer() ? t.size_bytes() : elem_bytes(t.elem);
  bool vec = c.width > 1;
  return with_bytes(eb, [&](auto n) -> Handler {
    return vec ? exec_select<decltype(n)::value, true> : exec_select<decltype(n)::value, false>;
  });
}

}  // namespace

Handler select_arith(Prep& p) {
  switch (p.op.code) {
    case OpCode::Add: return ibin<IAdd>(int_types(p, false));
    case OpCode::Sub: return ibin<ISub>(int_types(p, false));
    case OpCode::Mul: return ibin<IMul>(int_types(p, false));
    case OpCode::And: return ibin<IAnd>(int_types(p, true));
    case OpCode::Or: return ibin<IOr>(int_types(p, true));
    case OpCode::Xor: return ibin<IXor>(int_types(p, true));
    case OpCode::SMin: return ibin<ISMin>(int_types(p, false));
    case OpCode::SMax: return ibin<ISMax>(int_types(p, false));
    case OpCode::UMin: return ibin<IUMin>(int_types(p, false));
    case OpCode::UMax: return ibin<IUMax>(int_types(p, false));
    case OpCode::BitSelect:
      return with_int(int_types(p, true), [](auto t) -> Handler { return exec_bit_select<typename decltype(t)::E::T>; });
    case OpCode::SDiv: return idiv<DivKind::SDiv>(int_types(p, false));
    case OpCode::UDiv: return idiv<DivKind::UDiv>(int_types(p, false));
    case OpCode::SRem: return idiv<DivKind::SRem>(int_types(p, false));
    case OpCode::URem: return idiv<DivKind::URem>(int_types(p, false));
    case OpCode::Shl: return idiv<DivKind::Shl>(int_types(p, false));
    case OpCode::LShr: return idiv<DivKind::LShr>(int_types(p, false));
    case OpCode::AShr: return idiv<DivKind::AShr>(int_types(p, false));
    case OpCode::FAdd: return fbin<FAddF>(float_types(p));
    case OpCode::FSub: return fbin<FSubF>(float_types(p));
    case OpCode::FMul: return fbin<FMulF>(float_types(p));
    case OpCode::FDiv: return fbin<FDivF>(float_types(p));
    case OpCode::FMin: return fbin<FMinF>(float_types(p));
    case OpCode::FMax: return fbin<FMaxF>(float_types(p));
    case OpCode::FNeg: return fsign(p, false);
    case OpCode::FAbs: return fsign(p, true);
    case OpCode::Fma: return fma_handler(float_types(p));
    case OpCode::Sqrt: return fun<FUn::Sqrt>(float_types(p));
    case OpCode::Rsqrt: return fun<FUn::Rsqrt>(float_types(p));
    case OpCode::Exp2: return fun<FUn::Exp2>(float_types(p));
    case OpCode::Log2: return fun<FUn::Log2>(float_types(p));
    case OpCode::ICmp: case OpCode::FCmp: return select_cmp(p);
    case OpCode::Select: return select_select(p);
    default: return nullptr;
  }
}

}  // namespace tilejit::emulator::detail
