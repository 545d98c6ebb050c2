// Emulator faults: out-of-bounds and misaligned accesses, divergent barriers, division by zero, shifts;
// every message names the kernel, the op and its source line, the lane and the address.
#include <fmt/format.h>

#include "emu_test.h"

namespace emutest {
namespace {

/// Runs and returns the EmulatorFault message (fails the test when none is thrown).
std::string fault_of(Device& dev, const ir::Function& fn, Dim3 grid, Dim3 block, std::vector<KernelArg> args) {
  try {
    dev.load(fn, nullptr)->launch(grid, block, args, nullptr);
  } catch (const EmulatorFault& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected an EmulatorFault";
  return {};
}

std::string line_of(int line) { return fmt::format("test_faults.cpp:{}", line); }
std::string hex(uint64_t a) { return fmt::format("0x{:x}", a); }

TEST(Faults, OutOfBoundsGlobalRead) {
  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  Kernel k("oob_read");
  ValueId in = k.param("in", G(Scalar::F32));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId g = k.gid();
  ValueId p = k.at(in, g);
  int line = __LINE__ + 1;
  ValueId v = k.load(S(Scalar::F32), p);
  k.store(k.at(out, g), v);
  DevicePtr a = dev->alloc(191 * 4), o = dev->alloc(192 * 4);  // thread 63 of block 2 reads one past the end
  std::string msg = fault_of(*dev, k.fn, {3, 1, 1}, {64, 1, 1}, {ptr_arg(a, Scalar::F32), ptr_arg(o, Scalar::F32)});
  EXPECT_TRUE(mentions(msg, {"oob_read", "'load'", line_of(line), "block (2,0,0)", "thread (63,0,0)",
                             "out-of-bounds global read", hex(a + 191 * 4)}));
}

TEST(Faults, OutOfBoundsGlobalWrite) {
  auto dev = emulator::make_emulator_device({Target::Gfx950, 2});
  Kernel k("oob_write");
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId g = k.gid();
  ValueId p = k.at(out, k.op(OpCode::Sub, S(Scalar::I32), {g, k.i32(1)}));  // thread 0 of block 0 writes out[-1]
  int line = __LINE__ + 1;
  k.store(p, g);
  DevicePtr o = dev->alloc(128 * 4);
  std::string msg = fault_of(*dev, k.fn, {2, 1, 1}, {64, 1, 1}, {ptr_arg(o, Scalar::I32)});
  EXPECT_TRUE(mentions(msg, {"oob_write", "'store'", line_of(line), "block (0,0,0)", "thread (0,0,0)",
                             "out-of-bounds global write", hex(o - 4)}));
}

TEST(Faults, OutOfBoundsSharedReadAndWrite) {
  {
    auto dev = emulator::make_emulator_device();
    Kernel k("shared_read");
    ValueId out = k.param("out", G(Scalar::I32));
    ValueId sm = k.shared(Scalar::I32, 64);
    ValueId t = k.tid(0);
    k.store(k.at(sm, t), t);
    k.barrier();
    ValueId p = k.at(sm, k.add(t, k.i32(1)));
    int line = __LINE__ + 1;
    ValueId v = k.load(S(Scalar::I32), p);
    k.store(k.at(out, t), v);
    DevicePtr o = dev->alloc(64 * 4);
    std::string msg = fault_of(*dev, k.fn, {1, 1, 1}, {64, 1, 1}, {ptr_arg(o, Scalar::I32)});
    EXPECT_TRUE(mentions(msg, {"shared_read", "'load'", line_of(line), "block (0,0,0)", "thread (63,0,0)",
                               "out-of-bounds shared read", "shared address 0x100"}));
  }
  {
    auto dev = emulator::make_emulator_device({Target::Sm90a, 1});  // one worker: block (0,0,0) faults first
    Kernel k("shared_write");
    ValueId sm = k.shared(Scalar::I32, 31);
    ValueId lin = k.add(k.mul(k.tid(1), k.bdim(0)), k.tid(0));
    ValueId p = k.at(sm, lin);
    int line = __LINE__ + 1;
    k.store(p, lin);
    std::string msg = fault_of(*dev, k.fn, {1, 2, 1}, {8, 4, 1}, {});
    EXPECT_TRUE(mentions(msg, {"shared_write", "'store'", line_of(line), "block (0,0,0)", "thread (7,3,0)",
                               "out-of-bounds shared write", "shared address 0x7c"}));
  }
}

TEST(Faults, MisalignedVectorAccess) {
  auto dev = emulator::make_emulator_device();
  Kernel k("misaligned");
  ValueId in = k.param("in", G(Scalar::F32));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId g = k.gid();
  ValueId is5 = k.icmp(CmpPred::Eq, g, k.i32(5));
  ValueId shift = k.op(OpCode::Select, S(Scalar::I32), {is5, k.i32(1), k.i32(0)});
  ValueId p = k.at(in, k.add(k.mul(g, k.i32(4)), shift));
  int line = __LINE__ + 1;
  ValueId v = k.load(V(Scalar::F32, 4), p);
  k.store(k.at(out, k.mul(g, k.i32(4))), v);
  DevicePtr a = dev->alloc(64 * 16 + 16), o = dev->alloc(64 * 16);
  std::string msg = fault_of(*dev, k.fn, {1, 1, 1}, {64, 1, 1}, {ptr_arg(a, Scalar::F32), ptr_arg(o, Scalar::F32)});
  EXPECT_TRUE(mentions(msg, {"misaligned", "'load'", line_of(line), "thread (5,0,0)", "16-byte alignment",
                             hex(a + 5 * 16 + 4)}));
}

TEST(Faults, BarrierUnderDivergentControlFlow) {
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  Kernel k("divergent_barrier");
  ValueId t = k.tid(0);
  int line = 0;
  k.if_(k.icmp(CmpPred::Sge, t, k.i32(10)), [&] {
    line = __LINE__ + 1;
    k.barrier();
  });
  std::string msg = fault_of(*dev, k.fn, {2, 1, 1}, {32, 1, 1}, {});
  EXPECT_TRUE(mentions(msg, {"divergent_barrier", "'barrier'", line_of(line), "block (0,0,0)", "thread (10,0,0)",
                             "barrier under divergent control flow", "22 of 32"}));
}

TEST(Faults, IntegerDivisionByZeroAndSignedOverflow) {
  auto dev = emulator::make_emulator_device();
  for (bool overflow : {false, true}) {
    Kernel k("divide");
    ValueId a = k.param("a", G(Scalar::I32));
    ValueId b = k.param("b", G(Scalar::I32));
    ValueId out = k.param("out", G(Scalar::I32));
    ValueId g = k.gid();
    ValueId x = k.load(S(Scalar::I32), k.at(a, g));
    ValueId y = k.load(S(Scalar::I32), k.at(b, g));
    int line = __LINE__ + 1;
    ValueId q = k.op(OpCode::SDiv, S(Scalar::I32), {x, y});
    k.store(k.at(out, g), q);
    std::vector<int32_t> xs(128, 7), ys(128, 3);
    ys[77] = overflow ? -1 : 0;
    if (overflow) xs[77] = INT32_MIN;
    DevicePtr pa = upload(*dev, xs), pb = upload(*dev, ys), po = dev->alloc(128 * 4);
    std::string msg = fault_of(*dev, k.fn, {2, 1, 1}, {64, 1, 1},
                               {ptr_arg(pa, Scalar::I32), ptr_arg(pb, Scalar::I32), ptr_arg(po, Scalar::I32)});
    EXPECT_TRUE(mentions(msg, {"divide", "'sdiv'", line_of(line), "block (1,0,0)", "thread (13,0,0)",
                               overflow ? "signed division overflow" : "division by zero"}));
  }
}

TEST(Faults, ShiftAmountAtLeastTheBitWidth) {
  auto dev = emulator::make_emulator_device();
  Kernel k("shift");
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId g = k.gid();
  ValueId amount = k.op(OpCode::Select, S(Scalar::I32), {k.icmp(CmpPred::Eq, g, k.i32(40)), k.i32(32), k.i32(3)});
  int line = __LINE__ + 1;
  ValueId s = k.op(OpCode::Shl, S(Scalar::I32), {g, amount});
  k.store(k.at(out, g), s);
  DevicePtr o = dev->alloc(64 * 4);
  std::string msg = fault_of(*dev, k.fn, {1, 1, 1}, {64, 1, 1}, {ptr_arg(o, Scalar::I32)});
  EXPECT_TRUE(mentions(msg, {"shift", "'shl'", line_of(line), "thread (40,0,0)", "shift amount 32 >= bit width 32"}));
}

TEST(Faults, BufferLoadInRangeDwordOutsideEveryAllocation) {
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  Kernel k("buffer_oob");
  ValueId base = k.param("base", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId t = k.tid(0);
  int line = __LINE__ + 1;
  ValueId v = k.op(OpCode::BufferLoad, V(Scalar::I32, 2), {base, k.i32(4096), k.mul(t, k.i32(8))});
  k.store(k.at(out, k.mul(t, k.i32(2))), v);
  // num_records says 4096 bytes but the allocation has 200: thread 25 reads dword 0 at byte 200.
  DevicePtr b = dev->alloc(200), o = dev->alloc(64 * 8);
  std::string msg = fault_of(*dev, k.fn, {1, 1, 1}, {64, 1, 1}, {ptr_arg(b, Scalar::I32), ptr_arg(o, Scalar::I32)});
  EXPECT_TRUE(mentions(msg, {"buffer_oob", "'buffer_load'", line_of(line), "thread (25,0,0)",
                             "out-of-bounds global read", hex(b + 200)}));
}

TEST(Faults, InactiveLanesNeverFault) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device();
  Kernel k("guarded");
  ValueId in = k.param("in", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId n = k.param("n", S(Scalar::I32));
  ValueId g = k.gid();
  k.if_(k.icmp(CmpPred::Slt, g, n), [&] {
    ValueId x = k.load(S(Scalar::I32), k.at(in, g));
    ValueId d = k.op(OpCode::UDiv, S(Scalar::I32), {k.i32(1000000), x});  // x = 0 only past n
    k.store(k.at(out, g), d);
  });
  const int N = 100;
  std::vector<int32_t> xs(N);
  for (auto& x : xs) x = 1 + int32_t(rng() % 1000);
  DevicePtr pi = upload(*dev, xs), po = poisoned<int32_t>(*dev, N);
  dev->load(k.fn, nullptr)->launch({2, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(pi, Scalar::I32), ptr_arg(po, Scalar::I32), i32_arg(N)}, nullptr);
  auto got = download<int32_t>(*dev, po, N);
  for (int i = 0; i < N; ++i) ASSERT_EQ(got[size_t(i)], 1000000 / xs[size_t(i)]);
}

TEST(Faults, AFaultStopsTheLaunch) {
  auto dev = emulator::make_emulator_device({Target::Sm90a, 1});
  Kernel k("stop");
  ValueId counter = k.param("counter", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId t = k.tid(0);
  k.if_(k.icmp(CmpPred::Eq, t, k.i32(0)), [&] { k.effect(OpCode::AtomicAdd, {counter, k.i32(1)}); });
  // Block 3 stores out of bounds.
  ValueId idx = k.add(k.mul(k.bid(0), k.i32(1000)), t);
  k.store(k.at(out, idx), t);
  DevicePtr c = upload(*dev, std::vector<int32_t>{0});
  DevicePtr o = dev->alloc(3000 * 4);
  std::string msg = fault_of(*dev, k.fn, {500, 1, 1}, {32, 1, 1}, {ptr_arg(c, Scalar::I32), ptr_arg(o, Scalar::I32)});
  EXPECT_TRUE(mentions(msg, {"stop", "block (3,0,0)", "thread (0,0,0)"}));
  // One worker runs workgroups in order: 0, 1, 2 complete, 3 faults, none after it starts.
  EXPECT_EQ(download<int32_t>(*dev, c, 1)[0], 4);
}

}  // namespace
}  // namespace emutest
