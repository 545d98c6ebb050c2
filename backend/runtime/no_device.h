// The error a GPU driver throws when it finds no usable device.
#pragma once
#include <string>

#include "dsl/error.h"

namespace tilejit {

/// No usable device for a driver: its library is missing, it reports no
/// device, or the device is not a supported target. what() reads
/// "<driver>: no device (<library>: <reason>)".
class NoDeviceError : public RuntimeError {
 public:
  NoDeviceError(std::string driver, std::string library, std::string reason)
      : RuntimeError(driver + ": no device (" + library + ": " + reason + ")"),
        library_(std::move(library)),
        reason_(std::move(reason)) {}
  /// The library tried or loaded, e.g. "libcuda.so.1".
  const std::string& library() const { return library_; }
  /// Why there is no device (the loader's or the driver's own words).
  const std::string& reason() const { return reason_; }

 private:
  std::string library_, reason_;
};

}  // namespace tilejit
