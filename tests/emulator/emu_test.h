// Shared helpers for the emulator tests: IR building, device buffers, random inputs, per-element op runs.
#pragma once
#include <gtest/gtest.h>

#include <boost/multiprecision/cpp_bin_float.hpp>

#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <source_location>
#include <string>
#include <vector>

#include "backend/emulator/emulator.h"
#include "dsl/error.h"
#include "dsl/ir/builder.h"
#include "dsl/ir/ir.h"

namespace emutest {

using namespace tilejit;
using ir::CmpPred;
using ir::OpCode;
using ir::Scalar;
using ir::Type;
using ir::ValueId;

inline Type S(Scalar s) { return Type::scalar(s); }
inline Type V(Scalar s, int n) { return n == 1 ? Type::scalar(s) : Type::vector(s, n); }
inline Type G(Scalar s) { return Type::pointer(s, ir::AddrSpace::Global); }
inline Type SH(Scalar s) { return Type::pointer(s, ir::AddrSpace::Shared); }

/// A fresh seed, printed by the caller's SCOPED_TRACE so failures can be replayed.
inline uint32_t fresh_seed() { return std::random_device{}(); }

/// A kernel under construction with the IR builder; every op records the test's source line.
struct Kernel {
  ir::Function fn;
  ir::Builder b{fn};

  explicit Kernel(std::string name) { fn.name = std::move(name); }

  static ir::SourceLoc here(const std::source_location& l) {
    std::string f = l.file_name();
    auto cut = f.rfind('/');
    if (cut != std::string::npos) f = f.substr(cut + 1);
    return {f, l.line()};
  }

  ValueId op(OpCode c, Type t, std::vector<ValueId> ops = {}, std::vector<int64_t> attrs = {},
             std::source_location loc = std::source_location::current()) {
    return b.emit(c, t, std::move(ops), std::move(attrs), here(loc));
  }
  void effect(OpCode c, std::vector<ValueId> ops, std::vector<int64_t> attrs = {},
              std::source_location loc = std::source_location::current()) {
    b.emit(c, Type::void_(), std::move(ops), std::move(attrs), here(loc));
  }
  ValueId param(const std::string& name, Type t) {
    fn.params.push_back({name, t});
    return b.emit(OpCode::Param, t, {}, {int64_t(fn.params.size() - 1)});
  }
  ValueId i32(int64_t v) { return b.const_int(S(Scalar::I32), v); }
  ValueId i64(int64_t v) { return b.const_int(S(Scalar::I64), v); }
  ValueId f32(float v) { return b.emit(OpCode::Const, S(Scalar::F32), {}, {int64_t(std::bit_cast<uint32_t>(v))}); }
  ValueId cbits(Type t, int64_t bits) { return b.emit(OpCode::Const, t, {}, {bits}); }
  ValueId tid(int d = 0) { return op(OpCode::ThreadId, S(Scalar::I32), {}, {d}); }
  ValueId bid(int d = 0) { return op(OpCode::BlockId, S(Scalar::I32), {}, {d}); }
  ValueId bdim(int d = 0) { return op(OpCode::BlockDim, S(Scalar::I32), {}, {d}); }
  /// blockIdx.x * blockDim.x + threadIdx.x
  ValueId gid() { return add(mul(bid(0), bdim(0)), tid(0)); }
  ValueId add(ValueId a, ValueId c) { return op(OpCode::Add, fn.type_of(a), {a, c}); }
  ValueId mul(ValueId a, ValueId c) { return op(OpCode::Mul, fn.type_of(a), {a, c}); }
  ValueId icmp(CmpPred p, ValueId a, ValueId c) {
    Type t = fn.type_of(a);
    return op(OpCode::ICmp, t.width > 1 ? V(Scalar::I1, t.width) : S(Scalar::I1), {a, c}, {int64_t(p)});
  }
  ValueId at(ValueId p, ValueId idx, std::source_location loc = std::source_location::current()) {
    return op(OpCode::PtrAdd, fn.type_of(p), {p, idx}, {}, loc);
  }
  ValueId load(Type t, ValueId p, std::source_location loc = std::source_location::current()) {
    return op(OpCode::Load, t, {p}, {}, loc);
  }
  void store(ValueId p, ValueId v, std::source_location loc = std::source_location::current()) {
    effect(OpCode::Store, {p, v}, {}, loc);
  }
  ValueId shared(Scalar elem, int64_t count) { return op(OpCode::SharedAlloc, SH(elem), {}, {count}); }
  void barrier(std::source_location loc = std::source_location::current()) { effect(OpCode::Barrier, {}, {}, loc); }
  ValueId var(ValueId init) { return op(OpCode::VarNew, Type::slot(fn.type_of(init)), {init}); }
  ValueId get(ValueId slot) { return op(OpCode::VarGet, fn.type_of(slot).held(), {slot}); }
  void set(ValueId slot, ValueId v) { effect(OpCode::VarSet, {slot, v}); }

  /// for (iv = lo; iv < hi; iv += step) body(iv)
  void for_(ValueId lo, ValueId hi, ValueId step, const std::function<void(ValueId)>& body) {
    ir::Op& f = b.emit_with_regions(OpCode::For, {lo, hi, step});
    ValueId iv = fn.new_value(fn.type_of(lo));
    f.regions[0].args.push_back(iv);
    b.push(f.regions[0]);
    body(iv);
    b.pop();
  }
  /// if (cond) then() else els()
  void if_(ValueId cond, const std::function<void()>& then, const std::function<void()>& els = {}) {
    ir::Op& o = b.emit_with_regions(OpCode::If, {cond});
    ir::Region* r0 = &o.regions[0];
    ir::Region* r1 = &o.regions[1];
    b.push(*r0);
    then();
    b.pop();
    if (els) {
      b.push(*r1);
      els();
      b.pop();
    }
  }
};

inline KernelArg ptr_arg(DevicePtr p, Scalar elem) { return {G(elem), p}; }
inline KernelArg i32_arg(int32_t v) { return {S(Scalar::I32), uint32_t(v)}; }

/// Device buffer helpers (raw bytes).
template <class T>
DevicePtr upload(Device& dev, const std::vector<T>& v) {
  DevicePtr p = dev.alloc(v.size() * sizeof(T));
  dev.copy_to_device(p, v.data(), v.size() * sizeof(T));
  return p;
}
/// An output buffer of n elements filled with the poison byte 0xA5.
template <class T>
DevicePtr poisoned(Device& dev, size_t n) {
  DevicePtr p = dev.alloc(n * sizeof(T));
  dev.memset(p, 0xA5, n * sizeof(T));
  return p;
}
template <class T>
std::vector<T> download(Device& dev, DevicePtr p, size_t n) {
  std::vector<T> v(n);
  dev.copy_to_host(v.data(), p, n * sizeof(T));
  return v;
}

/// One operand of run_op: its type and `lanes * width` elements of raw storage.
struct Operand {
  Type type;
  std::vector<uint8_t> bytes;  // lanes * type size
  template <class T>
  static Operand of(Type t, const std::vector<T>& v) {
    Operand o{t, {}};
    o.bytes.resize(v.size() * sizeof(T));
    std::memcpy(o.bytes.data(), v.data(), o.bytes.size());
    return o;
  }
};

inline int elem_size(Scalar s) { return s == Scalar::I1 ? 1 : ir::scalar_bits(s) / 8; }

/// Builds and runs a kernel computing `result = op(operands...)` once per thread (64 threads per
/// block, operands loaded from global memory); returns the result bytes. The output is poisoned first.
inline std::vector<uint8_t> run_op_bytes(OpCode code, Type rt, const std::vector<Operand>& ins, size_t lanes,
                                         std::vector<int64_t> attrs = {}, Target target = Target::Sm90a) {
  EXPECT_EQ(lanes % 64, 0u);
  auto dev = emulator::make_emulator_device({target, 2});
  Kernel k("elementwise");
  std::vector<ValueId> ptrs;
  for (size_t i = 0; i < ins.size(); ++i) ptrs.push_back(k.param("in" + std::to_string(i), G(ins[i].type.elem)));
  ValueId outp = k.param("out", G(rt.elem));
  ValueId g = k.gid();
  std::vector<ValueId> vals;
  for (size_t i = 0; i < ins.size(); ++i) {
    ValueId idx = k.mul(g, k.i32(ins[i].type.width));
    vals.push_back(k.load(ins[i].type, k.at(ptrs[i], idx)));
  }
  ValueId r = k.op(code, rt, vals, attrs);
  k.store(k.at(outp, k.mul(g, k.i32(rt.width))), r);

  std::vector<KernelArg> args;
  std::vector<DevicePtr> bufs;
  for (auto& in : ins) {
    EXPECT_EQ(in.bytes.size(), lanes * size_t(in.type.width) * elem_size(in.type.elem));
    bufs.push_back(upload(*dev, in.bytes));
    args.push_back(ptr_arg(bufs.back(), in.type.elem));
  }
  size_t out_bytes = lanes * size_t(rt.width) * elem_size(rt.elem);
  DevicePtr out = poisoned<uint8_t>(*dev, out_bytes);
  args.push_back(ptr_arg(out, rt.elem));
  auto kern = dev->load(k.fn, nullptr);
  kern->launch({uint32_t(lanes / 64), 1, 1}, {64, 1, 1}, args, nullptr);
  return download<uint8_t>(*dev, out, out_bytes);
}

/// Typed wrapper: result elements as R.
template <class R>
std::vector<R> run_op(OpCode code, Type rt, const std::vector<Operand>& ins, size_t lanes,
                      std::vector<int64_t> attrs = {}, Target target = Target::Sm90a) {
  auto bytes = run_op_bytes(code, rt, ins, lanes, std::move(attrs), target);
  std::vector<R> out(bytes.size() / sizeof(R));
  std::memcpy(out.data(), bytes.data(), out.size() * sizeof(R));
  return out;
}

/// Pads a vector with copies of its own elements to a multiple of `m` elements.
template <class T>
void pad_to(std::vector<T>& v, size_t m) {
  size_t i = 0;
  while (v.size() % m) v.push_back(v[i++]);
}

/// Bits of a float, for exact comparison (all NaNs compare equal).
inline bool same_float(float a, float b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b);
}
inline bool same_double(double a, double b) {
  if (std::isnan(a) && std::isnan(b)) return true;
  return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b);
}

/// Interesting f32 values: zeros, infinities, NaN, denormals, extremes, ties.
inline std::vector<float> special_floats() {
  return {0.0f, -0.0f, 1.0f, -1.0f, INFINITY, -INFINITY, NAN, -NAN,
          std::numeric_limits<float>::denorm_min(), -std::numeric_limits<float>::denorm_min(),
          1.5e-39f, -2.9e-40f, std::numeric_limits<float>::min(), std::numeric_limits<float>::max(),
          -std::numeric_limits<float>::max(), 3.0f, 0.1f, 1e30f, -7.25f, 65504.0f};
}

/// Random f32 spanning many binades, both signs, some denormals.
inline float random_float(std::mt19937& rng) {
  std::uniform_int_distribution<int> kind(0, 9);
  std::uniform_real_distribution<float> unit(-1.0f, 1.0f);
  std::uniform_int_distribution<int> ex(-140, 120);
  switch (kind(rng)) {
    case 0: return std::bit_cast<float>(uint32_t(rng()) & 0x807FFFFFu);  // denormal
    case 1: return std::bit_cast<float>(uint32_t(rng()));                // any bits (NaN/Inf too)
    default: return std::ldexp(unit(rng), ex(rng));
  }
}

/// Reference f32 -> bf16 rounding written independently of the IR helpers: RNE on the bit pattern.
inline uint16_t ref_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if (std::isnan(f)) return 0x7FC0 | uint16_t((u >> 16) & 0x8000);
  uint32_t hi = u >> 16, lo = u & 0xFFFF;
  if (lo > 0x8000 || (lo == 0x8000 && (hi & 1))) ++hi;
  return uint16_t(hi);
}
inline float bf16f(uint16_t b) { return std::bit_cast<float>(uint32_t(b) << 16); }

/// Reference f32 -> f16 through the compiler's _Float16 (libgcc, RNE).
inline uint16_t ref_f16(float f) { return std::bit_cast<uint16_t>(static_cast<_Float16>(f)); }
inline float f16f(uint16_t h) { return static_cast<float>(std::bit_cast<_Float16>(h)); }

/// Arbitrary precision (exact for a product plus a sum of f32 or narrower values, and for any double).
using Big = boost::multiprecision::number<
    boost::multiprecision::cpp_bin_float<700, boost::multiprecision::digit_base_2>>;

/// Exact value -> a binary format (p significand bits, min normal exponent emin, max exponent emax), RNE;
/// the result as a double. Written with arbitrary precision, independently of the emulator's helpers.
inline double round_big(const Big& x, int p, int emin, int emax) {
  if (x == 0) return 0.0;
  Big ax = abs(x);
  int e2;
  frexp(ax, &e2);  // ax = m * 2^e2, 0.5 <= m < 1
  int e = e2 - 1;
  int q = std::max(e, emin) - (p - 1);
  Big scaled = ldexp(ax, -q);
  Big fl = floor(scaled);
  Big diff = scaled - fl;
  if (diff > Big(0.5) || (diff == Big(0.5) && fmod(fl, Big(2)) != 0)) fl += 1;
  double r = std::ldexp(fl.convert_to<double>(), q);
  if (r >= std::ldexp(1.0, emax + 1)) r = INFINITY;
  return x < 0 ? -r : r;
}

/// True when the message contains every piece.
inline ::testing::AssertionResult mentions(const std::string& msg, const std::vector<std::string>& parts) {
  for (auto& p : parts)
    if (msg.find(p) == std::string::npos)
      return ::testing::AssertionFailure() << "message lacks '" << p << "': " << msg;
  return ::testing::AssertionSuccess();
}

}  // namespace emutest
