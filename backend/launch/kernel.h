// Compiling a kernel for a device and launching it: the runtime API users call.
#pragma once
#include <bit>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "backend/launch/buffer.h"
#include "backend/runtime/cache.h"
#include "backend/runtime/device.h"
#include "dsl/kernel.h"

namespace tilejit {

/// A raw device address passed to a pointer parameter.
struct RawPtr {
  DevicePtr address = 0;
};

/// What compiling one kernel did (for logs, dumps and benchmarks).
struct CompileInfo {
  double trace_ms = 0;        // tracing + verification
  double compile_ms = 0;      // LLVM (0 on a cache hit and on the emulator)
  double load_ms = 0;         // module load on the device
  bool disk_hit = false;      // code came from the disk cache
  bool trace_skipped = false; // loaded by its trace key without tracing (trace_ms: the lookup)
  bool memory_hit = false;    // the whole Kernel came from this process's memory (then the
                              // times are those of the compile that made it)
  std::string ir_hash;        // stable hash of the IR
  std::string resources_json; // gfx950 resource report (empty elsewhere)
  /// What the device's loader reported (CUDA: the JIT's verbose log: registers, spills,
  /// advisories). Empty on the emulator and on HIP, and when the CUDA driver took the kernel from
  /// its own compute cache (the JIT did not run; CUDA_CACHE_DISABLE=1 turns that cache off).
  std::string load_log;
  /// The lines of load_log that report lost performance (serialized wgmma, injected waits; see
  /// performance_advisories()). compile() also prints them to stderr as a warning.
  std::vector<std::string> performance_advisories;
};

/// Options for compile(); part of the cache key.
struct CompileOptions {
  int opt_level = 3;
};

/// A kernel compiled for one device. Copies share the compiled code.
class Kernel {
 public:
  const std::string& name() const;
  Device& device() const;
  /// The IR the device runs (traced for the device's target; a kernel loaded by its trace key,
  /// see KernelOptions::trace_key, is traced on the first call).
  const ir::Function& ir() const;
  const CompileInfo& info() const;

  /// Launches on the device's default stream; arguments are Buffer<T>, RawPtr, or C++ scalars
  /// matching the kernel's parameters (checked: a mismatch is a UserError naming the parameter).
  template <class... A>
  void launch(Dim3 grid, Dim3 block, const A&... args) const {
    launch_on(nullptr, grid, block, args...);
  }
  template <class... A>
  void launch_on(Stream* stream, Dim3 grid, Dim3 block, const A&... args) const {
    launch_with(stream, {}, grid, block, args...);
  }
  /// launch_on with LaunchOptions (e.g. early_start: see LaunchOptions).
  template <class... A>
  void launch_with(Stream* stream, LaunchOptions options, Dim3 grid, Dim3 block, const A&... args) const {
    std::vector<KernelArg> v;
    v.reserve(sizeof...(A));
    size_t i = 0;
    (v.push_back(to_arg(i++, args)), ...);
    launch_args(grid, block, v, stream, options);
  }
  /// Launch with prepared arguments (types are checked against the parameters).
  void launch_args(Dim3 grid, Dim3 block, std::span<const KernelArg> args, Stream* stream,
                   LaunchOptions options = {}) const;

  struct Impl;
  Kernel(std::shared_ptr<const Impl> impl, bool from_memory) : impl_(std::move(impl)), from_memory_(from_memory) {}

 private:
  enum class HostKind { Pointer, Int, Float, Bool };
  KernelArg make_arg(size_t index, HostKind kind, size_t elem_bytes, uint64_t bits) const;
  template <class T>
  KernelArg to_arg(size_t index, const Buffer<T>& b) const { return make_arg(index, HostKind::Pointer, sizeof(T), b.ptr()); }
  KernelArg to_arg(size_t index, const RawPtr& p) const { return make_arg(index, HostKind::Pointer, 0, p.address); }
  template <class T>
  KernelArg to_arg(size_t index, const T& v) const {
    static_assert(std::is_arithmetic_v<T>, "kernel arguments are Buffer<T>, RawPtr or arithmetic scalars");
    if constexpr (std::is_same_v<T, bool>) return make_arg(index, HostKind::Bool, 1, v);
    else if constexpr (std::is_same_v<T, float>) return make_arg(index, HostKind::Float, 4, std::bit_cast<uint32_t>(v));
    else if constexpr (std::is_same_v<T, double>) return make_arg(index, HostKind::Float, 8, std::bit_cast<uint64_t>(v));
    else return make_arg(index, HostKind::Int, sizeof(T), uint64_t(int64_t(v)));
  }
  std::shared_ptr<const Impl> impl_;
  bool from_memory_ = false;  // returned by a later compile() of the same kernel (info().memory_hit)
};

/// Traces `def` for the device's target, verifies it, compiles it (GPU targets; through the
/// memory and disk caches) and loads it. A second call with the same kernel, device and
/// options returns the same Kernel from memory.
/// A kernel with a trace key (KernelOptions::trace_key) is found on disk without tracing it:
/// the first compile also keeps the code, the launch stub and the IR hash under
/// trace_cache_key(); later processes load from there.
Kernel compile(const KernelDef& def, Device& device, const CompileOptions& options = {});

/// The kernel cache key under which compile() finds `def` without tracing it, or empty when it
/// traces (no trace key, TILEJIT_DUMP set, or a libtilejit without a build id).
std::string trace_cache_key(const KernelDef& def, Target target, const CompileOptions& options = {});
/// The entry compile() keeps under trace_cache_key(): the code and resources of `compiled`, the
/// launch stub of `fn` and the stable hash of its IR, without the dump texts.
CompiledEntry trace_key_entry(const CompiledEntry& compiled, const ir::Function& fn, std::string ir_hash);

}  // namespace tilejit
