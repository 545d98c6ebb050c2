// Thread groups of a workgroup that wait for each other (programs with Program::warp_scheduling):
// the emulator runs a workgroup's threads in step, but where an if sends some threads one way and
// the rest the other (a producer warp and its consumers), each side runs as its own group on its
// own stack (a fiber), and a group whose mbarrier_wait cannot return yet lets the others run until
// an arrival or a landed copy lets it go on. Groups switch only at such waits, so a run is
// deterministic. When every group is waiting and nothing changes, the wait faults (a deadlock).
#pragma once
#include <cstdint>

#include "backend/emulator/interp.h"

namespace tilejit::emulator::detail {

/// Runs the workgroup's body as the root group and every group forked from it to completion;
/// rethrows the first fault any group raised.
void run_scheduled(Wave& w, const Block& body);

/// exec_if under the scheduler when threads take both branches: runs the then region for the
/// lanes of `then_mask` and the else region for the lanes of `else_mask` as two groups; returns
/// when both have finished.
void fork_branches(Wave& w, const Inst& in, const uint8_t* then_mask, uint32_t then_active, const uint8_t* else_mask,
                   uint32_t else_active);

/// A wait of the current group cannot return yet: lets the other groups run. Returns true when
/// the caller should check again, false when no group can change anything any more (the caller
/// faults: the wait never returns).
bool wait_for_others(Wave& w);

/// Something another group may wait for happened (an arrival, a landed copy, a new mbarrier).
void note_progress(Wave& w);

}  // namespace tilejit::emulator::detail
