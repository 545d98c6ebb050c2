// Options::race_check: shared accesses by different warps to the same word between two barriers,
// at least one a write, are faults; one warp alone, reads only, or a barrier between are fine.
#include <fmt/format.h>

#include "emu_test.h"

namespace emutest {
namespace {

enum class Pattern { WriteThenOtherWarpReads, WriteBarrierRead, TwoWarpsWrite, ReadThenOtherWarpWrites, OneWarpWritesAndReads,
                     CopyThenOtherWarpReads };

/// 64 threads (two warps on sm_90a): thread 3 (warp 0) and thread 40 (warp 1) meet at word 7 of a
/// shared array; the reader writes what it read to its out[], every other thread its own word.
/// Returns the fault ("" none).
std::string run(Pattern pattern, bool race_check, std::vector<int32_t>* out_values = nullptr) {
  const int threads = 64;
  Kernel k("race");
  ValueId src = k.param("src", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId sm = k.shared(Scalar::I32, 64);
  ValueId t = k.tid(0);
  auto is = [&](int thread) { return k.op(OpCode::ICmp, S(Scalar::I1), {t, k.i32(thread)}, {int64_t(ir::CmpPred::Eq)}); };
  ValueId word = k.at(sm, k.i32(7));
  k.store(k.at(sm, t), t);  // every thread its own word: no race
  k.barrier();
  switch (pattern) {
    case Pattern::WriteThenOtherWarpReads:
    case Pattern::WriteBarrierRead:
      k.if_(is(3), [&] { k.store(word, k.i32(100)); });
      if (pattern == Pattern::WriteBarrierRead) k.barrier();
      k.if_(is(40), [&] { k.store(k.at(out, t), k.load(S(Scalar::I32), word)); });
      break;
    case Pattern::TwoWarpsWrite:
      k.if_(is(3), [&] { k.store(word, k.i32(100)); });
      k.if_(is(40), [&] { k.store(word, k.i32(200)); });
      break;
    case Pattern::ReadThenOtherWarpWrites:
      k.if_(is(40), [&] { k.store(k.at(out, t), k.load(S(Scalar::I32), word)); });
      k.if_(is(3), [&] { k.store(word, k.i32(100)); });
      break;
    case Pattern::OneWarpWritesAndReads:  // threads 3 and 5: the same warp
      k.if_(is(3), [&] { k.store(word, k.i32(100)); });
      k.if_(is(5), [&] { k.store(k.at(out, t), k.load(S(Scalar::I32), word)); });
      break;
    case Pattern::CopyThenOtherWarpReads:  // thread 3 copies 16 bytes over words 4..7, thread 40 reads word 7
      k.if_(is(3), [&] {
        k.effect(OpCode::CpAsync, {k.op(OpCode::Bitcast, SH(Scalar::I8), {k.at(sm, k.i32(4))}),
                                   k.op(OpCode::Bitcast, G(Scalar::I8), {src}), k.i32(16)});
        k.effect(OpCode::CpAsyncCommit, {});
        k.effect(OpCode::CpAsyncWait, {}, {0});
      });
      k.if_(is(40), [&] { k.store(k.at(out, t), k.load(S(Scalar::I32), word)); });
      break;
  }
  k.barrier();
  const int reader = pattern == Pattern::OneWarpWritesAndReads ? 5 : 40;  // its out[] holds word 7
  k.if_(k.op(OpCode::ICmp, S(Scalar::I1), {t, k.i32(reader)}, {int64_t(ir::CmpPred::Ne)}),
        [&] { k.store(k.at(out, t), k.load(S(Scalar::I32), k.at(sm, t))); });
  emulator::Options o{Target::Sm90a, 1};
  o.race_check = race_check;
  auto dev = emulator::make_emulator_device(o);
  DevicePtr ps = upload(*dev, std::vector<int32_t>{9, 9, 9, 9}), po = poisoned<int32_t>(*dev, threads);
  try {
    dev->load(k.fn, nullptr)->launch({1, 1, 1}, {uint32_t(threads), 1, 1},
                                     std::vector{ptr_arg(ps, Scalar::I32), ptr_arg(po, Scalar::I32)}, nullptr);
  } catch (const EmulatorFault& e) {
    return e.what();
  }
  if (out_values) *out_values = download<int32_t>(*dev, po, threads);
  return "";
}

TEST(RaceCheck, AWriteAndAnotherWarpsAccessWithoutABarrierAreAFault) {
  EXPECT_TRUE(mentions(run(Pattern::WriteThenOtherWarpReads, true),
                       {"race", "'load'", "thread (40,0,0)", "shared-memory race", "warp 0 wrote", "0x1c"}));
  EXPECT_TRUE(mentions(run(Pattern::TwoWarpsWrite, true), {"'store'", "thread (40,0,0)", "this write", "warp 0 wrote"}));
  EXPECT_TRUE(mentions(run(Pattern::ReadThenOtherWarpWrites, true), {"'store'", "thread (3,0,0)", "warp 1 read"}));
  EXPECT_TRUE(mentions(run(Pattern::CopyThenOtherWarpReads, true), {"'load'", "thread (40,0,0)", "warp 0 wrote"}));
}

TEST(RaceCheck, ABarrierBetweenOrOneWarpIsFine) {
  std::vector<int32_t> got;
  EXPECT_EQ(run(Pattern::WriteBarrierRead, true, &got), "");
  ASSERT_EQ(got.size(), 64u);
  for (int i = 0; i < 64; ++i) EXPECT_EQ(got[size_t(i)], i == 40 ? 100 : i == 7 ? 100 : i) << i;
  EXPECT_EQ(run(Pattern::OneWarpWritesAndReads, true, &got), "");
  EXPECT_EQ(got[5], 100);
}

TEST(RaceCheck, IsOffByDefault) {
  std::vector<int32_t> got;
  EXPECT_EQ(run(Pattern::WriteThenOtherWarpReads, false, &got), "");
  EXPECT_EQ(got[40], 100);  // in lockstep the write came first
}

}  // namespace
}  // namespace emutest
