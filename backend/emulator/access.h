// Bounds- and alignment-checked translation of global and shared addresses for one lane.
#pragma once
#include <fmt/format.h>

#include <cstdint>

#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

/// Largest power of two dividing `bytes`: the alignment an access of that size needs.
inline uint64_t access_align(uint64_t bytes) { return bytes & (~bytes + 1); }

[[noreturn]] void fault_oob(const Wave& w, const Inst& in, uint32_t lane, bool shared, bool write,
                            uint64_t addr, uint64_t bytes);
[[noreturn]] void fault_misaligned(const Wave& w, const Inst& in, uint32_t lane, bool shared,
                                   uint64_t addr, uint64_t bytes, uint64_t align);

/// Host pointer for a global access of `bytes` at `addr` by `lane`; faults when outside every
/// allocation. `align` = 0 skips the alignment check. Each op caches the allocation it last hit
/// (an op touches one address space; cp_async's shared side uses a second slot).
inline uint8_t* global_ptr(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes,
                           uint64_t align, bool write, uint32_t slot = 0) {
  if (align && (addr & (align - 1))) fault_misaligned(w, in, lane, false, addr, bytes, align);
  Range& cache = w.caches[in.cache + slot];
  if (!cache.holds(addr, bytes)) {
    const Range* r = find_range(w.L->global, addr, bytes);
    if (!r) fault_oob(w, in, lane, false, write, addr, bytes);
    cache = *r;
  }
  return reinterpret_cast<uint8_t*>(addr);
}

/// Host pointer for a shared access of `bytes` at byte offset `addr` (inside one shared_alloc).
inline uint8_t* shared_ptr(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes,
                           uint64_t align, bool write, uint32_t slot = 0) {
  if (align && (addr & (align - 1))) fault_misaligned(w, in, lane, true, addr, bytes, align);
  Range& cache = w.caches[in.cache + slot];
  if (!cache.holds(addr, bytes)) {
    const Range* r = find_range(w.P->shared_ranges, addr, bytes);
    if (!r) fault_oob(w, in, lane, true, write, addr, bytes);
    cache = *r;
  }
  return w.shared + addr;
}

/// Checked lane accesses of one op, for the hot load/store loops: the allocation last hit is kept
/// in registers, so an in-bounds aligned lane costs two compares; anything else goes through
/// global_ptr / shared_ptr, which resolve the allocation or fault.
template <bool Shared>
class LaneAccess {
 public:
  LaneAccess(Wave& w, const Inst& in, uint64_t bytes, bool write)
      : w_(w), in_(in), bytes_(bytes), amask_(access_align(bytes) - 1), write_(write) {
    load_cache();
  }
  ~LaneAccess() = default;

  /// Host pointer for `lane` accessing `addr`.
  uint8_t* operator()(uint32_t lane, uint64_t addr) {
    if (__builtin_expect((addr & amask_) == 0 && addr - lo_ < span_, 1)) return base() + addr;
    return miss(lane, addr);
  }

 private:
  uint8_t* base() const {
    if constexpr (Shared) return w_.shared;
    else return nullptr;
  }
  void load_cache() {
    const Range& c = w_.caches[in_.cache];
    lo_ = c.lo;
    span_ = c.hi >= c.lo && c.hi - c.lo >= bytes_ ? c.hi - c.lo - bytes_ + 1 : 0;  // addr - lo < span: inside
  }
  __attribute__((noinline)) uint8_t* miss(uint32_t lane, uint64_t addr) {
    uint8_t* p = Shared ? shared_ptr(w_, in_, lane, addr, bytes_, amask_ + 1, write_)
                        : global_ptr(w_, in_, lane, addr, bytes_, amask_ + 1, write_);
    load_cache();
    return p;
  }

  Wave& w_;
  const Inst& in_;
  uint64_t bytes_, amask_;
  bool write_;
  uint64_t lo_ = 0, span_ = 0;
};

}  // namespace tilejit::emulator::detail
