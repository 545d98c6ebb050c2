// Work-item ids, structured control flow under masks (nested/divergent loops, if), var slots.
#include <limits>

#include "emu_test.h"

namespace emutest {
namespace {

struct Env {
  std::unique_ptr<Device> dev;
  explicit Env(Target t = Target::Sm90a, unsigned threads = 2) : dev(emulator::make_emulator_device({t, threads})) {}
  void run(const ir::Function& fn, Dim3 grid, Dim3 block, std::vector<KernelArg> args) {
    dev->load(fn, nullptr)->launch(grid, block, args, nullptr);
  }
};

class Ids : public ::testing::TestWithParam<Target> {};

TEST_P(Ids, ThreadBlockGridAndLaneIds) {
  Target target = GetParam();
  Env env(target);
  Kernel k("ids");
  ValueId out = k.param("out", G(Scalar::I32));
  // linear global id = ((bz*gy + by)*gx + bx) * threads + (tz*by_dim + ty)*bx_dim + tx
  auto gd = [&](int d) { return k.op(OpCode::GridDim, S(Scalar::I32), {}, {d}); };
  ValueId block_lin = k.add(k.mul(k.add(k.mul(k.bid(2), gd(1)), k.bid(1)), gd(0)), k.bid(0));
  ValueId threads = k.mul(k.mul(k.bdim(0), k.bdim(1)), k.bdim(2));
  ValueId t_lin = k.add(k.mul(k.add(k.mul(k.tid(2), k.bdim(1)), k.tid(1)), k.bdim(0)), k.tid(0));
  ValueId base = k.mul(k.add(k.mul(block_lin, threads), t_lin), k.i32(13));
  std::vector<ValueId> vals = {k.tid(0), k.tid(1), k.tid(2), k.bid(0), k.bid(1), k.bid(2), k.bdim(0), k.bdim(1),
                               k.bdim(2), gd(0),    gd(1),    gd(2),    k.op(OpCode::LaneId, S(Scalar::I32))};
  for (size_t i = 0; i < vals.size(); ++i) k.store(k.at(out, k.add(base, k.i32(int64_t(i)))), vals[i]);
  Dim3 grid{3, 2, 2}, block{8, 5, 3};
  size_t n = grid.count() * block.count() * 13;
  DevicePtr o = poisoned<int32_t>(*env.dev, n);
  env.run(k.fn, grid, block, {ptr_arg(o, Scalar::I32)});
  auto got = download<int32_t>(*env.dev, o, n);
  int ws = target == Target::Gfx950 ? 64 : 32;
  size_t i = 0;
  for (uint32_t bz = 0; bz < grid.z; ++bz)
    for (uint32_t by = 0; by < grid.y; ++by)
      for (uint32_t bx = 0; bx < grid.x; ++bx)
        for (uint32_t tz = 0; tz < block.z; ++tz)
          for (uint32_t ty = 0; ty < block.y; ++ty)
            for (uint32_t tx = 0; tx < block.x; ++tx) {
              int lin = int((tz * block.y + ty) * block.x + tx);
              std::vector<int> want = {int(tx), int(ty), int(tz), int(bx), int(by), int(bz), int(block.x), int(block.y),
                                       int(block.z), int(grid.x), int(grid.y), int(grid.z), lin % ws};
              for (int v : want) ASSERT_EQ(got[i++], v) << "entry " << i - 1;
            }
}

INSTANTIATE_TEST_SUITE_P(Targets, Ids, ::testing::Values(Target::Sm90a, Target::Gfx950));

TEST(Control, NestedLoopsWithLoopInvariantValues) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Env env;
  Kernel k("nested");
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId na = k.param("na", S(Scalar::I32));
  ValueId nb = k.param("nb", S(Scalar::I32));
  ValueId g = k.gid();
  ValueId scale = k.mul(g, k.i32(7));  // defined outside, used in the inner loop
  ValueId acc = k.var(k.i32(0));
  k.for_(k.i32(0), na, k.i32(1), [&](ValueId i) {
    ValueId ii = k.mul(i, i);
    k.for_(k.i32(1), nb, k.i32(2), [&](ValueId j) {
      ValueId t = k.add(k.add(k.mul(ii, j), scale), k.i32(3));
      k.set(acc, k.add(k.get(acc), t));
    });
  });
  k.store(k.at(out, g), k.get(acc));
  int32_t A = 3 + int32_t(rng() % 6), B = 2 + int32_t(rng() % 9);
  const size_t n = 256;
  DevicePtr o = poisoned<int32_t>(*env.dev, n);
  env.run(k.fn, {4, 1, 1}, {64, 1, 1}, {ptr_arg(o, Scalar::I32), i32_arg(A), i32_arg(B)});
  auto got = download<int32_t>(*env.dev, o, n);
  for (size_t gi = 0; gi < n; ++gi) {
    int32_t want = 0;
    for (int32_t i = 0; i < A; ++i)
      for (int32_t j = 1; j < B; j += 2) want += i * i * j + int32_t(gi) * 7 + 3;
    ASSERT_EQ(got[gi], want) << gi;
  }
}

TEST(Control, LoopsWithPerLaneTripCountsReconverge) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Env env;
  Kernel k("trip");
  ValueId in = k.param("trips", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId after = k.param("after", G(Scalar::I32));
  ValueId g = k.gid();
  ValueId trip = k.load(S(Scalar::I32), k.at(in, g));
  ValueId acc = k.var(k.i32(5));
  ValueId start = k.op(OpCode::SRem, S(Scalar::I32), {g, k.i32(3)});
  k.for_(start, trip, k.add(start, k.i32(1)), [&](ValueId i) { k.set(acc, k.add(k.get(acc), k.add(k.mul(i, k.i32(3)), k.i32(1)))); });
  k.store(k.at(out, g), k.get(acc));
  k.store(k.at(after, g), k.add(g, k.i32(1000)));  // every lane runs again after the loop
  const size_t n = 192;
  std::vector<int32_t> trips(n);
  for (auto& t : trips) t = int32_t(rng() % 40) - 5;
  DevicePtr ti = upload(*env.dev, trips);
  DevicePtr o = poisoned<int32_t>(*env.dev, n), a = poisoned<int32_t>(*env.dev, n);
  env.run(k.fn, {3, 1, 1}, {64, 1, 1}, {ptr_arg(ti, Scalar::I32), ptr_arg(o, Scalar::I32), ptr_arg(a, Scalar::I32)});
  auto got = download<int32_t>(*env.dev, o, n), aft = download<int32_t>(*env.dev, a, n);
  for (size_t gi = 0; gi < n; ++gi) {
    int32_t s = int32_t(gi) % 3, want = 5;
    for (int32_t i = s; i < trips[gi]; i += s + 1) want += i * 3 + 1;
    ASSERT_EQ(got[gi], want) << gi << " trip " << trips[gi];
    ASSERT_EQ(aft[gi], int32_t(gi) + 1000);
  }
}

TEST(Control, IfInsideLoopWithNestedDivergence) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Env env(Target::Gfx950);
  Kernel k("branchy");
  ValueId in = k.param("in", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId g = k.gid();
  ValueId x = k.load(S(Scalar::I32), k.at(in, g));
  ValueId acc = k.var(k.i32(0));
  ValueId cnt = k.var(k.i32(0));
  k.for_(k.i32(0), k.i32(24), k.i32(1), [&](ValueId i) {
    ValueId m = k.op(OpCode::URem, S(Scalar::I32), {k.add(i, x), k.i32(3)});
    k.if_(
        k.icmp(CmpPred::Eq, m, k.i32(0)), [&] { k.set(acc, k.add(k.get(acc), i)); },
        [&] {
          k.if_(k.icmp(CmpPred::Slt, i, k.op(OpCode::And, S(Scalar::I32), {x, k.i32(15)})),
                [&] { k.set(acc, k.op(OpCode::Sub, S(Scalar::I32), {k.get(acc), k.i32(1)})); });
          k.set(cnt, k.add(k.get(cnt), k.i32(1)));
        });
  });
  k.store(k.at(out, k.mul(g, k.i32(2))), k.get(acc));
  k.store(k.at(out, k.add(k.mul(g, k.i32(2)), k.i32(1))), k.get(cnt));
  const size_t n = 128;
  std::vector<int32_t> xs(n);
  for (auto& v : xs) v = int32_t(rng() % 1000);
  DevicePtr xi = upload(*env.dev, xs);
  DevicePtr o = poisoned<int32_t>(*env.dev, 2 * n);
  env.run(k.fn, {1, 1, 1}, {128, 1, 1}, {ptr_arg(xi, Scalar::I32), ptr_arg(o, Scalar::I32)});
  auto got = download<int32_t>(*env.dev, o, 2 * n);
  for (size_t gi = 0; gi < n; ++gi) {
    int32_t acc_ref = 0, cnt_ref = 0, xv = xs[gi];
    for (int32_t i = 0; i < 24; ++i) {
      if (uint32_t(i + xv) % 3 == 0) {
        acc_ref += i;
      } else {
        if (i < (xv & 15)) acc_ref -= 1;
        ++cnt_ref;
      }
    }
    ASSERT_EQ(got[2 * gi], acc_ref) << gi;
    ASSERT_EQ(got[2 * gi + 1], cnt_ref) << gi;
  }
}

TEST(Control, BranchesWriteOnlyTheirLanesAndReconverge) {
  Env env;
  Kernel k("branches");
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId g = k.gid();
  ValueId odd = k.icmp(CmpPred::Ne, k.op(OpCode::And, S(Scalar::I32), {g, k.i32(1)}), k.i32(0));
  ValueId slot = k.var(g);
  k.if_(
      odd, [&] { k.store(k.at(out, g), k.mul(g, k.i32(10))); },
      [&] {
        k.store(k.at(out, g), k.op(OpCode::Sub, S(Scalar::I32), {k.i32(0), g}));
        k.set(slot, k.i32(-7));
      });
  k.store(k.at(out, k.add(g, k.i32(96))), k.get(slot));  // after reconvergence: all lanes
  DevicePtr o = poisoned<int32_t>(*env.dev, 192);
  env.run(k.fn, {1, 1, 1}, {96, 1, 1}, {ptr_arg(o, Scalar::I32)});
  auto got = download<int32_t>(*env.dev, o, 192);
  for (int32_t gi = 0; gi < 96; ++gi) {
    ASSERT_EQ(got[size_t(gi)], (gi & 1) ? gi * 10 : -gi) << gi;
    ASSERT_EQ(got[size_t(gi) + 96], (gi & 1) ? gi : -7) << gi;
  }
}

TEST(Control, I64InductionAndOverflowingStepTerminate) {
  Env env;
  Kernel k("wide_loop");
  ValueId out = k.param("out", G(Scalar::I64));
  ValueId g = k.gid();
  ValueId lo = k.add(k.i64(int64_t(1) << 40), k.op(OpCode::SExt, S(Scalar::I64), {g}));
  ValueId acc = k.var(k.i64(0));
  k.for_(lo, k.i64((int64_t(1) << 40) + 100), k.i64(9), [&](ValueId i) { k.set(acc, k.add(k.get(acc), i)); });
  // i32 loop whose next step would overflow: INT_MAX-5, INT_MAX-1, then stop.
  ValueId cnt = k.var(k.i32(0));
  k.for_(k.i32(std::numeric_limits<int32_t>::max() - 5), k.i32(std::numeric_limits<int32_t>::max()), k.i32(4),
         [&](ValueId) { k.set(cnt, k.add(k.get(cnt), k.i32(1))); });
  // Empty loop: lo >= hi.
  k.for_(k.i32(5), k.i32(5), k.i32(1), [&](ValueId) { k.set(cnt, k.i32(-100)); });
  k.store(k.at(out, k.mul(g, k.i32(2))), k.get(acc));
  k.store(k.at(out, k.add(k.mul(g, k.i32(2)), k.i32(1))), k.op(OpCode::SExt, S(Scalar::I64), {k.get(cnt)}));
  DevicePtr o = poisoned<int64_t>(*env.dev, 128);
  env.run(k.fn, {1, 1, 1}, {64, 1, 1}, {ptr_arg(o, Scalar::I64)});
  auto got = download<int64_t>(*env.dev, o, 128);
  for (int64_t gi = 0; gi < 64; ++gi) {
    int64_t want = 0;
    for (int64_t i = (int64_t(1) << 40) + gi; i < (int64_t(1) << 40) + 100; i += 9) want += i;
    ASSERT_EQ(got[size_t(2 * gi)], want);
    ASSERT_EQ(got[size_t(2 * gi + 1)], 2);
  }
}

TEST(Control, ManyTemporariesShareStorageSafely) {
  // A long chain with values defined before a loop and used late inside it, so storage reuse
  // must respect loop lifetimes.
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  Env env;
  Kernel k("chain");
  ValueId in = k.param("in", G(Scalar::F32));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId g = k.gid();
  ValueId x = k.load(S(Scalar::F32), k.at(in, g));
  std::vector<ValueId> pre;
  for (int i = 0; i < 12; ++i) pre.push_back(k.op(OpCode::FMul, S(Scalar::F32), {x, k.f32(float(i + 1) * 0.25f)}));
  ValueId acc = k.var(k.f32(0));
  k.for_(k.i32(0), k.i32(10), k.i32(1), [&](ValueId i) {
    ValueId fi = k.op(OpCode::SIToFP, S(Scalar::F32), {i});
    ValueId t = fi;
    for (int j = 0; j < 12; ++j) {
      ValueId tmp = k.op(OpCode::FAdd, S(Scalar::F32), {t, k.f32(1.0f)});
      t = k.op(OpCode::FMul, S(Scalar::F32), {tmp, k.f32(0.5f)});
      t = k.op(OpCode::FAdd, S(Scalar::F32), {t, pre[size_t(11 - j)]});
    }
    k.set(acc, k.op(OpCode::FAdd, S(Scalar::F32), {k.get(acc), t}));
  });
  k.store(k.at(out, g), k.get(acc));
  std::vector<float> xs(128);
  for (auto& v : xs) v = float(int(rng() % 200) - 100) / 8.0f;
  DevicePtr xi = upload(*env.dev, xs);
  DevicePtr o = poisoned<float>(*env.dev, 128);
  env.run(k.fn, {2, 1, 1}, {64, 1, 1}, {ptr_arg(xi, Scalar::F32), ptr_arg(o, Scalar::F32)});
  auto got = download<float>(*env.dev, o, 128);
  for (size_t gi = 0; gi < 128; ++gi) {
    float a = 0;
    for (int i = 0; i < 10; ++i) {
      float t = float(i);
      for (int j = 0; j < 12; ++j) {
        t = (t + 1.0f) * 0.5f;
        t = t + xs[gi] * (float(11 - j + 1) * 0.25f);
      }
      a = a + t;
    }
    ASSERT_TRUE(same_float(got[gi], a)) << gi << ": " << got[gi] << " vs " << a;
  }
}

TEST(Control, ValuesUsedOutsideTheirRegionAreRejected) {
  Kernel k("scoping");
  ValueId c = k.cbits(S(Scalar::I1), 1);
  ValueId inner = 0;
  k.if_(c, [&] { inner = k.i32(3); });
  k.add(inner, inner);
  auto dev = emulator::make_emulator_device();
  try {
    dev->load(k.fn, nullptr);
    FAIL() << "expected UserError";
  } catch (const UserError& e) {
    EXPECT_TRUE(mentions(e.what(), {"scoping", "'add'", "outside the region"}));
  }
}

}  // namespace
}  // namespace emutest
