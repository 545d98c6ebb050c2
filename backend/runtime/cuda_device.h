// The CUDA driver as a Device (sm_90a only), built on the dlopen'ed function table.
#pragma once
#include <memory>
#include <string>

#include "backend/runtime/device.h"

namespace tilejit::cuda {

/// What the driver says about an opened device.
struct DeviceInfo {
  int ordinal = 0;
  std::string name;              ///< e.g. "NVIDIA H100 80GB HBM3"
  int sm_count = 0;              ///< streaming multiprocessors
  int cc_major = 0, cc_minor = 0;  ///< compute capability
  int max_shared_optin = 0;      ///< dynamic shared memory a block may opt in to (bytes)
  int max_block_threads = 0;
};

/// Opens CUDA device `ordinal` in its primary context (loading libcuda on
/// first use). Throws NoDeviceError (a RuntimeError saying "no device" and why)
/// when the driver or the device is missing, or when the device is not
/// compute capability 9.0 (the message then says "needs sm_90").
std::unique_ptr<Device> open_device(int ordinal = 0);

/// The properties of a device made by open_device; null for any other Device.
const DeviceInfo* device_info(const Device& device);

}  // namespace tilejit::cuda
