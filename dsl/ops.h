// DSL functions: ids, math, conversions, vectors, memory, atomics, barriers.
#pragma once
#include <initializer_list>

#include "dsl/value.h"

namespace tilejit::dsl {

// ---- work-item ids (i32)
Value thread_id(int dim = 0, const SrcLoc& loc = SrcLoc::current());
Value block_id(int dim = 0, const SrcLoc& loc = SrcLoc::current());
Value block_dim(int dim = 0, const SrcLoc& loc = SrcLoc::current());
Value grid_dim(int dim = 0, const SrcLoc& loc = SrcLoc::current());
/// The lane within the wave (warp): 0..wave_size()-1.
Value lane_id(const SrcLoc& loc = SrcLoc::current());
/// The target's wave size, known at trace time (64 gfx950, 32 sm_90a).
int wave_size();
/// The target the kernel is being traced for.
const TargetInfo& target();

// ---- math (float ops follow IEEE RNE; exp2/log2/rsqrt are approximate on GPUs)
Value fma(const Arg& a, const Arg& b, const Arg& c, const SrcLoc& loc = SrcLoc::current());
Value min(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());  // smin / minnum
Value max(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());  // smax / maxnum
Value umin(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
Value umax(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
Value udiv(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
Value urem(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
Value lshr(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
/// (a & mask) | (b & ~mask): the bits of `a` where `mask` is set, of `b` elsewhere (integers of
/// one type). One instruction on both targets (sm_90a lop3, gfx950 v_bfi_b32 / v_bitop3_b32), where the and/or
/// form of a constant mask costs two or three.
Value bit_select(const Arg& mask, const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
Value abs(const Arg& x, const SrcLoc& loc = SrcLoc::current());
Value sqrt(const Arg& x, const SrcLoc& loc = SrcLoc::current());
Value rsqrt(const Arg& x, const SrcLoc& loc = SrcLoc::current());
Value exp2(const Arg& x, const SrcLoc& loc = SrcLoc::current());
Value log2(const Arg& x, const SrcLoc& loc = SrcLoc::current());
/// cond ? a : b (cond i1, or <N x i1> with vector a, b).
Value select(const Arg& cond, const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
/// Unsigned comparisons of integers.
Value ult(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());
Value uge(const Arg& a, const Arg& b, const SrcLoc& loc = SrcLoc::current());

// ---- conversions
/// Numeric conversion to `to` (scalar or vector of the same width): ints sign-extend or
/// truncate, int->float rounds to nearest even, float->int truncates toward zero and
/// saturates (NaN -> 0), float->float rounds to nearest even.
Value cast(const Arg& x, ir::Type to, const SrcLoc& loc = SrcLoc::current());
template <class T>
Value cast(const Arg& x, const SrcLoc& loc = SrcLoc::current()) {
  auto t = x.type();
  int w = t ? t->width : 1;
  return cast(x, w == 1 ? ir::Type::scalar(scalar_of<T>()) : ir::Type::vector(scalar_of<T>(), w), loc);
}
/// Zero-extending integer conversion, and int->float treating the source as unsigned.
Value zext(const Arg& x, ir::Type to, const SrcLoc& loc = SrcLoc::current());
Value uitofp(const Arg& x, ir::Type to, const SrcLoc& loc = SrcLoc::current());
/// Reinterprets the bits (sizes must match; vector element 0 is the low bits).
Value bitcast(const Arg& x, ir::Type to, const SrcLoc& loc = SrcLoc::current());

// ---- vectors
Value extract(const Arg& v, int index, const SrcLoc& loc = SrcLoc::current());
Value insert(const Arg& v, int index, const Arg& x, const SrcLoc& loc = SrcLoc::current());
Value splat(const Arg& x, int width, const SrcLoc& loc = SrcLoc::current());
Value make_vector(std::initializer_list<Value> elements, const SrcLoc& loc = SrcLoc::current());
Value make_vector(const std::vector<Value>& elements, const SrcLoc& loc = SrcLoc::current());

// ---- memory
/// Loads `width` consecutive elements at p (+ index); the address must be aligned to the
/// whole access (16-byte vector loads become global_load_dwordx4 / ld.global.v4).
Value load(const Value& p, int width = 1, const SrcLoc& loc = SrcLoc::current());
Value load(const Value& p, const Arg& index, int width = 1, const SrcLoc& loc = SrcLoc::current());
/// The same with a cache policy (ir::CachePolicy::Stream: global data read once and not written
/// by the kernel, such as weights; it keeps L1 for reused data).
Value load(const Value& p, const Arg& index, int width, ir::CachePolicy policy, const SrcLoc& loc = SrcLoc::current());
void store(const Value& p, const Arg& value, const SrcLoc& loc = SrcLoc::current());
void store(const Value& p, const Arg& index, const Arg& value, const SrcLoc& loc = SrcLoc::current());
/// Range-checked load: reads T or <N x T> at byte `offset` from `base`; each dword past
/// `num_records` bytes reads 0 (gfx950 raw buffer semantics; predicated loads on sm_90a).
Value buffer_load(const Value& base, const Arg& num_records, const Arg& offset, ir::Type type,
                  const SrcLoc& loc = SrcLoc::current());
Value buffer_load(const Value& base, const Arg& num_records, const Arg& offset, ir::Type type, ir::CachePolicy policy,
                  const SrcLoc& loc = SrcLoc::current());
/// Atomic add without a result: f32, i32, or <2 x bf16> (packed bf16x2, RNE per half).
void atomic_add(const Value& p, const Arg& value, const SrcLoc& loc = SrcLoc::current());
/// Allocates `count` elements of shared memory per workgroup (16-byte aligned).
Value shared_alloc(ir::Scalar elem, int64_t count, const SrcLoc& loc = SrcLoc::current());
template <class T>
SharedPtr<T> shared_array(int64_t count, const SrcLoc& loc = SrcLoc::current()) {
  return SharedPtr<T>(shared_alloc(scalar_of<T>(), count, loc), loc);
}
/// Workgroup barrier: every thread of the block must reach it (never under divergent control).
void barrier(const SrcLoc& loc = SrcLoc::current());

}  // namespace tilejit::dsl
