// Names of device kinds.
#include "backend/runtime/device.h"

namespace tilejit {

std::string_view device_kind_name(DeviceKind k) {
  switch (k) {
    case DeviceKind::Emulator: return "emulator";
    case DeviceKind::Hip: return "hip";
    case DeviceKind::Cuda: return "cuda";
  }
  return "unknown";
}

}  // namespace tilejit
