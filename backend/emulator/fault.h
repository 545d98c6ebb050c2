// Emulator faults: messages naming the kernel, the op (name and source location), the lane and the address.
#pragma once
#include <cstdint>
#include <string_view>

#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

/// Throws EmulatorFault for `lane` of the current workgroup executing `in`.
[[noreturn]] void fault(const Wave& w, const Inst& in, uint32_t lane, std::string_view what);
/// As fault(), also naming the address (global: device address; shared: byte offset in shared memory).
[[noreturn]] void fault_at(const Wave& w, const Inst& in, uint32_t lane, std::string_view what,
                           bool shared, uint64_t addr);

}  // namespace tilejit::emulator::detail
