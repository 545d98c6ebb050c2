// Device serial numbers and the names of device kinds.
#include "backend/runtime/device.h"

#include <atomic>

namespace tilejit {

Device::Device() {
  static std::atomic<uint64_t> next{1};
  serial_ = next++;
}

std::string_view device_kind_name(DeviceKind k) {
  switch (k) {
    case DeviceKind::Emulator: return "emulator";
    case DeviceKind::Hip: return "hip";
    case DeviceKind::Cuda: return "cuda";
  }
  return "unknown";
}

}  // namespace tilejit
