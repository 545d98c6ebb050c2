// Emulator fault messages.
#include "backend/emulator/fault.h"

#include <fmt/format.h>

#include "backend/emulator/access.h"
#include "dsl/error.h"

namespace tilejit::emulator::detail {

namespace {
std::string where(const Wave& w, const Inst& in, uint32_t lane) {
  const Dim3& b = w.L->block;
  uint32_t tx = lane % b.x, ty = (lane / b.x) % b.y, tz = lane / (b.x * b.y);
  return fmt::format("emulator fault in kernel '{}': op '{}' at {}, block ({},{},{}) thread ({},{},{}) "
                     "[linear {}, lane {}]",
                     w.P->fn.name, ir::op_info(in.op->code).name, in.op->loc.str(), w.bid[0], w.bid[1],
                     w.bid[2], tx, ty, tz, lane, lane % w.L->wave_size);
}
}  // namespace

void fault(const Wave& w, const Inst& in, uint32_t lane, std::string_view what) {
  throw EmulatorFault(fmt::format("{}: {}", where(w, in, lane), what));
}

void fault_at(const Wave& w, const Inst& in, uint32_t lane, std::string_view what, bool shared,
              uint64_t addr) {
  throw EmulatorFault(fmt::format("{}: {} at {} address 0x{:x}", where(w, in, lane), what,
                                  shared ? "shared" : "global", addr));
}

void fault_oob(const Wave& w, const Inst& in, uint32_t lane, bool shared, bool write, uint64_t addr,
               uint64_t bytes) {
  fault_at(w, in, lane,
           fmt::format("out-of-bounds {} {} of {} bytes (no {} contains it)", shared ? "shared" : "global",
                       write ? "write" : "read", bytes, shared ? "shared allocation" : "device allocation"),
           shared, addr);
}

void fault_misaligned(const Wave& w, const Inst& in, uint32_t lane, bool shared, uint64_t addr,
                      uint64_t bytes, uint64_t align) {
  fault_at(w, in, lane, fmt::format("misaligned {}-byte access (needs {}-byte alignment)", bytes, align),
           shared, addr);
}

}  // namespace tilejit::emulator::detail
