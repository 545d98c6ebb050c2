// Long-lived emulator devices for the GEMM tests.
#include "tests/gemm/devices.h"

#include <memory>
#include <mutex>

#include "backend/emulator/emulator.h"

namespace tilejit::gemm_test {

Device& emulator(Target target) {
  static std::mutex mutex;
  static std::unique_ptr<Device> devices[2];
  std::lock_guard lock(mutex);
  auto& d = devices[target == Target::Gfx950 ? 0 : 1];
  if (!d) d = emulator::make_emulator_device({.target = target});
  return *d;
}

}  // namespace tilejit::gemm_test
