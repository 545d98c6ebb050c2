// The emulator as a Device: host memory behind a registry, synchronous streams, host-clock events.
#include <fmt/format.h>

#include <chrono>
#include <cstring>
#include <optional>
#include <thread>

#include "backend/emulator/device_state.h"
#include "backend/emulator/emulator.h"
#include "dsl/error.h"

namespace tilejit::emulator {

namespace detail {

ThreadPool& DeviceState::pool() {
  std::lock_guard lock(pool_mu_);
  if (!pool_) {
    unsigned n = opts.threads ? opts.threads : std::max(1u, std::thread::hardware_concurrency());
    pool_ = std::make_unique<ThreadPool>(n);
  }
  return *pool_;
}

}  // namespace detail

namespace {

/// Streams are synchronous: every launch and copy has finished when its call returns.
class EmuStream : public Stream {
 public:
  void synchronize() override {}
  void* native() const override { return nullptr; }
};

/// Records the host clock.
class EmuEvent : public Event {
 public:
  void record(Stream*) override { t_ = std::chrono::steady_clock::now(); }
  void synchronize() override {}
  float elapsed_ms_since(const Event& start) const override {
    const auto* s = dynamic_cast<const EmuEvent*>(&start);
    if (!s) throw UserError("emulator: elapsed_ms_since needs an event of the same device");
    if (!t_ || !s->t_) throw UserError("emulator: elapsed_ms_since needs two recorded events");
    return std::chrono::duration<float, std::milli>(*t_ - *s->t_).count();
  }

 private:
  std::optional<std::chrono::steady_clock::time_point> t_;
};

class EmuDevice : public Device {
 public:
  explicit EmuDevice(const Options& opts) : state_(std::make_shared<detail::DeviceState>()) {
    state_->opts = opts;
  }

  DeviceKind kind() const override { return DeviceKind::Emulator; }
  Target target() const override { return state_->opts.target; }
  std::string name() const override {
    return fmt::format("tilejit emulator ({})", target_info(state_->opts.target).name);
  }

  DevicePtr alloc(size_t bytes) override { return state_->mem.alloc(bytes); }
  void free(DevicePtr ptr) override { state_->mem.free(ptr); }
  void copy_to_device(DevicePtr dst, const void* src, size_t bytes) override {
    state_->mem.check(dst, bytes, "copy_to_device destination");
    if (bytes) std::memcpy(reinterpret_cast<void*>(dst), src, bytes);
  }
  void copy_to_host(void* dst, DevicePtr src, size_t bytes) override {
    state_->mem.check(src, bytes, "copy_to_host source");
    if (bytes) std::memcpy(dst, reinterpret_cast<const void*>(src), bytes);
  }
  void copy_device_to_device(DevicePtr dst, DevicePtr src, size_t bytes) override {
    state_->mem.check(src, bytes, "copy_device_to_device source");
    state_->mem.check(dst, bytes, "copy_device_to_device destination");
    if (bytes) std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), bytes);
  }
  void memset(DevicePtr dst, uint8_t value, size_t bytes) override {
    state_->mem.check(dst, bytes, "memset destination");
    if (bytes) std::memset(reinterpret_cast<void*>(dst), value, bytes);
  }
  void synchronize() override {}

  std::unique_ptr<Stream> create_stream() override { return std::make_unique<EmuStream>(); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<EmuEvent>(); }

  std::unique_ptr<LoadedKernel> load(const ir::Function& fn, const CompiledCode*) override {
    return detail::make_kernel(state_, fn);
  }

 private:
  std::shared_ptr<detail::DeviceState> state_;
};

}  // namespace

std::unique_ptr<Device> make_emulator_device(const Options& options) {
  return std::make_unique<EmuDevice>(options);
}

}  // namespace tilejit::emulator
