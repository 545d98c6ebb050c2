// The HIP runtime as a Device (gfx950 only), built on the dlopen'ed function table.
#pragma once
#include <memory>
#include <string>

#include "backend/runtime/device.h"

namespace tilejit::hip {

/// What the runtime says about an opened device.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;               ///< the marketing name, e.g. "AMD Instinct MI355X"
  int cu_count = 0;               ///< compute units
  int gfx_major = 0, gfx_minor = 0;  ///< the runtime's compute capability (gfx950: 9.5)
  int max_block_threads = 0;
};

/// Opens HIP device `ordinal` (loading libamdhip64 on first use). Throws
/// NoDeviceError (a RuntimeError saying "no device" and why) when the runtime
/// or the device is missing, or when the device is not gfx950.
///
/// The architecture is told by hipDeviceGetAttribute's compute capability,
/// which HIP reports as gfx major.minor (gfx950 -> 9.5, gfx942 -> 9.4, gfx90a
/// -> 9.0): 9.5 is accepted as gfx950, the only 9.5 part. hipGetDeviceProperties
/// (whose gcnArchName would be exact) is not used: its struct layout changed in
/// ROCm 6.0.
std::unique_ptr<Device> open_device(int ordinal = 0);

/// The properties of a device made by open_device; null for any other Device.
const DeviceInfo* device_info(const Device& device);

}  // namespace tilejit::hip
