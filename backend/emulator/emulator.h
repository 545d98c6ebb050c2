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
};

/// A new emulator device. Its memory is host memory with bounds-checked accesses.
std::unique_ptr<Device> make_emulator_device(const Options& options = {});

}  // namespace tilejit::emulator
