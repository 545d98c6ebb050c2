// HIP Device: memory, streams, events, HSACO modules and launches (static LDS only).
#include "backend/runtime/hip_device.h"

#include <fmt/format.h>

#include <array>
#include <vector>

#include "backend/runtime/hip_api.h"
#include "backend/runtime/last_kernel.h"
#include "backend/runtime/launch_args.h"
#include "backend/runtime/no_device.h"
#include "dsl/error.h"

namespace tilejit::hip {

namespace {

// Errors a kernel's fault leaves behind: hipErrorLaunchFailure (719), illegal
// address (700) and the like surface at the next synchronizing call.
bool is_execution_error(hipError_t r) { return r >= 700 && r <= 719; }

// One device and what every object made from it shares.
struct Context {
  const Api& api;
  DeviceInfo info;
  LastKernel last;  // on the whole device

  explicit Context(const Api& a) : api(a) {}
  void bind() const { check(api, api.hipSetDevice(info.ordinal), "hipSetDevice"); }
  void bind_quietly() const { api.hipSetDevice(info.ordinal); }
  void check_async(hipError_t r, std::string_view call, const LastKernel& lk, const char* where,
                   bool always_note) const {
    if (r == hipSuccess) return;
    check(api, r, call, (always_note || is_execution_error(r)) ? lk.note(where) : std::string());
  }
};

class HipStream final : public Stream {
 public:
  explicit HipStream(std::shared_ptr<Context> c) : c_(std::move(c)) {
    c_->bind();
    check(c_->api, c_->api.hipStreamCreate(&s_), "hipStreamCreate");
  }
  ~HipStream() override {
    c_->bind_quietly();
    c_->api.hipStreamDestroy(s_);
  }
  void synchronize() override {
    c_->bind();
    c_->check_async(c_->api.hipStreamSynchronize(s_), "hipStreamSynchronize", last,
                    "on this stream", true);
  }
  void* native() const override { return s_; }
  const Context* context() const { return c_.get(); }

  LastKernel last;

 private:
  std::shared_ptr<Context> c_;
  hipStream_t s_ = nullptr;
};

class HipEvent final : public Event {
 public:
  explicit HipEvent(std::shared_ptr<Context> c) : c_(std::move(c)) {
    c_->bind();
    check(c_->api, c_->api.hipEventCreate(&e_), "hipEventCreate");
  }
  ~HipEvent() override {
    c_->bind_quietly();
    c_->api.hipEventDestroy(e_);
  }
  void record(Stream* stream) override {
    c_->bind();
    hipStream_t s = stream ? static_cast<hipStream_t>(stream->native()) : nullptr;
    c_->check_async(c_->api.hipEventRecord(e_, s), "hipEventRecord", c_->last, "on this device",
                    false);
  }
  void synchronize() override {
    c_->bind();
    c_->check_async(c_->api.hipEventSynchronize(e_), "hipEventSynchronize", c_->last,
                    "on this device", false);
  }
  float elapsed_ms_since(const Event& start) const override {
    auto* s = dynamic_cast<const HipEvent*>(&start);
    if (!s || s->c_ != c_)
      throw UserError("elapsed_ms_since: both events must come from the same HIP device");
    c_->bind();
    float ms = 0;
    check(c_->api, c_->api.hipEventElapsedTime(&ms, s->e_, e_), "hipEventElapsedTime");
    return ms;
  }

 private:
  std::shared_ptr<Context> c_;
  hipEvent_t e_ = nullptr;
};

class HipKernel final : public LoadedKernel {
 public:
  HipKernel(std::shared_ptr<Context> c, const ir::Function& fn, const CompiledCode& code)
      : c_(std::move(c)),
        name_(std::make_shared<const std::string>(fn.name.empty() ? code.symbol : fn.name)),
        params_(fn.params) {
    std::copy(std::begin(fn.block_size), std::end(fn.block_size), declared_);
    const Api& a = c_->api;
    // gfx950 kernels allocate LDS statically (the code object declares it).
    uint64_t shared = fn.shared_bytes();
    uint32_t lds_limit = target_info(Target::Gfx950).max_shared_bytes;
    if (shared > lds_limit)
      throw OutOfResources(fmt::format(
          "kernel '{}' needs {} bytes of LDS; gfx950 allows at most {} bytes per workgroup",
          *name_, shared, lds_limit));
    if (code.symbol.empty())
      throw UserError(fmt::format("kernel '{}': the compiled code names no entry symbol", *name_));
    if (code.binary.empty())
      throw UserError(fmt::format("kernel '{}': the compiled code object is empty", *name_));
    c_->bind();
    check(a, a.hipModuleLoadData(&module_, code.binary.data()),
          fmt::format("hipModuleLoadData for kernel '{}' ({} bytes of HSACO)", *name_,
                      code.binary.size()));
    hipError_t r = a.hipModuleGetFunction(&fn_, module_, code.symbol.c_str());
    if (r != hipSuccess) {
      a.hipModuleUnload(module_);
      check(a, r, fmt::format("hipModuleGetFunction('{}') for kernel '{}'", code.symbol, *name_));
    }
  }
  ~HipKernel() override {
    c_->bind_quietly();
    c_->api.hipModuleUnload(module_);
  }

  void launch(Dim3 grid, Dim3 block, std::span<const KernelArg> args, Stream* stream, LaunchOptions) override {
    check_launch_geometry(*name_, declared_, grid, block, uint64_t(c_->info.max_block_threads));
    HipStream* hs = nullptr;
    if (stream) {
      hs = dynamic_cast<HipStream*>(stream);
      if (!hs || hs->context() != c_.get())
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
    hipStream_t s = hs ? static_cast<hipStream_t>(hs->native()) : nullptr;
    hipError_t r = a.hipModuleLaunchKernel(fn_, grid.x, grid.y, grid.z, block.x, block.y, block.z,
                                           0, s, pointers, nullptr);
    if (r != hipSuccess)
      c_->check_async(r,
                      fmt::format("hipModuleLaunchKernel of kernel '{}' (grid {}, block {})",
                                  *name_, format_dim3(grid), format_dim3(block)),
                      c_->last, "before it", false);
    c_->last.set(name_);
    if (hs) hs->last.set(name_);
  }

 private:
  std::shared_ptr<Context> c_;
  KernelName name_;
  std::vector<ir::Param> params_;
  uint32_t declared_[3] = {0, 0, 0};
  hipModule_t module_ = nullptr;
  hipFunction_t fn_ = nullptr;
};

void* as_ptr(DevicePtr p) { return reinterpret_cast<void*>(uintptr_t(p)); }

class HipDevice final : public Device {
 public:
  explicit HipDevice(std::shared_ptr<Context> c) : c_(std::move(c)) {}

  DeviceKind kind() const override { return DeviceKind::Hip; }
  Target target() const override { return Target::Gfx950; }
  std::string name() const override { return c_->info.name; }
  uint32_t compute_units() const override { return uint32_t(c_->info.cu_count); }
  const DeviceInfo& info() const { return c_->info; }

  DevicePtr alloc(size_t bytes) override {
    if (bytes == 0) return 0;
    c_->bind();
    void* p = nullptr;
    c_->check_async(c_->api.hipMalloc(&p, bytes), fmt::format("hipMalloc of {} bytes", bytes),
                    c_->last, "on this device", false);
    return DevicePtr(reinterpret_cast<uintptr_t>(p));
  }
  void free(DevicePtr ptr) override {
    if (ptr == 0) return;
    c_->bind();
    c_->check_async(c_->api.hipFree(as_ptr(ptr)), "hipFree", c_->last, "on this device", false);
  }
  void copy_to_device(DevicePtr dst, const void* src, size_t bytes) override {
    copy(as_ptr(dst), src, bytes, hipMemcpyHostToDevice, "host to device");
  }
  void copy_to_host(void* dst, DevicePtr src, size_t bytes) override {
    copy(dst, as_ptr(src), bytes, hipMemcpyDeviceToHost, "device to host");
  }
  void copy_device_to_device(DevicePtr dst, DevicePtr src, size_t bytes) override {
    copy(as_ptr(dst), as_ptr(src), bytes, hipMemcpyDeviceToDevice, "device to device");
  }
  void memset(DevicePtr dst, uint8_t value, size_t bytes) override {
    if (bytes == 0) return;
    c_->bind();
    c_->check_async(c_->api.hipMemset(as_ptr(dst), value, bytes),
                    fmt::format("hipMemset of {} bytes", bytes), c_->last, "on this device", false);
  }
  void synchronize() override {
    c_->bind();
    c_->check_async(c_->api.hipDeviceSynchronize(), "hipDeviceSynchronize", c_->last,
                    "on this device", true);
  }
  std::unique_ptr<Stream> create_stream() override { return std::make_unique<HipStream>(c_); }
  std::unique_ptr<Event> create_event() override { return std::make_unique<HipEvent>(c_); }

  std::unique_ptr<LoadedKernel> load(const ir::Function& fn, const CompiledCode* code) override {
    if (!code)
      throw UserError(fmt::format(
          "the HIP device runs compiled code: load() of kernel '{}' needs its HSACO", fn.name));
    if (code->target != Target::Gfx950)
      throw UserError(fmt::format("kernel '{}' was compiled for {}, the HIP device runs gfx950",
                                  fn.name, target_info(code->target).name));
    return std::make_unique<HipKernel>(c_, fn, *code);
  }

 private:
  void copy(void* dst, const void* src, size_t bytes, int kind, const char* what) {
    if (bytes == 0) return;
    c_->bind();
    c_->check_async(c_->api.hipMemcpy(dst, src, bytes, kind),
                    fmt::format("hipMemcpy {} of {} bytes", what, bytes), c_->last,
                    "on this device", false);
  }

  std::shared_ptr<Context> c_;
};

}  // namespace

std::unique_ptr<Device> open_device(int ordinal) {
  const Api& a = api();  // NoDeviceError when libamdhip64 is missing
  auto fail = [&](const std::string& why) { return NoDeviceError("HIP", a.library, why); };
  if (hipError_t r = a.hipInit(0); r != hipSuccess) {
    a.hipGetLastError();
    throw fail("hipInit: " + describe(a, r));
  }
  int count = 0;
  if (hipError_t r = a.hipGetDeviceCount(&count); r != hipSuccess) {
    a.hipGetLastError();
    throw fail("hipGetDeviceCount: " + describe(a, r));
  }
  if (count == 0) throw fail("the runtime reports no HIP device");
  if (ordinal < 0 || ordinal >= count)
    throw fail(fmt::format("device {} was asked for; the runtime reports {} device(s)", ordinal,
                           count));

  auto c = std::make_shared<Context>(a);
  c->info.ordinal = ordinal;
  std::array<char, 256> name{};
  check(a, a.hipDeviceGetName(name.data(), int(name.size() - 1), ordinal), "hipDeviceGetName");
  c->info.name = name.data();
  auto attr = [&](int which, const char* what) {
    int v = 0;
    check(a, a.hipDeviceGetAttribute(&v, which, ordinal),
          fmt::format("hipDeviceGetAttribute({})", what));
    return v;
  };
  c->info.cu_count = attr(hipDeviceAttributeMultiprocessorCount, "MultiprocessorCount");
  c->info.gfx_major = attr(hipDeviceAttributeComputeCapabilityMajor, "ComputeCapabilityMajor");
  c->info.gfx_minor = attr(hipDeviceAttributeComputeCapabilityMinor, "ComputeCapabilityMinor");
  c->info.max_block_threads = attr(hipDeviceAttributeMaxThreadsPerBlock, "MaxThreadsPerBlock");
  if (c->info.gfx_major != 9 || c->info.gfx_minor != 5)
    throw fail(fmt::format("device {} ({}) reports gfx {}.{}; tilejit needs gfx950", ordinal,
                           c->info.name, c->info.gfx_major, c->info.gfx_minor));
  c->bind();
  return std::make_unique<HipDevice>(std::move(c));
}

const DeviceInfo* device_info(const Device& device) {
  auto* d = dynamic_cast<const HipDevice*>(&device);
  return d ? &d->info() : nullptr;
}

}  // namespace tilejit::hip
