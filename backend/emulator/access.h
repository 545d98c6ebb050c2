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
/// allocation. `align` = 0 skips the alignment check.
inline uint8_t* global_ptr(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes,
                           uint64_t align, bool write) {
  if (align && (addr & (align - 1))) fault_misaligned(w, in, lane, false, addr, bytes, align);
  if (!w.gcache.holds(addr, bytes)) {
    const Range* r = find_range(w.L->global, addr, bytes);
    if (!r) fault_oob(w, in, lane, false, write, addr, bytes);
    w.gcache = *r;
  }
  return reinterpret_cast<uint8_t*>(addr);
}

/// Host pointer for a shared access of `bytes` at byte offset `addr` (inside one shared_alloc).
inline uint8_t* shared_ptr(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes,
                           uint64_t align, bool write) {
  if (align && (addr & (align - 1))) fault_misaligned(w, in, lane, true, addr, bytes, align);
  if (!w.scache.holds(addr, bytes)) {
    const Range* r = find_range(w.P->shared_ranges, addr, bytes);
    if (!r) fault_oob(w, in, lane, true, write, addr, bytes);
    w.scache = *r;
  }
  return w.shared + addr;
}

}  // namespace tilejit::emulator::detail
