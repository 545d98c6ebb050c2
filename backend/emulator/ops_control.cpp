// Semantics of structured control flow under execution masks, the workgroup barrier and var slots.
#include <fmt/format.h>

#include <cstring>
#include <vector>

#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"
#include "backend/emulator/warp_scheduler.h"

namespace tilejit::emulator::detail {

namespace {

using ir::OpCode;
using ir::Scalar;

/// Restores the enclosing mask when a region finishes (also when a fault unwinds).
struct MaskScope {
  Wave& w;
  uint8_t* mask;
  uint32_t active;
  explicit MaskScope(Wave& wave) : w(wave), mask(wave.mask), active(wave.active) {}
  ~MaskScope() {
    w.mask = mask;
    w.active = active;
  }
};

/// if: the then region runs for lanes whose condition holds, then the else region for the rest
/// (under the warp scheduler, when threads take both: the two as separate thread groups).
void exec_if(Wave& w, const Inst& in) {
  MaskScope scope(w);
  const uint8_t* cond = w.at<uint8_t>(in.o[0]);
  const uint8_t* parent = scope.mask;
  uint8_t* child = w.level(in.depth + 1);
  uint32_t taken = 0;
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    child[l] = parent[l] & cond[l];
    taken += child[l];
  }
  if (w.sched && taken && taken != scope.active && !in.region[0]->insts.empty() && !in.region[1]->insts.empty()) {
    // Threads on both sides may wait for each other (a producer and its consumers).
    std::vector<uint8_t> other(w.nlanes);
    for (uint32_t l = 0; l < w.nlanes; ++l) other[l] = parent[l] & uint8_t(cond[l] ^ 1);
    fork_branches(w, in, child, taken, other.data(), scope.active - taken);
    return;
  }
  if (taken && !in.region[0]->insts.empty()) {
    w.mask = child;
    w.active = taken;
    run_block(w, *in.region[0]);
  }
  if (taken != scope.active && !in.region[1]->insts.empty()) {
    for (uint32_t l = 0; l < w.nlanes; ++l) child[l] = parent[l] & uint8_t(cond[l] ^ 1);
    w.mask = child;
    w.active = scope.active - taken;
    run_block(w, *in.region[1]);
  }
}

/// for: each lane iterates i = lo; i < hi; i += step with its own bounds; the body runs while
/// any lane is still iterating, under the mask of those lanes.
template <class T>
void exec_for(Wave& w, const Inst& in) {
  using S = std::make_signed_t<T>;
  MaskScope scope(w);
  const S* lo = w.at<S>(in.o[0]);
  const S* hi = w.at<S>(in.o[1]);
  const S* step = w.at<S>(in.o[2]);
  S* iv = w.at<S>(in.arg);
  const uint8_t* parent = scope.mask;
  uint8_t* m = w.level(in.depth + 1);
  uint32_t n = 0;
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    uint8_t on = parent[l] && lo[l] < hi[l];
    if (on && step[l] <= 0)
      fault(w, in, l, fmt::format("for loop with non-positive step {} would not terminate", int64_t(step[l])));
    m[l] = on;
    n += on;
    iv[l] = lo[l];
  }
  if (!n) return;
  // Uniform bounds (the common case): one induction value for every active lane.
  bool uniform = true;
  uint32_t first = 0;
  while (!m[first]) ++first;
  for (uint32_t l = first + 1; l < w.nlanes && uniform; ++l)
    uniform = !m[l] || (lo[l] == lo[first] && hi[l] == hi[first] && step[l] == step[first]);
  w.mask = m;
  w.active = n;
  if (uniform) {
    const S h = hi[first], st = step[first];
    S cur = lo[first];
    for (;;) {
      run_block(w, *in.region[0]);
      S next;
      if (__builtin_add_overflow(cur, st, &next) || next >= h) break;
      cur = next;
      for (uint32_t l = 0; l < w.nlanes; ++l) iv[l] = cur;
    }
    return;
  }
  while (n) {
    w.mask = m;
    w.active = n;
    run_block(w, *in.region[0]);
    n = 0;
    for (uint32_t l = 0; l < w.nlanes; ++l) {
      S next;
      bool overflow = __builtin_add_overflow(iv[l], step[l], &next);
      uint8_t go = m[l] & uint8_t(!overflow) & uint8_t(next < hi[l]);
      iv[l] = go ? next : iv[l];
      m[l] = go;
      n += go;
    }
  }
}

/// barrier: a no-op in lockstep (it starts a race-checking interval), but every thread of the
/// workgroup must reach it together.
void exec_barrier(Wave& w, const Inst& in) {
  if (w.full()) {
    ++w.races.epoch;  // a new interval for race checking
    return;
  }
  uint32_t lane = 0;
  while (lane < w.nlanes && !w.mask[lane]) ++lane;
  fault(w, in, lane,
        fmt::format("barrier under divergent control flow ({} of {} threads of the workgroup reach it)", w.active,
                    w.nlanes));
}

/// var(init) and var_set: write active lanes only; var_get reads every lane.
void masked_copy(Wave& w, uint32_t dst_off, uint32_t src_off, uint32_t size) {
  uint8_t* dst = w.at<uint8_t>(dst_off);
  const uint8_t* src = w.at<uint8_t>(src_off);
  if (w.full()) {
    std::memcpy(dst, src, size_t(w.nlanes) * size);
    return;
  }
  for (uint32_t l = 0; l < w.nlanes; ++l)
    if (w.mask[l]) std::memcpy(dst + size_t(l) * size, src + size_t(l) * size, size);
}

void exec_var_new(Wave& w, const Inst& in) { masked_copy(w, in.r, in.o[0], uint32_t(in.aux)); }
void exec_var_set(Wave& w, const Inst& in) { masked_copy(w, in.o[0], in.o[1], uint32_t(in.aux)); }
void exec_var_get(Wave& w, const Inst& in) {
  std::memcpy(w.at<uint8_t>(in.r), w.at<uint8_t>(in.o[0]), size_t(w.nlanes) * in.aux);
}

Handler select_for(Prep& p) {
  const ir::Type& lo = p.type(0);
  p.require(lo == ir::Type::scalar(Scalar::I32) || lo == ir::Type::scalar(Scalar::I64),
            "lo must be i32 or i64");
  p.require(p.type(1) == lo && p.type(2) == lo, "lo, hi and step must have one type");
  const ir::Region& body = p.op.regions[0];
  p.require(body.args.size() == 1 && p.fn.type_of(body.args[0]) == lo,
            "the body needs one argument (the induction variable) of lo's type");
  return lo.elem == Scalar::I64 ? exec_for<uint64_t> : exec_for<uint32_t>;
}

}  // namespace

Handler select_control(Prep& p) {
  switch (p.op.code) {
    case OpCode::For: return select_for(p);
    case OpCode::If:
      p.require(p.type(0) == ir::Type::scalar(Scalar::I1), "the condition must be i1");
      p.require(p.op.regions[0].args.empty() && p.op.regions[1].args.empty(), "if regions take no arguments");
      return exec_if;
    case OpCode::Barrier: return exec_barrier;
    case OpCode::VarNew:
      p.require(p.in.rt.is_slot() && p.type(0) == p.in.rt.held(), "var(init) needs an init of the slot's type");
      p.in.aux = uint64_t(p.in.rt.size_bytes());
      return exec_var_new;
    case OpCode::VarGet:
      p.require(p.type(0).is_slot() && p.in.rt == p.type(0).held(), "var_get returns the slot's type");
      p.in.aux = uint64_t(p.in.rt.size_bytes());
      return exec_var_get;
    case OpCode::VarSet:
      p.require(p.type(0).is_slot() && p.type(1) == p.type(0).held(), "var_set needs a value of the slot's type");
      p.in.aux = uint64_t(p.type(1).size_bytes());
      return exec_var_set;
    default: return nullptr;
  }
}

}  // namespace tilejit::emulator::detail
