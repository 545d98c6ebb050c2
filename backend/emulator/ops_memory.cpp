// Semantics of pointer arithmetic, loads, stores, atomics, shared allocations and range-checked buffer loads.
#include <fmt/format.h>

#include <atomic>
#include <bit>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "backend/emulator/access.h"
#include "backend/emulator/elem.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

namespace {

using ir::OpCode;

template <bool Shared>
using PtrT = std::conditional_t<Shared, uint32_t, uint64_t>;

template <bool Shared>
uint8_t* lane_ptr(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes, uint64_t align,
                  bool write) {
  if constexpr (Shared) return shared_ptr(w, in, lane, addr, bytes, align, write);
  else return global_ptr(w, in, lane, addr, bytes, align, write);
}

// ---- ptr_add ----

template <bool Shared, class Idx, int Shift>
void exec_ptr_add(Wave& w, const Inst& in) {
  using P = PtrT<Shared>;
  P* r = w.at<P>(in.r);
  const P* p = w.at<P>(in.o[0]);
  const Idx* idx = w.at<Idx>(in.o[1]);
  for (uint32_t l = 0; l < w.nlanes; ++l) r[l] = P(p[l] + (P(std::make_signed_t<Idx>(idx[l])) << Shift));
}

template <bool Shared, class Idx>
Handler ptr_add_handler(int esize) {
  switch (esize) {
    case 1: return exec_ptr_add<Shared, Idx, 0>;
    case 2: return exec_ptr_add<Shared, Idx, 1>;
    case 4: return exec_ptr_add<Shared, Idx, 2>;
    default: return exec_ptr_add<Shared, Idx, 3>;
  }
}

// ---- load / store (the address must be aligned to the access size; see access_align) ----

template <bool Shared, int N, bool I1>
void exec_load(Wave& w, const Inst& in) {
  using P = PtrT<Shared>;
  const uint32_t size = N ? uint32_t(N) : uint32_t(in.aux);
  uint8_t* r = w.at<uint8_t>(in.r);
  const P* p = w.at<P>(in.o[0]);
  LaneAccess<Shared> acc(w, in, size, false);
  if (w.full()) {
    for (uint32_t l = 0; l < w.nlanes; ++l) std::memcpy(r + size_t(l) * size, acc(l, p[l]), size);
  } else {
    for (uint32_t l = 0; l < w.nlanes; ++l)
      if (w.mask[l]) std::memcpy(r + size_t(l) * size, acc(l, p[l]), size);
  }
  if constexpr (I1)
    for (size_t i = 0; i < size_t(w.nlanes) * size; ++i) r[i] &= 1;
  if constexpr (Shared)
    if (w.P->opts.race_check)
      for (uint32_t l = 0; l < w.nlanes; ++l)
        if (w.mask[l]) note_shared_access(w, in, l, p[l], size, false);
}

template <bool Shared, int N>
void exec_store(Wave& w, const Inst& in) {
  using P = PtrT<Shared>;
  const uint32_t size = N ? uint32_t(N) : uint32_t(in.aux);
  const P* p = w.at<P>(in.o[0]);
  const uint8_t* v = w.at<uint8_t>(in.o[1]);
  if constexpr (Shared)
    if (w.wgmma.busy)
      for (uint32_t l = 0; l < w.nlanes; ++l)
        if (w.mask[l]) check_wgmma_reads(w, in, l, p[l], size);
  LaneAccess<Shared> acc(w, in, size, true);
  if (w.full()) {
    for (uint32_t l = 0; l < w.nlanes; ++l) std::memcpy(acc(l, p[l]), v + size_t(l) * size, size);
  } else {
    for (uint32_t l = 0; l < w.nlanes; ++l)
      if (w.mask[l]) std::memcpy(acc(l, p[l]), v + size_t(l) * size, size);
  }
  if constexpr (Shared)
    if (w.P->uses_wgmma || w.P->opts.race_check)
      for (uint32_t l = 0; l < w.nlanes; ++l) {
        if (!w.mask[l]) continue;
        if (w.P->uses_wgmma) note_generic_write(w, l, p[l], size);
        if (w.P->opts.race_check) note_shared_access(w, in, l, p[l], size, true);
      }
}

template <bool Shared>
Handler load_store_handler(bool load, bool i1, uint32_t size) {
  auto pick = [&](auto n) -> Handler {
    constexpr int N = decltype(n)::value;
    if (!load) return exec_store<Shared, N>;
    return i1 ? exec_load<Shared, N, true> : exec_load<Shared, N, false>;
  };
  switch (size) {
    case 1: return pick(std::integral_constant<int, 1>{});
    case 2: return pick(std::integral_constant<int, 2>{});
    case 4: return pick(std::integral_constant<int, 4>{});
    case 8: return pick(std::integral_constant<int, 8>{});
    case 16: return pick(std::integral_constant<int, 16>{});
    case 32: return pick(std::integral_constant<int, 32>{});
    default: return pick(std::integral_constant<int, 0>{});
  }
}

// ---- atomic_add (relaxed; lanes of a workgroup apply in lane order) ----

enum class Atomic { I32, F32, F32Ftz, BF16x2 };

inline float flush_subnormal(float x) {
  return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x;
}

template <Atomic K>
uint32_t atomic_apply(uint32_t old, uint32_t v) {
  if constexpr (K == Atomic::I32) {
    return old + v;
  } else if constexpr (K == Atomic::F32 || K == Atomic::F32Ftz) {
    float a = std::bit_cast<float>(old), b = std::bit_cast<float>(v);
    if constexpr (K == Atomic::F32Ftz) {  // sm_90 atom.add.f32: subnormal inputs and results flush to zero
      a = flush_subnormal(a);
      b = flush_subnormal(b);
    }
    float s = a + b;
    if (std::isnan(s)) return K == Atomic::F32Ftz ? 0x7FFFFFFFu : 0x7FC00000u;
    if constexpr (K == Atomic::F32Ftz) s = flush_subnormal(s);
    return std::bit_cast<uint32_t>(s);
  } else {
    // Packed bf16x2: each half added in f32 (exact for two bf16 values up to the final RNE),
    // rounded RNE to bf16 keeping subnormals; a NaN half becomes 0x7FFF.
    uint32_t out = 0;
    for (int h = 0; h < 2; ++h) {
      float s = ir::bf16_to_f32(uint16_t(old >> (16 * h))) + ir::bf16_to_f32(uint16_t(v >> (16 * h)));
      uint16_t r = std::isnan(s) ? uint16_t(0x7FFF) : ir::f32_to_bf16(s);
      out |= uint32_t(r) << (16 * h);
    }
    return out;
  }
}

template <bool Shared, Atomic K>
void exec_atomic_add(Wave& w, const Inst& in) {
  using P = PtrT<Shared>;
  const P* p = w.at<P>(in.o[0]);
  const uint32_t* v = w.at<uint32_t>(in.o[1]);
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    uint8_t* h = lane_ptr<Shared>(w, in, l, p[l], 4, 4, true);
    if constexpr (Shared) {
      if (w.wgmma.busy) check_wgmma_reads(w, in, l, p[l], 4);
      if (w.P->uses_wgmma) note_generic_write(w, l, p[l], 4);
      uint32_t old;
      std::memcpy(&old, h, 4);
      uint32_t nv = atomic_apply<K>(old, v[l]);
      std::memcpy(h, &nv, 4);
    } else {
      std::atomic_ref<uint32_t> ref(*reinterpret_cast<uint32_t*>(h));
      if constexpr (K == Atomic::I32) {
        ref.fetch_add(v[l], std::memory_order_relaxed);
      } else {
        uint32_t old = ref.load(std::memory_order_relaxed);
        while (!ref.compare_exchange_weak(old, atomic_apply<K>(old, v[l]), std::memory_order_relaxed)) {
        }
      }
    }
  }
}

template <bool Shared>
Handler atomic_handler(Atomic k) {
  switch (k) {
    case Atomic::I32: return exec_atomic_add<Shared, Atomic::I32>;
    case Atomic::F32: return exec_atomic_add<Shared, Atomic::F32>;
    case Atomic::F32Ftz: return exec_atomic_add<Shared, Atomic::F32Ftz>;
    default: return exec_atomic_add<Shared, Atomic::BF16x2>;
  }
}

// ---- shared_alloc: a fixed offset chosen in program order ----

void exec_shared_alloc(Wave& w, const Inst& in) {
  uint32_t* r = w.at<uint32_t>(in.r);
  for (uint32_t l = 0; l < w.nlanes; ++l) r[l] = uint32_t(in.aux);
}

// ---- buffer_load: dword d is read iff offset + 4d + 4 <= num_records (unsigned), else 0 ----

void exec_buffer_load(Wave& w, const Inst& in) {
  const uint32_t size = uint32_t(in.aux);
  uint8_t* r = w.at<uint8_t>(in.r);
  const uint64_t* base = w.at<uint64_t>(in.o[0]);
  const uint32_t* nrec = w.at<uint32_t>(in.o[1]);
  const uint32_t* off = w.at<uint32_t>(in.o[2]);
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    uint8_t* dst = r + size_t(l) * size;
    for (uint32_t d = 0; d < size / 4; ++d) {
      uint64_t o = uint64_t(off[l]) + 4ull * d;
      if (o + 4 <= uint64_t(nrec[l])) {
        const uint8_t* src = global_ptr(w, in, l, base[l] + o, 4, 4, false);
        std::memcpy(dst + 4 * d, src, 4);
      } else {
        std::memset(dst + 4 * d, 0, 4);
      }
    }
  }
}

Handler select_ptr_add(Prep& p) {
  const ir::Type& t = p.in.rt;
  p.require(t.is_pointer() && p.type(0) == t, "the result must have the pointer operand's type");
  const ir::Type& idx = p.type(1);
  p.require(idx == ir::Type::scalar(Scalar::I32) || idx == ir::Type::scalar(Scalar::I64),
            "the index must be i32 or i64");
  int esize = elem_bytes(t.elem);
  bool sh = t.space == ir::AddrSpace::Shared, i64 = idx.elem == Scalar::I64;
  if (sh) return i64 ? ptr_add_handler<true, uint64_t>(esize) : ptr_add_handler<true, uint32_t>(esize);
  return i64 ? ptr_add_handler<false, uint64_t>(esize) : ptr_add_handler<false, uint32_t>(esize);
}

Handler select_load_store(Prep& p, bool load) {
  const ir::Type& ptr = p.type(0);
  const ir::Type& v = load ? p.in.rt : p.type(1);
  p.require(ptr.is_pointer(), "operand 0 must be a pointer");
  p.require(v.is_value() && v.elem == ptr.elem, "the value's element type must be the pointee type");
  uint32_t size = uint32_t(v.size_bytes());
  p.in.aux = size;
  bool i1 = v.elem == Scalar::I1;
  return ptr.space == ir::AddrSpace::Shared ? load_store_handler<true>(load, i1, size)
                                            : load_store_handler<false>(load, i1, size);
}

Handler select_atomic(Prep& p) {
  const ir::Type& ptr = p.type(0);
  const ir::Type& v = p.type(1);
  p.require(ptr.is_pointer(), "operand 0 must be a pointer");
  p.require(p.in.rt.is_void(), "atomic_add has no result");
  Atomic k;
  if (v == ir::Type::scalar(Scalar::F32) && ptr.elem == Scalar::F32)
    k = p.opts.target == Target::Sm90a ? Atomic::F32Ftz : Atomic::F32;
  else if (v == ir::Type::scalar(Scalar::I32) && ptr.elem == Scalar::I32)
    k = Atomic::I32;
  else if (v == ir::Type::vector(Scalar::BF16, 2) && ptr.elem == Scalar::BF16)
    k = Atomic::BF16x2;
  else
    p.reject("atomic_add takes f32, i32 or <2 x bf16> through a pointer to that element type");
  return ptr.space == ir::AddrSpace::Shared ? atomic_handler<true>(k) : atomic_handler<false>(k);
}

Handler select_shared_alloc(Prep& p) {
  const ir::Type& t = p.in.rt;
  p.require(t.is_pointer() && t.space == ir::AddrSpace::Shared, "the result must be ptr<shared, T>");
  p.require(t.elem != Scalar::I1, "shared allocations of i1 are not supported (use i8)");
  p.require(p.in.attr >= 0, "the element count must not be negative");
  uint64_t bytes = uint64_t(p.in.attr) * uint64_t(ir::scalar_bits(t.elem) / 8);
  p.shared_cursor = (p.shared_cursor + 15) & ~uint64_t(15);
  p.in.aux = p.shared_cursor;
  if (bytes) p.shared_ranges.push_back({p.shared_cursor, p.shared_cursor + bytes});
  p.shared_cursor += bytes;
  return exec_shared_alloc;
}

Handler select_buffer_load(Prep& p) {
  const ir::Type& base = p.type(0);
  const ir::Type& t = p.in.rt;
  p.require(base.is_pointer() && base.space == ir::AddrSpace::Global, "operand 0 must be ptr<global, T>");
  p.require(p.type(1) == ir::Type::scalar(Scalar::I32) && p.type(2) == ir::Type::scalar(Scalar::I32),
            "num_records and offset must be i32");
  p.require(t.is_value() && t.elem == base.elem && t.elem != Scalar::I1,
            "the result's element type must be the pointee type");
  p.require(t.size_bytes() % 4 == 0, "the result must be a multiple of 4 bytes");
  p.in.aux = uint64_t(t.size_bytes());
  return exec_buffer_load;
}

}  // namespace

Handler select_memory(Prep& p) {
  switch (p.op.code) {
    case OpCode::PtrAdd: return select_ptr_add(p);
    case OpCode::Load: return select_load_store(p, true);
    case OpCode::Store: return select_load_store(p, false);
    case OpCode::AtomicAdd: return select_atomic(p);
    case OpCode::SharedAlloc: return select_shared_alloc(p);
    case OpCode::BufferLoad: return select_buffer_load(p);
    default: return nullptr;
  }
}

}  // namespace tilejit::emulator::detail
