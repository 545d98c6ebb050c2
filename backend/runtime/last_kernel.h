// Remembers the last kernel launched on a device or stream, for the message of a fault reported later.
#pragma once
#include <memory>
#include <mutex>
#include <string>

namespace tilejit {

/// A kernel's display name, shared between the loaded kernel and the records of its launches.
using KernelName = std::shared_ptr<const std::string>;

/// The last kernel launched on one queue (a stream or a whole device). Thread-safe.
class LastKernel {
 public:
  void set(const KernelName& name) {
    std::lock_guard lock(mu_);
    name_ = name;
  }
  /// "; the last kernel launched <where> was '<name>'", or "" when none was launched.
  std::string note(const char* where) const {
    std::lock_guard lock(mu_);
    if (!name_) return {};
    return std::string("; the last kernel launched ") + where + " was '" + *name_ + "'";
  }

 private:
  mutable std::mutex mu_;
  KernelName name_;
};

}  // namespace tilejit
