// CUDA Device: primary context, memory, streams, events, PTX modules (JIT logs) and launches.
#include "backend/runtime/cuda_device.h"

#include <fmt/format.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "backend/runtime/cuda_api.h"
#include "backend/runtime/last_kernel.h"
#include "backend/runtime/launch_args.h"
#include "backend/runtime/no_device.h"
#include "dsl/error.h"

namespace tilejit::cuda {

namespace {

constexpr unsigned kStaticSharedLimit = 48 * 1024;  // above this a kernel must opt in

// Errors that a kernel's fault or a failed launch leaves in the context; they
// surface at the next synchronizing call, so the message names the last kernel.
bool is_execution_error(CUresult r) { return r >= 700 && r <= 719; }

// One device's primary context and what every object made from it shares.
struct Context {
  const Api& api;
  CUdevice dev = 0;
  CUcontext ctx = nullptr;
  DeviceInfo info;
  LastKernel last;  // on the whole device

  explicit Context(const Api& a) : api(a) {}
  ~Context() {
    if (ctx) api.cuDevicePrimaryCtxRelease_v2(dev);
  }
  void bind() const { check(api, api.cuCtxSetCurrent(ctx), "cuCtxSetCurrent"); }
  // Binds without throwing (destructors).
  void bind_quietly() const { api.cuCtxSetCurrent(ctx); }
  // Checks a call that may report an earlier kernel's fault.
  void check_async(CUresult r, std::string_view call, const LastKernel& lk, const char* where,
                   bool always_note) const {
    if (r == CUDA_SUCCESS) return;
    check(api, r, call, (always_note || is_execution_error(r)) ? lk.note(where) : std::string());
  }
};

class CudaStream final : public Stream {
 public:
  explicit CudaStream(std::shared_ptr<Context> c) : c_(std::move(c)) {
    c_->bind();
    check(c_->api, c_->api.cuStreamCreate(&s_, 0), "cuStreamCreate");
  }
  ~CudaStream() override {
    c_->bind_quietly();
    c_->api.cuStreamDestroy_v2(s_);
  }
  void synchronize() override {
    c_->bind();
    c_->check_async(c_->api.cuStreamSynchronize(s_), "cuStreamSynchronize", last, "on this stream",
                    true);
  }
  void* native() const override { return s_; }
  const Context* context() const { return c_.get(); }

  LastKernel last;

 private:
  std::shared_ptr<Context> c_;
  CUstream s_ = nullptr;
};

class CudaEvent final : public Event {
 public:
  explicit CudaEvent(std::shared_ptr<Context> c) : c_(std::move(c)) {
    c_->bind();
    check(c_->api, c_->api.cuEventCreate(&e_, 0), "cuEventCreate");
  }
  ~CudaEvent() override {
    c_->bind_quietly();
    c_->api.cuEventDestroy_v2(e_);
  }
  void record(Stream* stream) override {
    c_->bind();
    CUstream s = stream ? static_cast<CUstream>(stream->native()) : nullptr;
    c_->check_async(c_->api.cuEventRecord(e_, s), "cuEventRecord", c_->last, "on this device",
                    false);
  }
  void synchronize() override {
    c_->bind();
    c_->check_async(c_->api.cuEventSynchronize(e_), "cuEventSynchronize", c_->last,
                    "on this device", false);
  }
  float elapsed_ms_since(const Event& start) const override {
    auto* s = dynamic_cast<const CudaEvent*>(&start);
    if (!s || s->c_ != c_)
      throw UserError("elapsed_ms_since: both events must come from the same CUDA device");
    c_->bind();
    float ms = 0;
    check(c_->api, c_->api.cuEventElapsedTime(&ms, s->e_, e_), "cuEventElapsedTime");
    return ms;
  }

 private:
  std::shared_ptr<Context> c_;
  CUevent e_ = nullptr;
};

// An instantiated graph; launches go to the given stream or the one it was captured from.
class CudaGraph final : public Graph {
 public:
  CudaGraph(std::shared_ptr<Context> c, CUgraph g, CUgraphExec exec, CudaStream* home)
      : c_(std::move(c)), g_(g), exec_(exec), home_(home) {}
  ~CudaGraph() override {
    c_->bind_quietly();
    c_->api.cuGraphExecDestroy(exec_);
    c_->api.cuGraphDestroy(g_);
  }
  void launch(Stream* stream) override {
    CudaStream* cs = stream ? dynamic_cast<CudaStream*>(stream) : home_;
    if (!cs || cs->context() != c_.get()) throw UserError("a CUDA graph launched on a stream of another device");
    c_->bind();
    c_->check_async(c_->api.cuGraphLaunch(exec_, static_cast<CUstream>(cs->native())), "cuGraphLaunch", c_->last,
                    "before it", false);
  }

 private:
  std::shared_ptr<Context> c_;
  CUgraph g_;
  CUgraphExec exec_;
  CudaStream* home_;
};

class CudaKernel final : public LoadedKernel {
 public:
  CudaKernel(std::shared_ptr<Context> c, const ir::Function& fn, const CompiledCode& code)
      : c_(std::move(c)),
        name_(std::make_shared<const std::string>(fn.name.empty() ? code.symbol : fn.name)),
        params_(fn.params) {
    std::copy(std::begin(fn.block_size), std::end(fn.block_size), declared_);
    const Api& a = c_->api;
    uint64_t shared = fn.shared_bytes();
    if (shared > uint64_t(c_->info.max_shared_optin))
      throw OutOfResources(fmt::format(
          "kernel '{}' needs {} bytes of shared memory; {} allows at most {} bytes per block",
          *name_, shared, c_->info.name, c_->info.max_shared_optin));
    shared_ = unsigned(shared);
    if (code.symbol.empty())
      throw UserError(fmt::format("kernel '{}': the compiled code names no entry symbol", *name_));

    // PTX must be NUL-terminated; std::string adds the terminator.
    std::string ptx(code.binary.begin(), code.binary.end());
    std::vector<char> error_log(32 * 1024, '\0'), info_log(32 * 1024, '\0');
    // The verbose log (registers, spills, performance advisories such as serialized wgmma) is
    // kept (load_log()); TILEJIT_JIT_LOG=1 also prints it to stderr for every module loaded.
    std::vector<CUjit_option> options{CU_JIT_ERROR_LOG_BUFFER, CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                                      CU_JIT_INFO_LOG_BUFFER, CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, CU_JIT_LOG_VERBOSE};
    std::vector<void*> values{error_log.data(), reinterpret_cast<void*>(uintptr_t(error_log.size() - 1)),
                              info_log.data(), reinterpret_cast<void*>(uintptr_t(info_log.size() - 1)),
                              reinterpret_cast<void*>(uintptr_t(1))};
    const char* log_env = std::getenv("TILEJIT_JIT_LOG");
    const bool print_log = log_env && *log_env && std::string_view(log_env) != "0";
    c_->bind();
    CUresult r = a.cuModuleLoadDataEx(&module_, ptx.c_str(), unsigned(options.size()),
                                      options.data(), values.data());
    if (r != CUDA_SUCCESS) {
      std::string err(error_log.data(), strnlen(error_log.data(), error_log.size()));
      std::string info(info_log.data(), strnlen(info_log.data(), info_log.size()));
      std::string logs;
      if (!err.empty()) logs += "\nJIT error log:\n" + err;
      if (!info.empty()) logs += "\nJIT info log:\n" + info;
      if (logs.empty()) logs = " (the JIT wrote no log)";
      throw RuntimeError(fmt::format("cuModuleLoadDataEx for kernel '{}' failed: {}{}", *name_,
                                     describe(a, r), logs));
    }
    load_log_.assign(info_log.data(), strnlen(info_log.data(), info_log.size()));
    if (print_log) std::fprintf(stderr, "tilejit: JIT log of kernel '%s':\n%s\n", name_->c_str(), load_log_.c_str());
    try {
      check(a, a.cuModuleGetFunction(&fn_, module_, code.symbol.c_str()),
            fmt::format("cuModuleGetFunction('{}') for kernel '{}'", code.symbol, *name_));
      if (shared_ > kStaticSharedLimit)
        check(a, a.cuFuncSetAttribute(fn_, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                                      int(shared_)),
              fmt::format("cuFuncSetAttribute(MAX_DYNAMIC_SHARED_SIZE_BYTES, {}) for kernel '{}'",
                          shared_, *name_));
      check(a, a.cuFuncGetAttribute(&max_threads_, CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK, fn_),
            fmt::format("cuFuncGetAttribute(MAX_THREADS_PER_BLOCK) for kernel '{}'", *name_));
    } catch (...) {
      a.cuModuleUnload(module_);
      throw;
    }
  }
  ~CudaKernel() override {
    c_->bind_quietly();
    c_->api.cuModuleUnload(module_);
  }

  void launch(Dim3 grid, Dim3 block, std::span<const KernelArg> args, Stream* stream,
              LaunchOptions options) override {
    check_launch_geometry(*name_, declared_, grid, block, uint64_t(max_threads_));
    CudaStream* cs = nullptr;
    if (stream) {
      cs = dynamic_cast<CudaStream*>(stream);
      if (!cs || cs->context() != c_.get())
        throw UserError(fmt::format("kernel '{}' launched on a stream of another device", *name_));
    }
    constexpr size_t kInline = 32;
    std::array<uint64_t, kInline> slots_inline;
    std::array<void*, kInline> pointers_inline;
    std::vector<uint64_t> slots_heap;
    std::vector<void*> pointers_heap;
    uint64_t* slots = slots_inline.data();
    void** pointers = pointers_inline.data();
    if (params_.size() > kInline) {
      slots_heap.resize(params_.size());
      pointers_heap.resize(params_.size());
      slots = slots_heap.data();
      pointers = pointers_heap.data();
    }
    pack_kernel_args(*name_, params_, args, slots, pointers);

    const Api& a = c_->api;
    c_->bind();
    CUstream s = cs ? static_cast<CUstream>(cs->native()) : nullptr;
    CUresult r;
    if (options.early_start) {
      CUlaunchAttribute early{};
      early.id = CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
      early.value.programmatic_stream_serialization_allowed = 1;
      CUlaunchConfig config{grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_, s, &early, 1};
      r = a.cuLaunchKernelEx(&config, fn_, pointers, nullptr);
    } else {
      r = a.cuLaunchKernel(fn_, grid.x, grid.y, grid.z, block.x, block.y, block.z, shared_, s, pointers, nullptr);
    }
    if (r != CUDA_SUCCESS)
      c_->check_async(r,
                      fmt::format("{} of kernel '{}' (grid {}, block {}, {} bytes of "
                                  "dynamic shared memory)",
                                  options.early_start ? "cuLaunchKernelEx (early start)" : "cuLaunchKernel",
                                  *name_, format_dim3(grid), format_dim3(block), shared_),
                      c_->last, "before it", false);
    c_->last.set(name_);
    if (cs) cs->last.set(name_);
  }

  std::string load_log() const override { return load_log_; }

 private:
  std::shared_ptr<Context> c_;
  KernelName name_;
  std::vector<ir::Param> params_;
  uint32_t declared_[3] = {0, 0, 0};
  unsigned shared_ = 0;
  int max_threads_ = 0;
  std::string load_log_;  // the JIT's info log
  CUmodule module_ = nullptr;
  CUfunction fn_ = nullptr;
};

class CudaDevice final : public Device {
 public:
  explicit CudaDevice(std::shared_ptr<Context> c) : c_(std::move(c)) {}

  DeviceKind kind() const override { return DeviceKind::Cuda; }
  Target target() const override { return Target::Sm90a; }
  std::string name() const override { return c_->info.name; }
  uint32_t compute_units() const override { return uint32_t(c_->info.sm_count); }
  const DeviceInfo& info() const { return c_->info; }

  DevicePtr alloc(size_t bytes) override {
    if (bytes == 0) return 0;
    c_->bind();
    CUdeviceptr p = 0;
    c_->check_async(c_->api.cuMemAlloc_v2(&p, bytes),
                    fmt::format("cuMemAlloc_v2 of {} bytes", bytes), c_->last, "on this device",
                    false);
    return p;
  }
  void free(DevicePtr ptr) override {
    if (ptr == 0) return;
    c_->bind();
    c_->check_async(c_->api.cuMemFree_v2(ptr), "cuMemFree_v2", c_->last, "on this device", false);
  }
  void copy_to_device(DevicePtr dst, const void* src, size_t bytes) override {
    if (bytes == 0) return;
    c_->bind();
    c_->check_async(c_->api.cuMemcpyHtoD_v2(dst, src, bytes),
                    fmt::format("cuMemcpyHtoD_v2 of {} bytes", bytes), c_->last, "on this device",
                    false);
  }
  void copy_to_host(void* dst, DevicePtr src, size_t bytes) override {
    if (bytes == 0) return;
    c_->bind();
    c_->check_async(c_->api.cuMemcpyDtoH_v2(dst, src, bytes),
                    fmt::format("cuMemcpyDtoH_v2 of {} bytes", bytes), c_->last, "on this device",
                    false);
  }
  void copy_device_to_device(DevicePtr dst, DevicePtr src, size_t bytes) override {
    if (bytes == 0) return;
    c_->bind();
    c_->check_async(c_->api.cuMemcpyDtoD_v2(dst, src, bytes),
                    fmt::format("cuMemcpyDtoD_v2 of {} bytes", bytes), c_->last, "on this device",
                    false);
  }
  void memset(DevicePtr dst, uint8_t value, size_t bytes) override {
    if (bytes == 0) return;
    c_->bind();
    c_->check_async(c_->api.cuMemsetD8_v2(dst, value, bytes),
                    fmt::format("cuMemsetD8_v2 of {} bytes", bytes), c_->last, "on this device",
                    false);
  }
  void memset_async(DevicePtr dst, uint8_t value, size_t bytes, Stream* stream) override {
    if (bytes == 0) return;
    c_->bind();
    CUstream s = stream ? static_cast<CUstream>(own(*stream, "memset_async").native()) : nullptr;
    c_->check_async(c_->api.cuMemsetD8Async(dst, value, bytes, s),
                    fmt::format("cuMemsetD8Async of {} bytes", bytes), c_->last, "on this device", false);
  }
  std::unique_ptr<Graph> capture(Stream& stream, std::function<void()> work) override {
    CudaStream& cs = own(stream, "capture");
    CUstream s = static_cast<CUstream>(cs.native());
    c_->bind();
    check(c_->api, c_->api.cuStreamBeginCapture_v2(s, CU_STREAM_CAPTURE_MODE_THREAD_LOCAL), "cuStreamBeginCapture");
    CUgraph g = nullptr;
    try {
      work();
    } catch (...) {
      c_->api.cuStreamEndCapture(s, &g);  // leave the stream usable
      if (g) c_->api.cuGraphDestroy(g);
      throw;
    }
    check(c_->api, c_->api.cuStreamEndCapture(s, &g), "cuStreamEndCapture",
          " (was work enqueued on another stream, or did a synchronizing call run during the capture?)");
    CUgraphExec exec = nullptr;
    if (CUresult r = c_->api.cuGraphInstantiateWithFlags(&exec, g, 0); r != CUDA_SUCCESS) {
      c_->api.cuGraphDestroy(g);
      check(c_->api, r, "cuGraphInstantiateWithFlags");
    }
    return std::make_unique<CudaGraph>(c_, g, exec, &cs);
  }
  void synchronize() override {
    c_->bind();
    c_->check_async(c_->api.cuCtxSynchronize(), "cuCtxSynchronize", c_->last, "on this device",
                    true);
  }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<CudaStream>(c_); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<CudaEvent>(c_); }

  std::unique_ptr<LoadedKernel> load(const ir::Function& fn, const CompiledCode* code) override {
    if (!code)
      throw UserError(fmt::format(
          "the CUDA device runs compiled code: load() of kernel '{}' needs its PTX", fn.name));
    if (code->target != Target::Sm90a)
      throw UserError(fmt::format("kernel '{}' was compiled for {}, the CUDA device runs sm_90a",
                                  fn.name, target_info(code->target).name));
    return std::make_unique<CudaKernel>(c_, fn, *code);
  }

 private:
  CudaStream& own(Stream& stream, const char* what) const {
    auto* cs = dynamic_cast<CudaStream*>(&stream);
    if (!cs || cs->context() != c_.get()) throw UserError(fmt::format("{}: the stream belongs to another device", what));
    return *cs;
  }

  std::shared_ptr<Context> c_;
};

}  // namespace

std::unique_ptr<Device> open_device(int ordinal) {
  const Api& a = api();  // NoDeviceError when libcuda is missing
  auto fail = [&](const std::string& why) { return NoDeviceError("CUDA", a.library, why); };
  if (CUresult r = a.cuInit(0); r != CUDA_SUCCESS) throw fail("cuInit: " + describe(a, r));
  int count = 0;
  if (CUresult r = a.cuDeviceGetCount(&count); r != CUDA_SUCCESS)
    throw fail("cuDeviceGetCount: " + describe(a, r));
  if (count == 0) throw fail("the driver reports no CUDA device");
  if (ordinal < 0 || ordinal >= count)
    throw fail(fmt::format("device {} was asked for; the driver reports {} device(s)", ordinal,
                           count));

  auto c = std::make_shared<Context>(a);
  c->info.ordinal = ordinal;
  check(a, a.cuDeviceGet(&c->dev, ordinal), "cuDeviceGet");
  std::array<char, 256> name{};
  check(a, a.cuDeviceGetName(name.data(), int(name.size() - 1), c->dev), "cuDeviceGetName");
  c->info.name = name.data();
  auto attr = [&](CUdevice_attribute which, const char* what) {
    int v = 0;
    check(a, a.cuDeviceGetAttribute(&v, which, c->dev), fmt::format("cuDeviceGetAttribute({})", what));
    return v;
  };
  c->info.sm_count = attr(CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, "MULTIPROCESSOR_COUNT");
  c->info.cc_major = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, "COMPUTE_CAPABILITY_MAJOR");
  c->info.cc_minor = attr(CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, "COMPUTE_CAPABILITY_MINOR");
  c->info.max_shared_optin =
      attr(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, "MAX_SHARED_MEMORY_PER_BLOCK_OPTIN");
  c->info.max_block_threads = attr(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK, "MAX_THREADS_PER_BLOCK");
  if (c->info.cc_major != 9 || c->info.cc_minor != 0)
    throw fail(fmt::format("device {} ({}) has compute capability {}.{}; tilejit needs sm_90 "
                           "(compute capability 9.0, code for sm_90a)",
                           ordinal, c->info.name, c->info.cc_major, c->info.cc_minor));
  check(a, a.cuDevicePrimaryCtxRetain(&c->ctx, c->dev), "cuDevicePrimaryCtxRetain");
  c->bind();
  return std::make_unique<CudaDevice>(std::move(c));
}

const DeviceInfo* device_info(const Device& device) {
  auto* d = dynamic_cast<const CudaDevice*>(&device);
  return d ? &d->info() : nullptr;
}

}  // namespace tilejit::cuda
