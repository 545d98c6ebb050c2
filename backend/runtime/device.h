// The runtime's device interface: memory, streams, events and kernel launch.
// Implemented by the emulator, the HIP driver and the CUDA driver.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "dsl/ir/ir.h"
#include "dsl/target.h"

namespace tilejit {

enum class DeviceKind : uint8_t { Emulator, Hip, Cuda };
std::string_view device_kind_name(DeviceKind k);

using DevicePtr = uint64_t;

struct Dim3 {
  uint32_t x = 1, y = 1, z = 1;
  uint64_t count() const { return uint64_t(x) * y * z; }
};

/// One launch argument: its IR type and raw bits (a device address for pointers).
struct KernelArg {
  ir::Type type;
  uint64_t bits = 0;
};

/// Code compiled for a GPU target: an HSACO (gfx950) or PTX text (sm_90a).
struct CompiledCode {
  Target target{};
  std::string symbol;            // kernel entry symbol
  std::vector<uint8_t> binary;   // HSACO bytes or PTX text
  std::string metadata_json;     // resources, timings (see backend/llvm)
};

class Stream {
 public:
  virtual ~Stream() = default;
  virtual void synchronize() = 0;
  /// The driver's native handle (CUstream / hipStream_t), null for the emulator.
  virtual void* native() const = 0;
};

class Event {
 public:
  virtual ~Event() = default;
  virtual void record(Stream* stream) = 0;
  virtual void synchronize() = 0;
  /// Milliseconds between two recorded events.
  virtual float elapsed_ms_since(const Event& start) const = 0;
};

/// Work recorded once from a stream (a CUDA graph) and replayed with one launch, which
/// removes the per-launch gaps of short kernels. Made by Device::capture.
class Graph {
 public:
  virtual ~Graph() = default;
  /// Enqueues the recorded work on `stream` (null: the stream it was captured from, which must
  /// then outlive the graph).
  virtual void launch(Stream* stream) = 0;
};

/// How a launch may overlap the work before it on its stream.
struct LaunchOptions {
  /// Let the kernel start while the kernel launched before it on the same stream still runs (CUDA
  /// programmatic dependent launch): its blocks may start once every block of that kernel has
  /// called tile::launch_dependents() or exited. The kernel must call tile::wait_prior_grids()
  /// before it reads anything that kernel writes, and before it writes anything that kernel reads
  /// or writes. Devices without it (HIP, the emulator) launch as usual.
  bool early_start = false;
};

/// A kernel made runnable on one device.
class LoadedKernel {
 public:
  virtual ~LoadedKernel() = default;
  /// Launches asynchronously on `stream` (null: the device's default stream).
  virtual void launch(Dim3 grid, Dim3 block, std::span<const KernelArg> args, Stream* stream,
                      LaunchOptions options = {}) = 0;
  /// What the device's loader reported while making the kernel runnable (CUDA: the JIT's info
  /// log; empty elsewhere).
  virtual std::string load_log() const { return {}; }
};

class Device {
 public:
  Device();
  virtual ~Device() = default;
  /// A number no other Device of this process has had (addresses are reused; serials are not).
  uint64_t serial() const { return serial_; }
  virtual DeviceKind kind() const = 0;
  /// The target whose code (GPU) or lane layouts (emulator) this device runs.
  virtual Target target() const = 0;
  virtual std::string name() const = 0;
  /// Compute units that run workgroups concurrently (SMs, CUs, emulator
  /// workers), for sizing persistent grids; 1 when the device does not say.
  virtual uint32_t compute_units() const { return 1; }

  virtual DevicePtr alloc(size_t bytes) = 0;
  virtual void free(DevicePtr ptr) = 0;
  virtual void copy_to_device(DevicePtr dst, const void* src, size_t bytes) = 0;
  virtual void copy_to_host(void* dst, DevicePtr src, size_t bytes) = 0;
  virtual void copy_device_to_device(DevicePtr dst, DevicePtr src, size_t bytes) = 0;
  virtual void memset(DevicePtr dst, uint8_t value, size_t bytes) = 0;
  /// memset ordered on `stream` (null: the default stream); may return before it is done.
  /// Devices without streams of their own do it at once.
  virtual void memset_async(DevicePtr dst, uint8_t value, size_t bytes, Stream* stream);
  virtual void synchronize() = 0;

  virtual std::unique_ptr<Stream> create_stream() = 0;
  virtual std::unique_ptr<Event> create_event() = 0;
  /// Records the work that `work` enqueues on `stream` (kernel launches, memset_async) into a
  /// graph; nothing runs during the capture. CUDA: stream capture. Other devices replay `work`
  /// itself on each launch, so the result is the same and only the launch cost differs.
  virtual std::unique_ptr<Graph> capture(Stream& stream, std::function<void()> work);

  /// True when kernels must be compiled to `CompiledCode` before `load`.
  virtual bool needs_code() const { return kind() != DeviceKind::Emulator; }
  /// Makes a kernel runnable. GPUs load `code`; the emulator runs `fn` itself.
  virtual std::unique_ptr<LoadedKernel> load(const ir::Function& fn, const CompiledCode* code) = 0;

 private:
  uint64_t serial_;
};

}  // namespace tilejit
