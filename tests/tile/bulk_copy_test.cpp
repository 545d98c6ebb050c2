// Bulk copies and mbarriers (tile::bulk_copy_to_shared, mbarrier_*) on the sm_90a emulator: a ring of
// stages delivers every chunk exactly, copied bytes appear only at the wait, misuse faults with a
// message naming the op, warp-specialized producers and consumers wait for each other (and a
// deadlock faults), and gfx950 rejects the ops when tracing.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "backend/emulator/emulator.h"
#include "backend/launch/buffer.h"
#include "dsl/error.h"
#include "dsl/tile/bulk_ring.h"
#include "dsl/tile/intrinsics.h"
#include "dsl/tilejit.h"
#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile/bulk_copy_cases.h"

using namespace tilejit;
using namespace tilejit::dsl;
using namespace tilejit::tile_test;

namespace {

bool mentions(const std::string& text, std::initializer_list<std::string> parts) {
  for (const std::string& p : parts)
    if (text.find(p) == std::string::npos) return false;
  return true;
}

TEST(BulkCopy, RingOfStagesDeliversEveryChunk) {
  testing_support::SeededRng rng;
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  for (BulkRingCase c : {BulkRingCase{}, BulkRingCase{32, 64, 1, 3, 2}, BulkRingCase{128, 512, 3, 7, 2},
                         BulkRingCase{64, 128, 4, 2, 3}, BulkRingCase{64, 256, 2, 6, 2, true},
                         BulkRingCase{128, 256, 2, 5, 2, false, true}, BulkRingCase{256, 2048, 3, 4, 1, false, true}}) {
    SCOPED_TRACE(testing::Message() << "threads " << c.threads << " words " << c.chunk_words << " stages " << c.stages
                                    << " chunks " << c.chunks << (c.split ? " split" : "") << (c.every_warp ? " every warp" : ""));
    const std::vector<int32_t> src = bulk_ring_source(c, *rng);
    EXPECT_EQ(run_bulk_ring(emu, c, src), src);
  }
}

/// One block of 32 threads: the slot is poisoned by stores, thread 0 copies 64 words into it, every
/// thread records its word before and after the wait.
KernelDef visibility_kernel() {
  KernelOptions opts;
  opts.block = {32, 1, 1};
  return kernel(
      "bulk_visibility",
      [](Ptr<int32_t> src, Ptr<int32_t> out) {
        SharedPtr<int32_t> slot = shared_array<int32_t>(64);
        SharedPtr<int64_t> bar = shared_array<int64_t>(1);
        const Value t = thread_id();
        slot[t] = 0x5A5A5A5A;
        slot[t + 32] = 0x5A5A5A5A;
        if_(t == 0, [&] { tile::mbarrier_init(bar, 1); });
        barrier();
        if_(t == 0, [&] {
          tile::mbarrier_arrive_expect_tx(bar, 256);
          tile::bulk_copy_to_shared(slot, src, 256, bar);
        });
        out[t] = slot[t];
        tile::mbarrier_wait(bar, 0);
        out[t + 32] = slot[t];
        out[t + 64] = slot[t + 32];
      },
      opts);
}

TEST(BulkCopy, BytesLandOnlyAtTheWait) {
  testing_support::SeededRng rng;
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  static const KernelDef def = visibility_kernel();
  std::vector<int32_t> src(64);
  for (auto& x : src) x = int32_t((*rng)() | 1);
  Buffer<int32_t> dsrc(emu, std::span<const int32_t>(src)), dout(emu, 96);
  dout.fill_bytes(0xA5);
  compile(def, emu).launch({1, 1, 1}, {32, 1, 1}, dsrc, dout);
  const std::vector<int32_t> out = dout.download();
  for (int t = 0; t < 32; ++t) {
    EXPECT_EQ(uint32_t(out[size_t(t)]), 0x5A5A5A5Au) << "thread " << t << " saw the copy before its wait";
    EXPECT_EQ(out[size_t(32 + t)], src[size_t(t)]) << "thread " << t;
    EXPECT_EQ(out[size_t(64 + t)], src[size_t(32 + t)]) << "thread " << t;
  }
}

/// What a misused mbarrier or copy does: each variant of one small kernel, and the fault it raises.
enum class Misuse { None, NeverCompletes, MisalignedDst, OddSize, SourceOutOfRange, Uninitialised, ArriveTwice, BadParity };

std::string run_misuse(Misuse m) {
  KernelOptions opts;
  opts.block = {32, 1, 1};
  const KernelDef def = kernel(
      fmt::format("bulk_misuse_{}", int(m)),
      [m](Ptr<int32_t> src, Ptr<int32_t> out) {
        SharedPtr<int32_t> slot = shared_array<int32_t>(72);
        SharedPtr<int64_t> bars = shared_array<int64_t>(2);
        const Value t = thread_id();
        if_(t == 0, [&] {
          if (m != Misuse::Uninitialised) tile::mbarrier_init(bars, 1);
        });
        barrier();
        if_(t == 0, [&] {
          const SharedPtr<int64_t> bar = m == Misuse::Uninitialised ? SharedPtr<int64_t>(bars + 1) : bars;
          tile::mbarrier_arrive_expect_tx(bar, m == Misuse::NeverCompletes ? 512 : 256);
          if (m == Misuse::ArriveTwice) tile::mbarrier_arrive_expect_tx(bar, 0);
          const SharedPtr<int32_t> dst = m == Misuse::MisalignedDst ? SharedPtr<int32_t>(slot + 1) : slot;
          const Ptr<int32_t> from = m == Misuse::SourceOutOfRange ? Ptr<int32_t>(src + 8) : src;
          tile::bulk_copy_to_shared(dst, from, m == Misuse::OddSize ? 248 : 256, bar);
        });
        tile::mbarrier_wait(bars, m == Misuse::BadParity ? 2 : 0);
        out[t] = slot[t];
      },
      opts);
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  Buffer<int32_t> dsrc(emu, 64), dout(emu, 32);
  dsrc.fill_bytes(0x11);
  try {
    compile(def, emu).launch({1, 1, 1}, {32, 1, 1}, dsrc, dout);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(BulkCopy, MisuseFaultsNamingTheOp) {
  EXPECT_EQ(run_misuse(Misuse::None), "");
  EXPECT_TRUE(mentions(run_misuse(Misuse::NeverCompletes), {"'mbarrier_wait'", "never returns", "256 byte(s)"}));
  EXPECT_TRUE(mentions(run_misuse(Misuse::MisalignedDst), {"'bulk_copy_to_shared'", "thread (0,0,0)", "misaligned"}));
  EXPECT_TRUE(mentions(run_misuse(Misuse::OddSize), {"'bulk_copy_to_shared'", "248 bytes", "multiple of 16"}));
  EXPECT_TRUE(mentions(run_misuse(Misuse::SourceOutOfRange), {"'bulk_copy_to_shared'", "out-of-bounds global read"}));
  EXPECT_TRUE(mentions(run_misuse(Misuse::Uninitialised), {"'mbarrier_arrive_expect_tx'", "no mbarrier_init"}));
  EXPECT_TRUE(mentions(run_misuse(Misuse::ArriveTwice), {"'mbarrier_arrive_expect_tx'", "already has all its arrivals"}));
  EXPECT_TRUE(mentions(run_misuse(Misuse::BadParity), {"'mbarrier_wait'", "parity 2"}));
}

// With race checking, a copy issued into bytes another warp read since the last barrier is a race
// (the copy engine may overwrite them before that read on the GPU); with a barrier between it is
// not, but the readers must also have executed fence_proxy_async() since their reads (the copy
// writes through the async proxy); the readers after the wait are fine.
TEST(BulkCopy, RaceCheckSeesACopyIntoBytesAnotherWarpRead) {
  enum class Order { Racing, BarrierOnly, FenceAndBarrier };
  auto run = [](Order order) -> std::string {
    KernelOptions opts;
    opts.block = {64, 1, 1};
    const KernelDef def = kernel(
        fmt::format("bulk_refill_{}", int(order)),
        [order](Ptr<int32_t> src, Ptr<int32_t> out) {
          SharedPtr<int32_t> slot = shared_array<int32_t>(64);
          SharedPtr<int64_t> bar = shared_array<int64_t>(1);
          const Value t = thread_id();
          slot[t] = t;
          if_(t == 0, [&] { tile::mbarrier_init(bar, 1); });
          barrier();
          out[t] = slot[63 - t];  // warp 1 reads what warp 0's thread 0 is about to copy over
          if (order == Order::FenceAndBarrier) tile::fence_proxy_async();
          if (order != Order::Racing) barrier();
          if_(t == 0, [&] {
            tile::mbarrier_arrive_expect_tx(bar, 256);
            tile::bulk_copy_to_shared(slot, src, 256, bar);
          });
          tile::mbarrier_wait(bar, 0);
          out[t + 64] = slot[63 - t];
        },
        opts);
    auto dev = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = true});
    Buffer<int32_t> dsrc(*dev, 64), dout(*dev, 128);
    dsrc.fill_bytes(0x22);
    try {
      compile(def, *dev).launch({1, 1, 1}, {64, 1, 1}, dsrc, dout);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(run(Order::FenceAndBarrier), "");
  const std::string racing = run(Order::Racing), unfenced = run(Order::BarrierOnly);
  EXPECT_TRUE(mentions(racing, {"'bulk_copy_to_shared'", "shared-memory race", "warp 1 read"})) << racing;
  EXPECT_TRUE(mentions(unfenced, {"'bulk_copy_to_shared'", "warp 1 read", "fence_proxy_async()"})) << unfenced;
}

// Warp-specialized rings: a producer warp and consumer warps in the two branches of one if wait
// for each other through the ring's fill and free mbarriers; the emulator runs the branches as
// separate thread groups, so every chunk arrives exactly, with and without race checking.
TEST(WarpRoles, ProducerAndConsumersInTwoBranchesDeliverEveryChunk) {
  testing_support::SeededRng rng;
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  auto checked = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = true});
  for (WarpRolesCase c : {WarpRolesCase{}, WarpRolesCase{64, 64, 1, 5, 3}, WarpRolesCase{160, 512, 3, 8, 2},
                          WarpRolesCase{128, 128, 4, 3, 1}, WarpRolesCase{256, 1024, 2, 9, 2}}) {
    SCOPED_TRACE(testing::Message() << "threads " << c.threads << " words " << c.chunk_words << " stages " << c.stages
                                    << " chunks " << c.chunks);
    const std::vector<int32_t> src = warp_roles_source(c, *rng);
    const std::vector<int32_t> want = warp_roles_expected(c, src);
    EXPECT_EQ(run_warp_roles(emu, c, src), want);
    EXPECT_EQ(run_warp_roles(*checked, c, src), want) << "with race checking";
  }
}

std::string warp_roles_fault(const WarpRolesCase& c, bool race_check) {
  testing_support::SeededRng rng;
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = race_check});
  try {
    run_warp_roles(*dev, c, warp_roles_source(c, *rng));
  } catch (const EmulatorFault& e) {
    return e.what();
  }
  return "";
}

// Consumers that never release: the producer's wait for the free stage can never return, and
// neither can the consumers' wait for the fill that never comes. The wait faults instead of hanging.
TEST(WarpRoles, AProtocolThatDeadlocksFaults) {
  WarpRolesCase c;
  c.mistake = WarpRolesCase::Mistake::NoRelease;
  const std::string what = warp_roles_fault(c, false);
  EXPECT_TRUE(mentions(what, {"'mbarrier_wait'", "never returns", "deadlock", "misses 64 arrival(s)", "bulk_copy_cases.cpp"})) << what;
  c.chunks = c.stages;  // no fill needs a release: nothing waits for one
  EXPECT_EQ(warp_roles_fault(c, false), "");
}

// Consumers that read a stage before waiting for its fill: a race with the copy engine's write.
TEST(WarpRoles, ReadingBeforeTheWaitIsARace) {
  WarpRolesCase c;
  c.mistake = WarpRolesCase::Mistake::ReadBeforeWait;
  const std::string what = warp_roles_fault(c, true);
  EXPECT_TRUE(mentions(what, {"shared-memory race", "warp 0 wrote"})) << what;
}

// Both sides wait for the other's arrival first: a deadlock on any machine, a fault here.
TEST(WarpRoles, TwoSidesWaitingForEachOtherFault) {
  KernelOptions opts;
  opts.block = {64, 1, 1};
  const KernelDef def = kernel(
      "bulk_warp_roles_deadlock",
      [](Ptr<int32_t> out) {
        SharedPtr<int64_t> bars = shared_array<int64_t>(2);
        const Value t = thread_id();
        if_(t == 0, [&] {
          tile::mbarrier_init(bars, 1);
          tile::mbarrier_init(SharedPtr<int64_t>(bars + 1), 1);
        });
        barrier();
        if_(
            t < 32, [&] { tile::mbarrier_wait(bars, 0); tile::mbarrier_arrive_expect_tx(SharedPtr<int64_t>(bars + 1), 0); },
            [&] { tile::mbarrier_wait(SharedPtr<int64_t>(bars + 1), 0); tile::mbarrier_arrive_expect_tx(bars, 0); });
        out[t] = t;
      },
      opts);
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  Buffer<int32_t> dout(emu, 64);
  try {
    compile(def, emu).launch({1, 1, 1}, {64, 1, 1}, dout);
    FAIL() << "the waits returned";
  } catch (const EmulatorFault& e) {
    EXPECT_TRUE(mentions(e.what(), {"'mbarrier_wait'", "never returns", "misses 1 arrival(s)", "deadlock"})) << e.what();
  }
}

// The branches may also hand over in the other direction: the consumer side arrives first, the
// producer side waits for it; and each side runs in step within itself.
TEST(WarpRoles, OneSideWaitsForTheOther) {
  KernelOptions opts;
  opts.block = {64, 1, 1};
  const KernelDef def = kernel(
      "bulk_warp_roles_handover",
      [](Ptr<int32_t> in, Ptr<int32_t> out) {
        SharedPtr<int32_t> box = shared_array<int32_t>(32);
        SharedPtr<int64_t> bar = shared_array<int64_t>(1);
        const Value t = thread_id();
        if_(t == 0, [&] { tile::mbarrier_init(bar, 32); });
        barrier();
        if_(
            t < 32, [&] { tile::mbarrier_wait(bar, 0); out[t] = box[31 - t] * 3; },  // waits for warp 1
            [&] { box[t - 32] = in[t - 32]; tile::mbarrier_arrive_expect_tx(bar, 0); out[t] = -t; });
      },
      opts);
  testing_support::SeededRng rng;
  std::vector<int32_t> in(32);
  for (auto& x : in) x = int32_t((*rng)() >> 4);
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = true});
  Buffer<int32_t> din(*dev, std::span<const int32_t>(in)), dout(*dev, 64);
  dout.fill_bytes(0xA5);
  compile(def, *dev).launch({1, 1, 1}, {64, 1, 1}, din, dout);
  const std::vector<int32_t> out = dout.download();
  for (int t = 0; t < 32; ++t) EXPECT_EQ(out[size_t(t)], in[size_t(31 - t)] * 3) << "thread " << t;
  for (int t = 32; t < 64; ++t) EXPECT_EQ(out[size_t(t)], -t) << "thread " << t;
}

// Ping-pong over shared memory: the two sides take turns for 8 rounds through two mbarriers, each
// carrying a running value and temporaries across its waits, and the second side's rounds nest a
// fork of their own (lanes split again); what each thread ends with is the host's computation.
TEST(WarpRoles, SidesTakingTurnsKeepTheirValuesAcrossWaits) {
  KernelOptions opts;
  opts.block = {96, 1, 1};
  const KernelDef def = kernel(
      "bulk_warp_roles_ping_pong",
      [](Ptr<int32_t> in, Ptr<int32_t> out) {
        SharedPtr<int32_t> box = shared_array<int32_t>(96);
        SharedPtr<int64_t> bars = shared_array<int64_t>(2);
        const SharedPtr<int64_t> ping = bars, pong = SharedPtr<int64_t>(bars + 1);
        const Value t = thread_id();
        if_(t == 0, [&] {
          tile::mbarrier_init(ping, 32);
          tile::mbarrier_init(pong, 64);
        });
        barrier();
        if_(
            t < 32,
            [&] {
              Var<> acc{Value(in[t])};
              for_range(0, 8, [&](Value r) {
                const Value before = acc * 3 + r;  // a temporary alive across the wait below
                box[t] = before;
                tile::mbarrier_arrive_expect_tx(ping, 0);
                tile::mbarrier_wait(pong, urem(r, 2));
                acc = before + box[32 + t] + box[95 - t];
              });
              out[t] = acc;
            },
            [&] {
              Var<> acc{Value(in[t] ^ 0x55)};
              for_range(0, 8, [&](Value r) {
                tile::mbarrier_wait(ping, urem(r, 2));
                const Value seen = box[t % 32];
                if_(t < 64, [&] { acc = acc + seen; }, [&] { acc = acc - seen * 2; });
                box[t] = acc + r;  // words 32..95: each consumer thread its own
                tile::mbarrier_arrive_expect_tx(pong, 0);
              });
              out[t] = acc;
            });
      },
      opts);
  testing_support::SeededRng rng;
  std::vector<int32_t> in(96);
  for (auto& x : in) x = int32_t((*rng)() % 1000);
  // Host: the same rounds in the order the mbarriers impose.
  std::vector<int32_t> a(96), box(96);
  for (int t = 0; t < 96; ++t) a[size_t(t)] = t < 32 ? in[size_t(t)] : in[size_t(t)] ^ 0x55;
  for (int r = 0; r < 8; ++r) {
    std::vector<int32_t> before(32);
    for (int t = 0; t < 32; ++t) box[size_t(t)] = before[size_t(t)] = a[size_t(t)] * 3 + r;
    for (int t = 32; t < 96; ++t) {
      const int32_t seen = box[size_t(t % 32)];
      a[size_t(t)] = t < 64 ? a[size_t(t)] + seen : a[size_t(t)] - seen * 2;
      box[size_t(t)] = a[size_t(t)] + r;
    }
    for (int t = 0; t < 32; ++t) a[size_t(t)] = before[size_t(t)] + box[size_t(32 + t)] + box[size_t(95 - t)];
  }
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = true});
  Buffer<int32_t> din(*dev, std::span<const int32_t>(in)), dout(*dev, 96);
  dout.fill_bytes(0xA5);
  compile(def, *dev).launch({1, 1, 1}, {96, 1, 1}, din, dout);
  EXPECT_EQ(dout.download(), a);
}

// A fault in one side (an out-of-bounds store by a consumer) while the other side waits: the
// launch reports that fault, names the consumer's thread, and the waiting side is unwound.
TEST(WarpRoles, AFaultInOneSideEndsTheLaunchWithItsMessage) {
  KernelOptions opts;
  opts.block = {64, 1, 1};
  const KernelDef def = kernel(
      "bulk_warp_roles_fault",
      [](Ptr<int32_t> out) {
        SharedPtr<int64_t> bar = shared_array<int64_t>(1);
        const Value t = thread_id();
        if_(t == 0, [&] { tile::mbarrier_init(bar, 32); });
        barrier();
        if_(
            t < 32, [&] { tile::mbarrier_wait(bar, 0); out[t] = t; },
            [&] {
              out[t * 1000] = t;  // out has 64 elements: thread 32 and up write far past them
              tile::mbarrier_arrive_expect_tx(bar, 0);
            });
      },
      opts);
  Device& emu = testing_support::emulator_device(Target::Sm90a);
  Buffer<int32_t> dout(emu, 64);
  try {
    compile(def, emu).launch({2, 1, 1}, {64, 1, 1}, dout);
    FAIL() << "the out-of-bounds store passed";
  } catch (const EmulatorFault& e) {
    EXPECT_TRUE(mentions(e.what(), {"bulk_warp_roles_fault", "out-of-bounds", "thread (32,0,0)"})) << e.what();
  }
  // The emulator is usable afterwards: a correct launch of the ring runs.
  testing_support::SeededRng rng;
  const WarpRolesCase c;
  const std::vector<int32_t> src = warp_roles_source(c, *rng);
  EXPECT_EQ(run_warp_roles(emu, c, src), warp_roles_expected(c, src));
}

// named_barrier among the consumer warps only (bulk_copy_cases.h): the exchange is exact; with race
// checking it is ordered by the named barrier (without it, a race), and a count no side can reach
// is a deadlock.
std::string named_fault(NamedUse use, const std::vector<int32_t>& in) {
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = true});
  try {
    run_named_barrier(*dev, use, in, 1);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(WarpRoles, NamedBarrierSynchronisesTheConsumersAlone) {
  testing_support::SeededRng rng;
  const std::vector<int32_t> in = named_barrier_source(*rng, 3);
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a, .race_check = true});
  EXPECT_EQ(run_named_barrier(*dev, NamedUse::Exchange, in, 3), named_barrier_expected(in));
  const std::string racing = named_fault(NamedUse::NoBarrier, in);
  EXPECT_TRUE(mentions(racing, {"shared-memory race", "warp 2 wrote"})) << racing;
  const std::string stuck = named_fault(NamedUse::TooMany, in);
  EXPECT_TRUE(mentions(stuck, {"'named_barrier'", "never completes: 96 of 128 threads", "deadlock"})) << stuck;
}

TEST(WarpRoles, NamedBarrierArgumentsAreCheckedWhenTracing) {
  auto trace_error = [](int id, int threads, Target target) -> std::string {
    KernelOptions opts;
    opts.block = {64, 1, 1};
    const KernelDef def = kernel("named_barrier_args", [=](Ptr<int32_t> out) {
      tile::named_barrier(id, threads);
      out[thread_id()] = 0;
    }, opts);
    try {
      (void)def.trace(target);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(trace_error(3, 64, Target::Sm90a), "");
  EXPECT_TRUE(mentions(trace_error(0, 64, Target::Sm90a), {"bulk_copy_test.cpp", "named_barrier id 0", "1..15"}));
  EXPECT_TRUE(mentions(trace_error(2, 48, Target::Sm90a), {"bulk_copy_test.cpp", "48 threads", "multiple of 32"}));
  EXPECT_TRUE(mentions(trace_error(1, 64, Target::Gfx950), {"bulk_copy_test.cpp", "named_barrier"}));
}

TEST(BulkCopy, RingArgumentErrorsNameTheLine) {
  auto trace_error = [](int stages, int64_t words, int arrivals) -> std::string {
    KernelOptions opts;
    opts.block = {32, 1, 1};
    const KernelDef def = kernel(
        "bulk_ring_args",
        [=](Ptr<int32_t> out) {
          tile::BulkRing ring(stages, words);
          ring.init(arrivals);
          out[thread_id()] = 0;
        },
        opts);
    try {
      (void)def.trace(Target::Sm90a);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_EQ(trace_error(2, 64, 1), "");
  EXPECT_TRUE(mentions(trace_error(0, 64, 1), {"bulk_copy_test.cpp", "at least one stage", "0 stages"}));
  EXPECT_TRUE(mentions(trace_error(2, 6, 1), {"bulk_copy_test.cpp", "multiple of 4 words", "6 words"}));
  EXPECT_TRUE(mentions(trace_error(2, 64, 0), {"bulk_copy_test.cpp", "at least one arrival", "got 0"}));
}

TEST(BulkCopy, Gfx950RejectsTheOpsWhenTracing) {
  KernelOptions opts;
  opts.block = {64, 1, 1};
  const KernelDef def = kernel(
      "bulk_on_gfx950",
      [](Ptr<int32_t> src) {
        SharedPtr<int64_t> bar = shared_array<int64_t>(1);
        tile::mbarrier_init(bar, 1);
        (void)src;
      },
      opts);
  try {
    compile(def, testing_support::emulator_device(Target::Gfx950));
    FAIL() << "gfx950 accepted mbarrier_init";
  } catch (const UserError& e) {
    EXPECT_TRUE(mentions(e.what(), {"mbarrier_init", "exists only on sm_90a", "bulk_copy_test.cpp"})) << e.what();
  }
}

}  // namespace
