// The CPU emulator as a Device: runs IR for a grid, lanes of a workgroup in lockstep.
#pragma once
#include <memory>

#include "backend/runtime/device.h"

namespace tilejit::emulator {

struct Options {
  /// Whose lane layouts and numerics to follow (wave size 64 for gfx950, 32 for sm_90a).
  Target target = Target::Sm90a;
  /// Worker threads for workgroups (0 = hardware concurrency).
  unsigned threads = 0;
  /// gfx950 MFMA accumulation model: false = exact f32 per product (RNE),
  /// true = the CDNA3 bit-accurate model (see isa-semantics.md §1.4).
  bool cdna3_mfma_numerics = false;
  /// Shared-memory race checking: a load, store, ldmatrix, landed cp.async or wgmma operand read
  /// by one warp and a write by another to the same 4-byte word with no barrier between them is
  /// an EmulatorFault naming both (shared atomics are exempt). Slower; also
  /// TILEJIT_EMULATOR_RACECHECK=1 for the emulator device the runtime opens.
  bool race_check = false;
};

/// A new emulator device. Its memory is host memory with bounds-checked accesses.
std::unique_ptr<Device> make_emulator_device(const Options& options = {});

}  // namespace tilejit::emulator
