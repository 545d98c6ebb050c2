// One emulator device per target for the whole test program.
#pragma once
#include "backend/runtime/device.h"

namespace tilejit::gemm_test {

/// The emulator device for `target`, created on first use and kept until exit. Kernels compiled
/// for a device are memoised by the device's address, so tests share long-lived devices rather
/// than creating and destroying one per test (a new device at a freed one's address would be
/// handed the old device's kernels).
Device& emulator(Target target);

}  // namespace tilejit::gemm_test
