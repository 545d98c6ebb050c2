// Typed device memory owned by a Buffer (RAII), with host upload/download.
#pragma once
#include <cstring>
#include <span>
#include <vector>

#include "backend/runtime/device.h"
#include "dsl/error.h"

namespace tilejit {

/// `count` elements of T in a device's memory. T is the host-side element type
/// (uint16_t holds bf16 bits). Move-only; frees its memory when destroyed.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(Device& device, size_t count) : device_(&device), count_(count) {
    if (count) ptr_ = device.alloc(count * sizeof(T));
  }
  /// Allocates and uploads `data`.
  Buffer(Device& device, std::span<const T> data) : Buffer(device, data.size()) { upload(data); }
  Buffer(Buffer&& o) noexcept { *this = std::move(o); }
  Buffer& operator=(Buffer&& o) noexcept {
    reset();
    device_ = o.device_;
    ptr_ = o.ptr_;
    count_ = o.count_;
    o.ptr_ = 0;
    o.count_ = 0;
    return *this;
  }
  Buffer(const Buffer&) = delete;
  ~Buffer() { reset(); }

  size_t size() const { return count_; }
  size_t bytes() const { return count_ * sizeof(T); }
  DevicePtr ptr() const { return ptr_; }
  Device& device() const { return *device_; }

  void upload(std::span<const T> data) {
    if (data.size() != count_)
      throw UserError("Buffer::upload: " + std::to_string(data.size()) + " elements for a buffer of " +
                      std::to_string(count_));
    if (count_) device_->copy_to_device(ptr_, data.data(), bytes());
  }
  std::vector<T> download() const {
    std::vector<T> out(count_);
    if (count_) device_->copy_to_host(out.data(), ptr_, bytes());
    return out;
  }
  /// Sets every byte to `byte` (use a poison pattern before a test, 0 before accumulating).
  void fill_bytes(uint8_t byte) {
    if (count_) device_->memset(ptr_, byte, bytes());
  }

 private:
  void reset() {
    if (device_ && ptr_) device_->free(ptr_);
    ptr_ = 0;
  }
  Device* device_ = nullptr;
  DevicePtr ptr_ = 0;
  size_t count_ = 0;
};

}  // namespace tilejit
