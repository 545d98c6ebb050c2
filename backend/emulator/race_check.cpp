// Shared-memory race checking (Options::race_check): accesses by different warps to the same
// 4-byte word between two barriers, at least one of them a write, are faults.
#include <fmt/format.h>

#include <algorithm>

#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

namespace {
constexpr uint32_t kManyWarps = ~0u;  // a word read by more than one warp in this barrier interval

[[noreturn]] void report(const Wave& w, const Inst& in, uint32_t lane, uint64_t addr, bool write, bool other_wrote,
                         uint32_t other) {
  fault_at(w, in, lane,
           fmt::format("shared-memory race: this {} touches bytes that {} {} since the last barrier, with no "
                       "barrier in between (only accesses by one warp, or reads only, may share an interval)",
                       write ? "write" : "read",
                       other == kManyWarps ? std::string("several other warps") : fmt::format("warp {}", other),
                       other_wrote ? "wrote" : "read"),
           true, addr);
}
}  // namespace

void reset_race_check(Wave& w) {
  SharedRaces& r = w.races;
  const size_t words = (w.P->shared_bytes + 3) / 4;
  r.write_epoch.assign(words, 0);
  r.read_epoch.assign(words, 0);
  r.write_warp.resize(words);
  r.read_warp.resize(words);
  r.epoch = 1;
}

void forget_shared_writes(Wave& w, uint64_t addr, uint64_t bytes) {
  SharedRaces& r = w.races;
  for (uint64_t i = addr / 4; i <= (addr + bytes - 1) / 4 && i < r.write_epoch.size(); ++i) r.write_epoch[i] = 0;
}

void note_shared_access(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes, bool write) {
  SharedRaces& r = w.races;
  const uint32_t warp = lane / w.L->wave_size, e = r.epoch;
  for (uint64_t i = addr / 4; i <= (addr + bytes - 1) / 4 && i < r.write_epoch.size(); ++i) {
    if (r.write_epoch[i] == e && r.write_warp[i] != warp) report(w, in, lane, addr, write, true, r.write_warp[i]);
    if (write) {
      if (r.read_epoch[i] == e && r.read_warp[i] != warp) report(w, in, lane, addr, write, false, r.read_warp[i]);
      r.write_epoch[i] = e;
      r.write_warp[i] = warp;
    } else if (r.read_epoch[i] != e) {
      r.read_epoch[i] = e;
      r.read_warp[i] = warp;
    } else if (r.read_warp[i] != warp) {
      r.read_warp[i] = kManyWarps;
    }
  }
}

}  // namespace tilejit::emulator::detail
