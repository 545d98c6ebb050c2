// The devices a test program shares: one emulator per target, and the GPU if the machine has one.
#pragma once
#include <cstdlib>
#include <memory>
#include <mutex>

#include "backend/emulator/emulator.h"
#include "backend/runtime/select.h"
#include "dsl/error.h"

namespace tilejit::testing_support {

/// The emulator device for `target`, created on first use and kept until exit. Kernels compiled
/// for a device are memoised by the device's address, so tests share long-lived devices rather
/// than creating and destroying one per test (a new device at a freed one's address would be
/// handed the old device's kernels).
inline Device& emulator_device(Target target) {
  static std::mutex mutex;
  static std::unique_ptr<Device> devices[2];
  std::lock_guard lock(mutex);
  auto& d = devices[target == Target::Gfx950 ? 0 : 1];
  if (!d) d = emulator::make_emulator_device({.target = target});
  return *d;
}

/// The first CUDA or HIP device, or null when the machine has none (gpu tests then skip). The
/// CUDA driver's compute cache is turned off first, so every module load runs the JIT and writes
/// its log (CompileInfo::load_log, which the advisory tests read).
inline Device* gpu_device() {
  static std::unique_ptr<Device> dev = [] {
    setenv("CUDA_CACHE_DISABLE", "1", 1);
    for (const char* spec : {"cuda", "hip"}) {
      try {
        return open_device(spec);
      } catch (const Error&) {
      }
    }
    return std::unique_ptr<Device>();
  }();
  return dev.get();
}

}  // namespace tilejit::testing_support
