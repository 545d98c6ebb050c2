// Shared-memory race checking (Options::race_check): accesses by different warps to the same
// 4-byte word between two barriers, at least one of them a write, are faults, unless an mbarrier
// orders them (the first warp arrived on it after its access, the second waited for that phase).
#include <fmt/format.h>

#include <algorithm>

#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

namespace {
constexpr uint32_t kSeveralWarps = ~0u;

[[noreturn]] void report(const Wave& w, const Inst& in, uint32_t lane, uint64_t addr, bool write, bool other_wrote,
                         uint32_t other) {
  fault_at(w, in, lane,
           fmt::format("shared-memory race: this {} touches bytes that {} {} since the last barrier, with no "
                       "barrier or mbarrier wait in between that orders them (only accesses by one warp, or "
                       "reads only, may share an interval)",
                       write ? "write" : "read",
                       other == kSeveralWarps ? std::string("several other warps") : fmt::format("warp {}", other),
                       other_wrote ? "wrote" : "read"),
           true, addr);
}

/// Whether warp `other`'s access at its stamp `stamp` is ordered before warp `warp`'s accesses now.
bool ordered(const SharedRaces& r, uint32_t warp, uint32_t other, uint32_t stamp) {
  return !r.clocks.empty() && r.clocks[warp][other] > stamp;
}

uint32_t stamp_of(const SharedRaces& r, uint32_t warp) { return r.clocks.empty() ? 0 : r.clocks[warp][warp]; }
}  // namespace

void reset_race_check(Wave& w) {
  SharedRaces& r = w.races;
  const size_t words = (w.P->shared_bytes + 3) / 4;
  r.write_epoch.assign(words, 0);
  r.read_epoch.assign(words, 0);
  r.write_warp.resize(words);
  r.write_stamp.resize(words);
  r.read_warps.resize(words);
  if (w.P->warp_scheduling) {
    const size_t warps = (w.nlanes + w.L->wave_size - 1) / w.L->wave_size;
    r.read_stamp.resize(words * kMaxWarps);
    r.read_fence.assign(words * kMaxWarps, 0);
    r.fences.assign(warps, 0);
    r.clocks.assign(warps, {});
  } else {
    r.read_stamp.clear();
    r.read_fence.clear();
    r.fences.clear();
    r.clocks.clear();
  }
  r.epoch = 1;
}

void forget_shared_writes(Wave& w, uint64_t addr, uint64_t bytes) {
  SharedRaces& r = w.races;
  for (uint64_t i = addr / 4; i <= (addr + bytes - 1) / 4 && i < r.write_epoch.size(); ++i) r.write_epoch[i] = 0;
}

void note_shared_access(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes, bool write) {
  SharedRaces& r = w.races;
  const uint32_t warp = lane / w.L->wave_size, e = r.epoch, bit = 1u << warp, stamp = stamp_of(r, warp);
  for (uint64_t i = addr / 4; i <= (addr + bytes - 1) / 4 && i < r.write_epoch.size(); ++i) {
    if (r.write_epoch[i] == e && r.write_warp[i] != warp && !ordered(r, warp, r.write_warp[i], r.write_stamp[i]))
      report(w, in, lane, addr, write, true, r.write_warp[i]);
    if (write) {
      if (r.read_epoch[i] == e && (r.read_warps[i] & ~bit)) {
        uint32_t unordered = 0, count = 0;
        for (uint32_t others = r.read_warps[i] & ~bit; others; others &= others - 1) {
          const uint32_t v = uint32_t(__builtin_ctz(others));
          if (r.read_stamp.empty() || !ordered(r, warp, v, r.read_stamp[i * kMaxWarps + v])) {
            unordered = v;
            ++count;
          }
        }
        if (count) report(w, in, lane, addr, write, false, count > 1 ? kSeveralWarps : unordered);
      }
      r.write_epoch[i] = e;
      r.write_warp[i] = warp;
      r.write_stamp[i] = stamp;
    } else {
      r.read_warps[i] = (r.read_epoch[i] == e ? r.read_warps[i] : 0) | bit;
      r.read_epoch[i] = e;
      if (!r.read_stamp.empty()) {
        r.read_stamp[i * kMaxWarps + warp] = stamp;
        r.read_fence[i * kMaxWarps + warp] = r.fences[warp] + 1;
      }
    }
  }
}

void note_proxy_fence(Wave& w) {
  SharedRaces& r = w.races;
  if (r.fences.empty()) return;
  for (uint32_t warp = 0; warp < r.fences.size(); ++warp)
    for (uint32_t l = warp * w.L->wave_size; l < std::min(w.nlanes, (warp + 1) * w.L->wave_size); ++l)
      if (w.mask[l]) {
        ++r.fences[warp];
        break;
      }
}

void check_async_overwrite(const Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes) {
  const SharedRaces& r = w.races;
  if (r.read_fence.empty()) return;
  for (uint64_t i = addr / 4; i <= (addr + bytes - 1) / 4 && i < r.write_epoch.size(); ++i)
    for (uint32_t v = 0; v < r.fences.size(); ++v)
      if (r.read_fence[i * kMaxWarps + v] == r.fences[v] + 1)
        fault_at(w, in, lane,
                 fmt::format("the copy engine may overwrite bytes that warp {} read with ordinary loads and has not "
                             "executed fence_proxy_async() since: the copy writes through the async proxy, which a "
                             "barrier or an mbarrier alone does not order after those reads (fence, then arrive / "
                             "reach the barrier; tile::BulkRing::release does)",
                             v),
                 true, addr);
}

void note_arrival(Wave& w, uint32_t lane, Mbarrier& m) {
  SharedRaces& r = w.races;
  if (r.clocks.empty()) return;
  auto& mine = r.clocks[lane / w.L->wave_size];
  ++mine[lane / w.L->wave_size];
  for (uint32_t v = 0; v < kMaxWarps; ++v) m.clock[v] = std::max(m.clock[v], mine[v]);
}

void note_wait(Wave& w, uint32_t lane, const Mbarrier& m) {
  SharedRaces& r = w.races;
  if (r.clocks.empty()) return;
  auto& mine = r.clocks[lane / w.L->wave_size];
  for (uint32_t v = 0; v < kMaxWarps; ++v) mine[v] = std::max(mine[v], m.done_clock[v]);
}

}  // namespace tilejit::emulator::detail
