// GPU tests of the drivers: memory round trips, events, hand-written PTX modules, faults, JIT logs.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "backend/runtime/cuda_device.h"
#include "backend/runtime/hip_device.h"
#include "backend/runtime/no_device.h"
#include "dsl/error.h"
#include "test_support.h"

namespace tilejit {
namespace {

using ir::AddrSpace;
using ir::Scalar;
using ir::Type;

// Opens the first GPU (CUDA, then HIP); skips the test with the reasons when there is none.
class Gpu : public testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    try {
      dev_ = cuda::open_device(0);
      return;
    } catch (const RuntimeError& e) {
      why = e.what();
    }
    try {
      dev_ = hip::open_device(0);
      return;
    } catch (const RuntimeError& e) {
      why += "; ";
      why += e.what();
    }
    GTEST_SKIP() << "no GPU device found: " << why;
  }
  void need_cuda() {
    if (dev_->kind() != DeviceKind::Cuda) GTEST_SKIP() << "hand-written PTX needs a CUDA device";
  }
  std::unique_ptr<Device> dev_;
};

// A kernel's signature for load(): name, parameters and optionally shared memory.
ir::Function signature(std::string name, std::vector<ir::Param> params, int64_t shared_f32s = 0) {
  ir::Function fn;
  fn.name = std::move(name);
  fn.params = std::move(params);
  if (shared_f32s > 0) {
    ir::Op op;
    op.code = ir::OpCode::SharedAlloc;
    op.result = fn.new_value(Type::pointer(Scalar::F32, AddrSpace::Shared));
    op.attrs = {shared_f32s};
    fn.body.ops.push_back(op);
  }
  return fn;
}

CompiledCode ptx_code(const std::string& symbol, const std::string& ptx) {
  CompiledCode c;
  c.target = Target::Sm90a;
  c.symbol = symbol;
  c.binary.assign(ptx.begin(), ptx.end());
  return c;
}

uint32_t f32_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

const Type kPtrF32 = Type::pointer(Scalar::F32, AddrSpace::Global);

TEST_F(Gpu, AllocCopyMemsetRoundTrip) {
  TJ_SEEDED_RNG(rng);
  const size_t n = (1 << 20) + rng() % 4096;
  std::vector<uint8_t> src(n), back(n), filled(n);
  for (auto& b : src) b = uint8_t(rng());
  DevicePtr a = dev_->alloc(n), b = dev_->alloc(n), c = dev_->alloc(n);
  ASSERT_NE(a, 0u);
  dev_->copy_to_device(a, src.data(), n);
  dev_->copy_device_to_device(b, a, n);
  const uint8_t v = uint8_t(1 + rng() % 255), w = uint8_t(1 + rng() % 255);
  const size_t off = 1 + rng() % 1000, len = 1 + rng() % (n / 2);
  dev_->memset(c, v, n);
  dev_->memset(b + off, w, len);
  std::fill(back.begin(), back.end(), uint8_t(~w));
  std::fill(filled.begin(), filled.end(), uint8_t(~v));
  dev_->copy_to_host(back.data(), b, n);
  dev_->copy_to_host(filled.data(), c, n);
  std::vector<uint8_t> want = src;
  std::fill(want.begin() + off, want.begin() + off + len, w);
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += back[i] != want[i];
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(std::count(filled.begin(), filled.end(), v), ptrdiff_t(n));
  dev_->free(a);
  dev_->free(b);
  dev_->free(c);
}

TEST_F(Gpu, OutOfMemoryIsARuntimeErrorWithTheDriversWords) {
  std::string msg;
  try {
    dev_->alloc(size_t(1) << 50);
  } catch (const RuntimeError& e) {
    msg = e.what();
  }
  EXPECT_NE(msg.find(dev_->kind() == DeviceKind::Cuda ? "cuMemAlloc_v2 of 1125899906842624 bytes failed: CUDA_ERROR_OUT_OF_MEMORY"
                                                      : "hipMalloc of 1125899906842624 bytes failed: hipErrorOutOfMemory"),
            std::string::npos)
      << msg;
}

// out[i] = in[i] * a + h + c + k for i < n, each step rounded to f32 (no contraction).
const char* kAxpbPtx = R"(
.version 8.0
.target sm_90a
.address_size 64

.visible .entry tj_axpb(
  .param .u64 p_out, .param .u64 p_in, .param .f32 p_a, .param .u32 p_n,
  .param .u16 p_h, .param .u8 p_c, .param .s64 p_k)
{
  .reg .pred %p<2>;
  .reg .b16 %rs<3>;
  .reg .b32 %r<8>;
  .reg .f32 %f<10>;
  .reg .b64 %rd<10>;
  ld.param.u64 %rd1, [p_out];
  ld.param.u64 %rd2, [p_in];
  ld.param.f32 %f1, [p_a];
  ld.param.u32 %r1, [p_n];
  ld.param.u16 %rs1, [p_h];
  ld.param.u8 %rs2, [p_c];
  ld.param.s64 %rd3, [p_k];
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mov.u32 %r4, %tid.x;
  mad.lo.s32 %r5, %r2, %r3, %r4;
  setp.ge.u32 %p1, %r5, %r1;
  @%p1 bra DONE;
  cvta.to.global.u64 %rd4, %rd1;
  cvta.to.global.u64 %rd5, %rd2;
  mul.wide.u32 %rd6, %r5, 4;
  add.s64 %rd7, %rd5, %rd6;
  ld.global.f32 %f2, [%rd7];
  mul.rn.f32 %f3, %f2, %f1;
  cvt.rn.f32.u16 %f4, %rs1;
  add.rn.f32 %f5, %f3, %f4;
  cvt.rn.f32.u16 %f6, %rs2;
  add.rn.f32 %f7, %f5, %f6;
  cvt.rn.f32.s64 %f8, %rd3;
  add.rn.f32 %f9, %f7, %f8;
  add.s64 %rd8, %rd4, %rd6;
  st.global.f32 [%rd8], %f9;
DONE:
  ret;
}
)";

TEST_F(Gpu, HandWrittenPtxLaunchesWithEveryArgumentSize) {
  need_cuda();
  TJ_SEEDED_RNG(rng);
  ir::Function fn = signature("tj_axpb", {{"out", kPtrF32},
                                          {"in", kPtrF32},
                                          {"a", Type::scalar(Scalar::F32)},
                                          {"n", Type::scalar(Scalar::I32)},
                                          {"h", Type::scalar(Scalar::I16)},
                                          {"c", Type::scalar(Scalar::I8)},
                                          {"k", Type::scalar(Scalar::I64)}});
  CompiledCode code = ptx_code("tj_axpb", kAxpbPtx);
  auto kernel = dev_->load(fn, &code);

  const uint32_t n = 10000 + rng() % 5000, pad = 64;
  std::uniform_real_distribution<float> u(-4.f, 4.f);
  std::vector<float> in(n);
  for (float& x : in) x = u(rng);
  const float a = u(rng);
  const uint16_t h = uint16_t(1 + rng() % 30000);
  const uint8_t c = uint8_t(1 + rng() % 127);
  const int64_t k = (int64_t(1) << 33) + int64_t(rng() % 100000);  // needs all 8 bytes

  DevicePtr din = dev_->alloc(n * 4), dout = dev_->alloc((n + pad) * 4);
  dev_->copy_to_device(din, in.data(), n * 4);
  dev_->memset(dout, 0xff, (n + pad) * 4);  // poison: NaN bits
  auto stream = dev_->create_stream();
  const KernelArg args[] = {{kPtrF32, dout},
                            {kPtrF32, din},
                            {Type::scalar(Scalar::F32), f32_bits(a)},
                            {Type::scalar(Scalar::I32), n},
                            {Type::scalar(Scalar::I16), h},
                            {Type::scalar(Scalar::I8), c},
                            {Type::scalar(Scalar::I64), uint64_t(k)}};
  const uint32_t block = 128;
  kernel->launch({(n + block - 1) / block, 1, 1}, {block, 1, 1}, args, stream.get());
  stream->synchronize();
  std::vector<uint32_t> out(n + pad, 0);
  dev_->copy_to_host(out.data(), dout, (n + pad) * 4);
  size_t bad = 0;
  for (uint32_t i = 0; i < n; ++i) {
    volatile float t = in[i] * a;
    t = t + float(h);
    t = t + float(c);
    t = t + float(k);
    if (out[i] != f32_bits(t) && bad++ < 5)
      ADD_FAILURE() << "out[" << i << "] bits " << std::hex << out[i] << ", want " << f32_bits(t);
  }
  EXPECT_EQ(bad, 0u);
  for (uint32_t i = n; i < n + pad; ++i) EXPECT_EQ(out[i], 0xffffffffu) << "wrote past n at " << i;

  // A wrong argument list is refused before the driver sees it.
  EXPECT_THROW(kernel->launch({1, 1, 1}, {32, 1, 1}, std::span(args, 6), nullptr), UserError);
  dev_->free(din);
  dev_->free(dout);
}

// A captured memset + kernel runs only when the graph is launched, and each launch reads the
// inputs as they are then.
TEST_F(Gpu, GraphOfMemsetAndKernelReplaysOnCurrentInputs) {
  need_cuda();
  TJ_SEEDED_RNG(rng);
  ir::Function fn = signature("tj_axpb", {{"out", kPtrF32},
                                          {"in", kPtrF32},
                                          {"a", Type::scalar(Scalar::F32)},
                                          {"n", Type::scalar(Scalar::I32)},
                                          {"h", Type::scalar(Scalar::I16)},
                                          {"c", Type::scalar(Scalar::I8)},
                                          {"k", Type::scalar(Scalar::I64)}});
  CompiledCode code = ptx_code("tj_axpb", kAxpbPtx);
  auto kernel = dev_->load(fn, &code);
  const uint32_t n = 5000 + rng() % 5000, pad = 64, block = 128;
  std::uniform_real_distribution<float> u(-4.f, 4.f);
  const float a = u(rng);
  DevicePtr din = dev_->alloc(n * 4), dout = dev_->alloc((n + pad) * 4);
  dev_->memset(dout, 0x11, (n + pad) * 4);
  dev_->synchronize();
  const KernelArg args[] = {{kPtrF32, dout}, {kPtrF32, din}, {Type::scalar(Scalar::F32), f32_bits(a)},
                            {Type::scalar(Scalar::I32), n}, {Type::scalar(Scalar::I16), 0},
                            {Type::scalar(Scalar::I8), 0},  {Type::scalar(Scalar::I64), 0}};
  auto stream = dev_->create_stream();
  auto graph = dev_->capture(*stream, [&] {
    dev_->memset_async(dout, 0xff, (n + pad) * 4, stream.get());  // poison: NaN bits
    kernel->launch({(n + block - 1) / block, 1, 1}, {block, 1, 1}, args, stream.get());
  });
  std::vector<uint32_t> out(n + pad, 0);
  dev_->copy_to_host(out.data(), dout, (n + pad) * 4);
  EXPECT_EQ(std::count(out.begin(), out.end(), 0x11111111u), std::ptrdiff_t(n + pad)) << "work ran during the capture";
  for (int round = 0; round < 2; ++round) {
    std::vector<float> in(n);
    for (float& x : in) x = u(rng);
    dev_->copy_to_device(din, in.data(), n * 4);
    graph->launch(nullptr);
    stream->synchronize();
    dev_->copy_to_host(out.data(), dout, (n + pad) * 4);
    size_t bad = 0;
    for (uint32_t i = 0; i < n; ++i) {
      volatile float t = in[i] * a;
      t = t + 0.f;  // h, c and k are 0
      if (out[i] != f32_bits(t) && bad++ < 5) ADD_FAILURE() << "round " << round << " out[" << i << "] = " << out[i];
    }
    EXPECT_EQ(bad, 0u);
    for (uint32_t i = n; i < n + pad; ++i) ASSERT_EQ(out[i], 0xffffffffu) << "the memset did not run, at " << i;
  }
  dev_->free(din);
  dev_->free(dout);
}

// Reverses each block's 256 values through dynamic shared memory at byte offset 60000.
const char* kSmemPtx = R"(
.version 8.0
.target sm_90a
.address_size 64
.extern .shared .align 16 .b8 tj_smem[];

.visible .entry tj_smem_reverse(.param .u64 p_out, .param .u64 p_in)
{
  .reg .b32 %r<12>;
  .reg .f32 %f<3>;
  .reg .b64 %rd<8>;
  ld.param.u64 %rd1, [p_out];
  ld.param.u64 %rd2, [p_in];
  cvta.to.global.u64 %rd1, %rd1;
  cvta.to.global.u64 %rd2, %rd2;
  mov.u32 %r1, %tid.x;
  mov.u32 %r2, %ctaid.x;
  mov.u32 %r3, %ntid.x;
  mad.lo.s32 %r4, %r2, %r3, %r1;
  mul.wide.u32 %rd3, %r4, 4;
  add.s64 %rd4, %rd2, %rd3;
  ld.global.f32 %f1, [%rd4];
  mov.u32 %r5, tj_smem;
  shl.b32 %r6, %r1, 2;
  add.s32 %r7, %r5, %r6;
  st.shared.f32 [%r7+60000], %f1;
  bar.sync 0;
  sub.s32 %r8, %r3, 1;
  sub.s32 %r9, %r8, %r1;
  shl.b32 %r10, %r9, 2;
  add.s32 %r11, %r5, %r10;
  ld.shared.f32 %f2, [%r11+60000];
  add.s64 %rd5, %rd1, %rd3;
  st.global.f32 [%rd5], %f2;
  ret;
}
)";

TEST_F(Gpu, DynamicSharedMemoryAbove48KiB) {
  need_cuda();
  TJ_SEEDED_RNG(rng);
  ir::Function fn = signature("tj_smem_reverse", {{"out", kPtrF32}, {"in", kPtrF32}},
                              (60000 + 256 * 4) / 4);
  ASSERT_GT(fn.shared_bytes(), 48u * 1024);
  CompiledCode code = ptx_code("tj_smem_reverse", kSmemPtx);
  auto kernel = dev_->load(fn, &code);
  const uint32_t blocks = 3 + rng() % 20, n = blocks * 256;
  std::vector<float> in(n);
  std::uniform_real_distribution<float> u(-100.f, 100.f);
  for (float& x : in) x = u(rng);
  DevicePtr din = dev_->alloc(n * 4), dout = dev_->alloc(n * 4);
  dev_->copy_to_device(din, in.data(), n * 4);
  dev_->memset(dout, 0xff, n * 4);
  const KernelArg args[] = {{kPtrF32, dout}, {kPtrF32, din}};
  kernel->launch({blocks, 1, 1}, {256, 1, 1}, args, nullptr);
  dev_->synchronize();
  std::vector<float> out(n, 0.f);
  dev_->copy_to_host(out.data(), dout, n * 4);
  size_t bad = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint32_t blk = i / 256, t = i % 256;
    bad += f32_bits(out[i]) != f32_bits(in[blk * 256 + 255 - t]);
  }
  EXPECT_EQ(bad, 0u);
  dev_->free(din);
  dev_->free(dout);
}

// Spins until %globaltimer has advanced by p_ns nanoseconds.
const char* kSpinPtx = R"(
.version 8.0
.target sm_90a
.address_size 64

.visible .entry tj_spin(.param .u64 p_ns)
{
  .reg .pred %p<2>;
  .reg .b64 %rd<6>;
  ld.param.u64 %rd1, [p_ns];
  mov.u64 %rd2, %globaltimer;
LOOP:
  mov.u64 %rd3, %globaltimer;
  sub.s64 %rd4, %rd3, %rd2;
  setp.lt.s64 %p1, %rd4, %rd1;
  @%p1 bra LOOP;
  ret;
}
)";

TEST_F(Gpu, EventsTimeAKernelOfKnownLength) {
  need_cuda();
  TJ_SEEDED_RNG(rng);
  ir::Function fn = signature("tj_spin", {{"ns", Type::scalar(Scalar::I64)}});
  CompiledCode code = ptx_code("tj_spin", kSpinPtx);
  auto kernel = dev_->load(fn, &code);
  auto stream = dev_->create_stream();
  auto start = dev_->create_event(), stop = dev_->create_event();
  const double spin_ms = 20 + rng() % 30;
  const KernelArg args[] = {{Type::scalar(Scalar::I64), uint64_t(spin_ms * 1e6)}};
  auto t0 = std::chrono::steady_clock::now();
  start->record(stream.get());
  kernel->launch({1, 1, 1}, {1, 1, 1}, args, stream.get());
  stop->record(stream.get());
  stop->synchronize();
  double host_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  float ms = stop->elapsed_ms_since(*start);
  EXPECT_GE(ms, spin_ms * 0.99);
  EXPECT_LE(ms, host_ms + 1.0);
}

TEST_F(Gpu, FaultingKernelIsNamedInTheError) {
  need_cuda();
  // The fault ruins the context, so it runs in a fresh process.
  auto body = [this] {
    const char* ptx = R"(
.version 8.0
.target sm_90a
.address_size 64

.visible .entry tj_fault_kernel(.param .u64 p)
{
  .reg .b32 %r<2>;
  .reg .b64 %rd<2>;
  ld.param.u64 %rd1, [p];
  mov.u32 %r1, 42;
  st.global.u32 [%rd1], %r1;
  ret;
}
)";
    ir::Function fn = signature("tj_fault_kernel", {{"p", Type::pointer(Scalar::I32, AddrSpace::Global)}});
    CompiledCode code = ptx_code("tj_fault_kernel", ptx);
    auto kernel = dev_->load(fn, &code);
    const KernelArg args[] = {{Type::pointer(Scalar::I32, AddrSpace::Global), 0}};
    std::string msg;
    try {
      kernel->launch({1, 1, 1}, {32, 1, 1}, args, nullptr);
      dev_->synchronize();
    } catch (const RuntimeError& e) {
      msg = e.what();
    }
    EXPECT_NE(msg.find("cuCtxSynchronize failed: CUDA_ERROR_ILLEGAL_ADDRESS"), std::string::npos) << msg;
    EXPECT_NE(msg.find("the last kernel launched on this device was 'tj_fault_kernel'"),
              std::string::npos)
        << msg;
    std::fprintf(stderr, "%s\n", msg.c_str());
  };
  TJ_IN_FRESH_PROCESS(body(), "tj_fault_kernel");
}

TEST_F(Gpu, PtxSyntaxErrorCarriesTheJitLog) {
  need_cuda();
  const char* ptx = R"(
.version 8.0
.target sm_90a
.address_size 64

.visible .entry tj_bad_ptx()
{
  .reg .b32 %r<2>;
  frobnicate.u32 %r1, 7;
  ret;
}
)";
  ir::Function fn = signature("tj_bad_ptx", {});
  CompiledCode code = ptx_code("tj_bad_ptx", ptx);
  std::string msg;
  try {
    dev_->load(fn, &code);
  } catch (const RuntimeError& e) {
    msg = e.what();
  }
  EXPECT_EQ(msg.rfind("cuModuleLoadDataEx for kernel 'tj_bad_ptx' failed: CUDA_ERROR_", 0), 0u) << msg;
  size_t log = msg.find("\nJIT error log:\n");
  ASSERT_NE(log, std::string::npos) << msg;
  EXPECT_NE(msg.find("ptxas", log), std::string::npos) << msg;
  EXPECT_NE(msg.find("frobnicate", log), std::string::npos) << msg;
}

TEST_F(Gpu, TooMuchSharedMemoryIsOutOfResourcesBeforeLoading) {
  need_cuda();
  ir::Function fn = signature("tj_huge", {}, 300 * 1024 / 4);
  CompiledCode code = ptx_code("tj_huge", kSpinPtx);
  EXPECT_THROW(dev_->load(fn, &code), OutOfResources);
}

}  // namespace
}  // namespace tilejit
