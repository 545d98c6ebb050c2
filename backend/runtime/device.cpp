// Device serial numbers, the names of device kinds, and the stream-less fallbacks of
// memset_async and capture.
#include "backend/runtime/device.h"

#include <atomic>

namespace tilejit {

Device::Device() {
  static std::atomic<uint64_t> next{1};
  serial_ = next++;
}

void Device::memset_async(DevicePtr dst, uint8_t value, size_t bytes, Stream* stream) {
  // Ordered after the stream's earlier work and before its later work.
  if (stream) stream->synchronize();
  memset(dst, value, bytes);
  synchronize();
}

namespace {
class ReplayGraph final : public Graph {
 public:
  explicit ReplayGraph(std::function<void()> work) : work_(std::move(work)) {}
  void launch(Stream*) override { work_(); }

 private:
  std::function<void()> work_;
};
}  // namespace

std::unique_ptr<Graph> Device::capture(Stream&, std::function<void()> work) {
  return std::make_unique<ReplayGraph>(std::move(work));
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
