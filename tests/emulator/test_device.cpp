// The emulator as a Device: memory API, streams/events, launch checks, worker threads, speed.
#include <algorithm>
#include <chrono>
#include <thread>

#include "emu_test.h"

namespace emutest {
namespace {

TEST(Device, IdentityStreamsAndNoCodeNeeded) {
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  EXPECT_EQ(dev->kind(), DeviceKind::Emulator);
  EXPECT_EQ(dev->target(), Target::Gfx950);
  EXPECT_NE(dev->name().find("gfx950"), std::string::npos);
  EXPECT_FALSE(dev->needs_code());
  auto s = dev->create_stream();
  EXPECT_EQ(s->native(), nullptr);
  s->synchronize();
}

TEST(Device, MemoryCopiesAndMemset) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device();
  std::vector<uint8_t> host(1000);
  for (auto& b : host) b = uint8_t(rng());
  DevicePtr a = dev->alloc(1000), b = dev->alloc(1000);
  EXPECT_EQ(a % 16, 0u);
  dev->copy_to_device(a, host.data(), host.size());
  dev->copy_device_to_device(b, a, 1000);
  dev->copy_device_to_device(b + 10, b, 500);  // overlapping: memmove semantics
  dev->memset(b + 900, 0x5C, 50);
  std::vector<uint8_t> got(1000);
  dev->copy_to_host(got.data(), b, 1000);
  std::vector<uint8_t> want = host;
  std::memmove(want.data() + 10, host.data(), 500);
  std::fill(want.begin() + 900, want.begin() + 950, 0x5C);
  EXPECT_EQ(got, want);
  dev->free(a);
  dev->free(b);
}

TEST(Device, HostAccessesAreBoundsChecked) {
  auto dev = emulator::make_emulator_device();
  DevicePtr a = dev->alloc(64);
  std::vector<uint8_t> buf(128);
  EXPECT_THROW(dev->copy_to_host(buf.data(), a, 65), UserError);
  EXPECT_THROW(dev->copy_to_device(a + 60, buf.data(), 8), UserError);
  EXPECT_THROW(dev->memset(a - 1, 0, 4), UserError);
  EXPECT_THROW(dev->free(a + 4), UserError);
  dev->free(a);
  EXPECT_THROW(dev->copy_to_host(buf.data(), a, 4), UserError);  // freed
  dev->free(0);
}

TEST(Device, EventsMeasureHostTime) {
  auto dev = emulator::make_emulator_device();
  auto s = dev->create_stream();
  auto e0 = dev->create_event(), e1 = dev->create_event();
  EXPECT_THROW(e1->elapsed_ms_since(*e0), UserError);
  e0->record(s.get());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  e1->record(s.get());
  e1->synchronize();
  float ms = e1->elapsed_ms_since(*e0);
  EXPECT_GE(ms, 19.0f);
  EXPECT_LT(ms, 5000.0f);
}

ir::Function copy_kernel() {
  Kernel k("copy");
  ValueId in = k.param("in", G(Scalar::F32));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId g = k.gid();
  k.store(k.at(out, g), k.load(S(Scalar::F32), k.at(in, g)));
  return k.fn;
}

TEST(Device, LaunchChecksArgumentsAndNamesTheParameter) {
  auto dev = emulator::make_emulator_device();
  auto kern = dev->load(copy_kernel(), nullptr);
  DevicePtr p = dev->alloc(256);
  try {
    kern->launch({1, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(p, Scalar::F32)}, nullptr);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_TRUE(mentions(e.what(), {"copy", "takes 2 arguments, 1 given"}));
  }
  try {
    kern->launch({1, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(p, Scalar::F32), ptr_arg(p, Scalar::I32)}, nullptr);
    FAIL();
  } catch (const UserError& e) {
    EXPECT_TRUE(mentions(e.what(), {"copy", "parameter 'out'", "ptr<global, f32>", "ptr<global, i32>"}));
  }
  EXPECT_THROW(kern->launch({0, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(p, Scalar::F32), ptr_arg(p, Scalar::F32)}, nullptr),
               UserError);
}

TEST(Device, LaunchChecksBlockSizeAndResources) {
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  {
    ir::Function fn = copy_kernel();
    fn.block_size[0] = 128;
    auto kern = dev->load(fn, nullptr);
    DevicePtr p = dev->alloc(1024);
    std::vector args{ptr_arg(p, Scalar::F32), ptr_arg(p, Scalar::F32)};
    try {
      kern->launch({1, 1, 1}, {64, 1, 1}, args, nullptr);
      FAIL();
    } catch (const UserError& e) {
      EXPECT_TRUE(mentions(e.what(), {"copy", "fixed block size (128,1,1)", "(64,1,1)"}));
    }
    kern->launch({1, 1, 1}, {128, 1, 1}, args, nullptr);
  }
  {
    auto kern = dev->load(copy_kernel(), nullptr);
    DevicePtr p = dev->alloc(8192);
    std::vector args{ptr_arg(p, Scalar::F32), ptr_arg(p, Scalar::F32)};
    EXPECT_THROW(kern->launch({1, 1, 1}, {32, 33, 1}, args, nullptr), OutOfResources);
    kern->launch({1, 1, 1}, {32, 32, 1}, args, nullptr);
  }
  for (int64_t bytes : {int64_t(163840), int64_t(163841)}) {
    Kernel k("big_shared");
    ValueId sm = k.shared(Scalar::I8, bytes);
    k.store(sm, k.cbits(S(Scalar::I8), 1));
    auto kern = dev->load(k.fn, nullptr);
    if (bytes > 163840) EXPECT_THROW(kern->launch({1, 1, 1}, {1, 1, 1}, {}, nullptr), OutOfResources);
    else kern->launch({1, 1, 1}, {1, 1, 1}, {}, nullptr);
  }
}

/// A kernel whose output depends on every workgroup: out[gid] = f(in[gid]) and bins of atomic sums.
ir::Function grid_kernel() {
  Kernel k("grid");
  ValueId in = k.param("in", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId bins = k.param("bins", G(Scalar::I32));
  ValueId g = k.add(k.mul(k.add(k.mul(k.bid(1), k.op(OpCode::GridDim, S(Scalar::I32), {}, {0})), k.bid(0)), k.bdim(0)), k.tid(0));
  ValueId x = k.load(S(Scalar::I32), k.at(in, g));
  k.store(k.at(out, g), k.add(k.mul(x, x), g));
  k.effect(OpCode::AtomicAdd, {k.at(bins, k.op(OpCode::And, S(Scalar::I32), {x, k.i32(7)})), x});
  return k.fn;
}

TEST(Device, WorkerCountDoesNotChangeResults) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Dim3 grid{13, 5, 1}, block{96, 1, 1};
  const size_t n = grid.count() * block.count();
  std::vector<int32_t> xs(n);
  for (auto& x : xs) x = int32_t(rng() % 100000);
  std::vector<int32_t> want(n), want_bins(8, 0);
  for (size_t i = 0; i < n; ++i) {
    want[i] = int32_t(uint32_t(xs[i]) * uint32_t(xs[i]) + uint32_t(i));
    want_bins[size_t(xs[i] & 7)] += xs[i];
  }
  for (unsigned threads : {1u, 3u, 8u}) {
    SCOPED_TRACE("threads " + std::to_string(threads));
    auto dev = emulator::make_emulator_device({Target::Sm90a, threads});
    DevicePtr in = upload(*dev, xs), out = poisoned<int32_t>(*dev, n), bins = upload(*dev, std::vector<int32_t>(8, 0));
    dev->load(grid_kernel(), nullptr)->launch(grid, block, std::vector{ptr_arg(in, Scalar::I32), ptr_arg(out, Scalar::I32),
                                                                       ptr_arg(bins, Scalar::I32)}, nullptr);
    EXPECT_EQ(download<int32_t>(*dev, out, n), want);
    EXPECT_EQ(download<int32_t>(*dev, bins, 8), want_bins);
  }
}

// Without driver graphs a capture records the enqueuing code: nothing runs until launch, and
// each launch reruns it on the current contents of memory.
TEST(Device, CapturedGraphRunsOnlyWhenLaunchedAndRereadsItsInputs) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const Dim3 grid{3, 2, 1}, block{64, 1, 1};
  const size_t n = grid.count() * block.count();
  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  auto kernel = dev->load(grid_kernel(), nullptr);
  std::vector<int32_t> xs(n);
  DevicePtr in = upload(*dev, xs), out = poisoned<int32_t>(*dev, n), bins = upload(*dev, std::vector<int32_t>(8, 0));
  auto stream = dev->create_stream();
  auto graph = dev->capture(*stream, [&] {
    dev->memset_async(bins, 0, 8 * sizeof(int32_t), stream.get());
    kernel->launch(grid, block, std::vector{ptr_arg(in, Scalar::I32), ptr_arg(out, Scalar::I32), ptr_arg(bins, Scalar::I32)},
                   stream.get());
  });
  EXPECT_EQ(download<uint8_t>(*dev, out, n * 4), std::vector<uint8_t>(n * 4, 0xA5)) << "the kernel ran during the capture";
  for (int round = 0; round < 2; ++round) {
    for (auto& x : xs) x = int32_t(rng() % 100000);
    dev->copy_to_device(in, xs.data(), n * sizeof(int32_t));
    graph->launch(nullptr);
    stream->synchronize();
    std::vector<int32_t> want(n), want_bins(8, 0);
    for (size_t i = 0; i < n; ++i) {
      want[i] = int32_t(uint32_t(xs[i]) * uint32_t(xs[i]) + uint32_t(i));
      want_bins[size_t(xs[i] & 7)] += xs[i];
    }
    EXPECT_EQ(download<int32_t>(*dev, out, n), want) << "round " << round;
    EXPECT_EQ(download<int32_t>(*dev, bins, 8), want_bins) << "round " << round << ": the memset did not rerun";
  }
}

TEST(Device, A256ThreadWorkgroupLoopRunsWellUnderAMillisecond) {
  // 64 iterations of a ~30-op body (loads, int and float math, compares, select, var slots).
  Kernel k("speed");
  ValueId in = k.param("in", G(Scalar::F32));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId t = k.tid(0);
  ValueId acc = k.var(k.f32(0.0f));
  ValueId cnt = k.var(k.i32(0));
  k.for_(k.i32(0), k.i32(64), k.i32(1), [&](ValueId i) {
    ValueId idx = k.op(OpCode::And, S(Scalar::I32), {k.add(k.mul(i, k.i32(17)), t), k.i32(1023)});
    ValueId x = k.load(S(Scalar::F32), k.at(in, idx));
    ValueId y = k.load(S(Scalar::F32), k.at(in, k.op(OpCode::Xor, S(Scalar::I32), {idx, k.i32(5)})));
    ValueId p = k.op(OpCode::Fma, S(Scalar::F32), {x, y, k.get(acc)});
    ValueId q = k.op(OpCode::FMul, S(Scalar::F32), {p, k.f32(0.999f)});
    ValueId m = k.op(OpCode::FMax, S(Scalar::F32), {q, k.f32(-1e6f)});
    ValueId c = k.op(OpCode::FCmp, S(Scalar::I1), {m, k.f32(0.0f)}, {int64_t(CmpPred::Ogt)});
    ValueId s = k.op(OpCode::Select, S(Scalar::F32), {c, m, k.op(OpCode::FNeg, S(Scalar::F32), {m})});
    k.set(acc, k.op(OpCode::FAdd, S(Scalar::F32), {s, k.op(OpCode::SIToFP, S(Scalar::F32), {idx})}));
    ValueId ci = k.op(OpCode::Select, S(Scalar::I32), {c, k.i32(1), k.i32(0)});
    k.set(cnt, k.add(k.get(cnt), ci));
  });
  k.store(k.at(out, t), k.op(OpCode::FAdd, S(Scalar::F32), {k.get(acc), k.op(OpCode::SIToFP, S(Scalar::F32), {k.get(cnt)})}));
  int ops = 0;
  ir::walk(k.fn.body, [&](const ir::Op&) { ++ops; });
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  std::vector<float> xs(1024);
  for (size_t i = 0; i < xs.size(); ++i) xs[i] = float(i % 13) * 0.01f;
  DevicePtr pin = upload(*dev, xs), pout = poisoned<float>(*dev, 256);
  auto kern = dev->load(k.fn, nullptr);
  std::vector args{ptr_arg(pin, Scalar::F32), ptr_arg(pout, Scalar::F32)};
  std::vector<double> times;
  for (int rep = 0; rep < 15; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    kern->launch({1, 1, 1}, {256, 1, 1}, args, nullptr);
    times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  RecordProperty("median_ms", std::to_string(times[times.size() / 2]));
  std::printf("[ speed ] %d ops, 64 iterations, 256 threads: median %.3f ms, best %.3f ms\n", ops, times[times.size() / 2],
              times[0]);
  // The result must still be right: reference in plain C++.
  auto got = download<float>(*dev, pout, 256);
  for (int tt = 0; tt < 256; ++tt) {
    float a = 0;
    int cn = 0;
    for (int i = 0; i < 64; ++i) {
      int idx = (i * 17 + tt) & 1023;
      float p = std::fma(xs[size_t(idx)], xs[size_t(idx ^ 5)], a);
      float q = p * 0.999f;
      float m = std::max(q, -1e6f);
      bool c = m > 0.0f;
      a = (c ? m : -m) + float(idx);
      cn += c;
    }
    ASSERT_TRUE(same_float(got[size_t(tt)], a + float(cn))) << tt;
  }
  // The budget is for optimised builds; sanitizer and unoptimised builds get a looser one.
#if defined(NDEBUG) && !defined(__SANITIZE_ADDRESS__)
  const double budget_ms = 1.0;
#else
  const double budget_ms = 50.0;
#endif
  EXPECT_LT(times[0], budget_ms) << "best of 15 runs";
}

}  // namespace
}  // namespace emutest
