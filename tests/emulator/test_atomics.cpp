// atomic_add (i32, f32, <2 x bf16>): contention across workgroups and worker threads, exact rounding chains.
#include <cmath>
#include <limits>

#include "emu_test.h"

namespace emutest {
namespace {

/// Kernel: for r in [0, reps): atomic_add(&out[(gid * 7 + r) % bins], in[gid * reps + r]).
ir::Function contention_kernel(Type vt, Scalar pointee, int reps, int bins) {
  Kernel k("contention");
  ValueId in = k.param("in", G(vt.elem));
  ValueId out = k.param("out", G(pointee));
  ValueId g = k.gid();
  k.for_(k.i32(0), k.i32(reps), k.i32(1), [&](ValueId r) {
    ValueId v = k.load(vt, k.at(in, k.mul(k.add(k.mul(g, k.i32(reps)), r), k.i32(vt.width))));
    ValueId bin = k.op(OpCode::URem, S(Scalar::I32), {k.add(k.mul(g, k.i32(7)), r), k.i32(bins)});
    k.effect(OpCode::AtomicAdd, {k.at(out, k.mul(bin, k.i32(vt.width))), v});
  });
  return k.fn;
}

TEST(Atomics, I32AddUnderContentionFromManyWorkgroups) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Sm90a, 4});
  const int blocks = 48, threads = 128, reps = 8, bins = 5;
  auto fn = contention_kernel(S(Scalar::I32), Scalar::I32, reps, bins);
  std::vector<int32_t> xs(size_t(blocks) * threads * reps);
  for (auto& x : xs) x = int32_t(rng());
  std::vector<int32_t> init(bins);
  for (auto& x : init) x = int32_t(rng());
  DevicePtr in = upload(*dev, xs), out = upload(*dev, init);
  dev->load(fn, nullptr)->launch({blocks, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(in, Scalar::I32), ptr_arg(out, Scalar::I32)}, nullptr);
  auto got = download<int32_t>(*dev, out, bins);
  std::vector<uint32_t> want(init.begin(), init.end());
  for (int g = 0; g < blocks * threads; ++g)
    for (int r = 0; r < reps; ++r) want[size_t((g * 7 + r) % bins)] += uint32_t(xs[size_t(g * reps + r)]);
  for (int b = 0; b < bins; ++b) ASSERT_EQ(uint32_t(got[size_t(b)]), want[size_t(b)]) << "bin " << b;
}

TEST(Atomics, F32AddUnderContentionWithIntegerValues) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (Target target : {Target::Sm90a, Target::Gfx950}) {
    auto dev = emulator::make_emulator_device({target, 4});
    const int blocks = 40, threads = 128, reps = 6, bins = 3;
    auto fn = contention_kernel(S(Scalar::F32), Scalar::F32, reps, bins);
    // Integer values: every partial sum is exact, so any order gives the same result.
    std::vector<float> xs(size_t(blocks) * threads * reps);
    for (auto& x : xs) x = float(int(rng() % 17) - 8);
    std::vector<float> init = {1.0f, -3.0f, 100.0f};
    DevicePtr in = upload(*dev, xs), out = upload(*dev, init);
    dev->load(fn, nullptr)->launch({blocks, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(in, Scalar::F32), ptr_arg(out, Scalar::F32)}, nullptr);
    auto got = download<float>(*dev, out, bins);
    std::vector<double> want(init.begin(), init.end());
    for (int g = 0; g < blocks * threads; ++g)
      for (int r = 0; r < reps; ++r) want[size_t((g * 7 + r) % bins)] += xs[size_t(g * reps + r)];
    for (int b = 0; b < bins; ++b) ASSERT_EQ(double(got[size_t(b)]), want[size_t(b)]) << "bin " << b;
  }
}

TEST(Atomics, BF16x2AddUnderContentionWithIntegerValues) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Gfx950, 4});
  const int blocks = 32, threads = 64, reps = 2, bins = 16;
  auto fn = contention_kernel(V(Scalar::BF16, 2), Scalar::BF16, reps, bins);
  // 256 adds of +-1 per bin: every partial sum is an integer of magnitude <= 256, which bf16 holds
  // exactly, so any order of the adds gives the same result.
  std::vector<uint16_t> xs(size_t(blocks) * threads * reps * 2);
  for (size_t i = 0; i < xs.size(); ++i) {
    bool plus = (i % 2 == 0) ? (rng() & 1) : (rng() % 4 != 0);
    xs[i] = ref_bf16(plus ? 1.0f : -1.0f);
  }
  std::vector<uint16_t> init(bins * 2, 0);
  DevicePtr in = upload(*dev, xs), out = upload(*dev, init);
  dev->load(fn, nullptr)->launch({blocks, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(in, Scalar::BF16), ptr_arg(out, Scalar::BF16)}, nullptr);
  auto got = download<uint16_t>(*dev, out, bins * 2);
  std::vector<double> want(bins * 2, 0.0);
  for (int g = 0; g < blocks * threads; ++g)
    for (int r = 0; r < reps; ++r)
      for (int h = 0; h < 2; ++h) want[size_t(((g * 7 + r) % bins) * 2 + h)] += bf16f(xs[size_t((g * reps + r) * 2 + h)]);
  for (int b = 0; b < bins * 2; ++b) {
    ASSERT_LE(std::fabs(want[size_t(b)]), 256.0) << "test data must stay exact in bf16";
    ASSERT_EQ(double(bf16f(got[size_t(b)])), want[size_t(b)]) << "bin " << b / 2 << " half " << b % 2;
  }
}

/// Kernel: lane l adds in[l * n + i] to out[l] for i = 0..n-1 (one address per lane: a sequential chain).
ir::Function chain_kernel(Type vt, Scalar pointee, int n) {
  Kernel k("chain");
  ValueId in = k.param("in", G(vt.elem));
  ValueId out = k.param("out", G(pointee));
  ValueId g = k.gid();
  ValueId dst = k.at(out, k.mul(g, k.i32(vt.width)));
  k.for_(k.i32(0), k.i32(n), k.i32(1), [&](ValueId i) {
    ValueId v = k.load(vt, k.at(in, k.mul(k.add(k.mul(g, k.i32(n)), i), k.i32(vt.width))));
    k.effect(OpCode::AtomicAdd, {dst, v});
  });
  return k.fn;
}

float ftz(float x) { return std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(0.0f, x) : x; }

TEST(Atomics, F32ChainRoundsToNearestEvenAndSm90FlushesSubnormals) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int lanes = 64, n = 12;
  std::vector<float> start(lanes), xs(size_t(lanes) * n);
  for (auto& s : start) s = random_float(rng);
  for (auto& x : xs) x = random_float(rng);
  // Probes (the rest of a probe lane's adds are zeros): 1 + 1.5*2^-24 (RNE up) then a tie to even,
  // subnormal sums, cancellation into the subnormal range, Inf - Inf, overflow.
  auto set = [&](int lane, float s, std::vector<float> adds) {
    start[size_t(lane)] = s;
    for (int i = 0; i < n; ++i) xs[size_t(lane * n + i)] = i < int(adds.size()) ? adds[size_t(i)] : 0.0f;
  };
  set(0, 1.0f, {1.5f * 0x1p-24f, 0x1p-24f});
  set(1, 0.0f, {0x1p-149f, 0x1p-140f});
  set(2, 1.5f * 0x1p-126f, {-0x1p-126f});
  set(3, 0.0f, {INFINITY, -INFINITY});
  set(4, std::numeric_limits<float>::max(), {std::numeric_limits<float>::max()});
  for (Target target : {Target::Sm90a, Target::Gfx950}) {
    SCOPED_TRACE(std::string(target_info(target).name));
    auto dev = emulator::make_emulator_device({target, 2});
    auto fn = chain_kernel(S(Scalar::F32), Scalar::F32, n);
    DevicePtr in = upload(*dev, xs), out = upload(*dev, start);
    dev->load(fn, nullptr)->launch({1, 1, 1}, {lanes, 1, 1}, std::vector{ptr_arg(in, Scalar::F32), ptr_arg(out, Scalar::F32)}, nullptr);
    auto got = download<uint32_t>(*dev, out, lanes);
    bool sm90 = target == Target::Sm90a;
    for (int l = 0; l < lanes; ++l) {
      float acc = start[size_t(l)];
      uint32_t bits = std::bit_cast<uint32_t>(acc);
      for (int i = 0; i < n; ++i) {
        float a = std::bit_cast<float>(bits), v = xs[size_t(l * n + i)];
        float s = sm90 ? ftz(ftz(a) + ftz(v)) : a + v;
        bits = std::isnan(s) ? (sm90 ? 0x7FFFFFFFu : 0x7FC00000u) : std::bit_cast<uint32_t>(s);
      }
      ASSERT_EQ(got[size_t(l)], bits) << "lane " << l;
    }
    EXPECT_EQ(got[0], std::bit_cast<uint32_t>(1.0f) + 2);  // 1 + 1.5*2^-24 -> +1ulp, then a tie -> even (+2ulp)
    if (sm90) {
      EXPECT_EQ(got[2], 0u);            // 0.5*2^-126 flushes to +0
      EXPECT_EQ(got[3], 0x7FFFFFFFu);  // NaN
    } else {
      EXPECT_EQ(got[2], std::bit_cast<uint32_t>(0.5f * 0x1p-126f));
    }
    EXPECT_EQ(got[4], std::bit_cast<uint32_t>(INFINITY));
  }
}

/// Reference bf16 add: the exact sum rounded once (RNE, subnormals kept); a NaN result is 0x7FFF.
uint16_t ref_bf16_add(uint16_t a, uint16_t b) {
  float x = bf16f(a), y = bf16f(b);
  if (std::isnan(x) || std::isnan(y) || (std::isinf(x) && std::isinf(y) && x != y)) return 0x7FFF;
  if (std::isinf(x) || std::isinf(y)) return std::isinf(x) ? a : b;
  if (x == 0 && y == 0) return (std::signbit(x) && std::signbit(y)) ? 0x8000 : 0x0000;
  Big exact = Big(x) + Big(y);
  if (exact == 0) return 0x0000;
  double r = round_big(exact, 8, -126, 127);
  return uint16_t(std::bit_cast<uint32_t>(float(r)) >> 16);
}

TEST(Atomics, BF16x2ChainRoundsEachHalfToNearestEven) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int lanes = 64, n = 10;
  std::vector<uint16_t> start(lanes * 2), xs(size_t(lanes) * n * 2);
  for (auto& s : start) s = uint16_t(rng());
  for (auto& x : xs) x = (rng() % 8 == 0) ? uint16_t(rng() & 0x807F) : uint16_t(rng());  // some subnormals
  // Probes from isa-semantics 5.4 (low half), and signed zeros (high half).
  auto set = [&](int lane, int h, float s, std::vector<float> adds, uint16_t fill = 0x0000) {
    start[size_t(lane * 2 + h)] = ref_bf16(s);
    for (size_t i = 0; i < adds.size(); ++i) xs[size_t((lane * n + int(i)) * 2 + h)] = ref_bf16(adds[i]);
    for (size_t i = adds.size(); i < size_t(n); ++i) xs[size_t((lane * n + int(i)) * 2 + h)] = fill;
  };
  set(0, 0, 1.0f, {3.0f * 0x1p-9f});        // -> 0x3F81
  set(1, 0, 1.0f, {0x1p-8f});               // tie -> 0x3F80
  set(2, 0, bf16f(0x3F81), {0x1p-8f});      // tie -> 0x3F82
  set(3, 0, 0.0f, {0x1p-133f});             // subnormal kept
  set(4, 0, 0x1p-126f, {-0x1p-133f});       // -> 0x007F
  set(5, 0, INFINITY, {-INFINITY});         // NaN -> 0x7FFF
  set(0, 1, -0.0f, {-0.0f}, 0x8000);        // -0 (then more -0)
  set(1, 1, -0.0f, {0.0f});                 // +0
  for (Target target : {Target::Sm90a, Target::Gfx950}) {
    SCOPED_TRACE(std::string(target_info(target).name));
    auto dev = emulator::make_emulator_device({target, 2});
    auto fn = chain_kernel(V(Scalar::BF16, 2), Scalar::BF16, n);
    DevicePtr in = upload(*dev, xs), out = upload(*dev, start);
    dev->load(fn, nullptr)->launch({1, 1, 1}, {lanes, 1, 1}, std::vector{ptr_arg(in, Scalar::BF16), ptr_arg(out, Scalar::BF16)}, nullptr);
    auto got = download<uint16_t>(*dev, out, lanes * 2);
    for (int l = 0; l < lanes; ++l)
      for (int h = 0; h < 2; ++h) {
        uint16_t acc = start[size_t(l * 2 + h)];
        for (int i = 0; i < n; ++i) acc = ref_bf16_add(acc, xs[size_t((l * n + i) * 2 + h)]);
        ASSERT_EQ(got[size_t(l * 2 + h)], acc) << std::hex << "lane " << l << " half " << h;
      }
    EXPECT_EQ(got[0], 0x3F81);
    EXPECT_EQ(got[2], 0x3F80);
    EXPECT_EQ(got[4], 0x3F82);
    EXPECT_EQ(got[6], 0x0001);
    EXPECT_EQ(got[8], 0x007F);
    EXPECT_EQ(got[10], 0x7FFF);
    EXPECT_EQ(got[1], 0x8000);
    EXPECT_EQ(got[3], 0x0000);
  }
}

TEST(Atomics, SharedMemoryAtomicsWithinAWorkgroup) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Gfx950, 2});
  Kernel k("shared_atomics");
  ValueId in = k.param("in", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId cnt = k.shared(Scalar::I32, 4);
  ValueId fsum = k.shared(Scalar::F32, 1);
  ValueId t = k.tid(0);
  k.if_(k.icmp(CmpPred::Slt, t, k.i32(4)), [&] { k.store(k.at(cnt, t), k.i32(0)); });
  k.if_(k.icmp(CmpPred::Eq, t, k.i32(0)), [&] { k.store(fsum, k.f32(0.5f)); });
  k.barrier();
  ValueId x = k.load(S(Scalar::I32), k.at(in, k.gid()));
  k.effect(OpCode::AtomicAdd, {k.at(cnt, k.op(OpCode::And, S(Scalar::I32), {t, k.i32(3)})), x});
  k.effect(OpCode::AtomicAdd, {fsum, k.op(OpCode::SIToFP, S(Scalar::F32), {x})});
  k.barrier();
  k.if_(k.icmp(CmpPred::Slt, t, k.i32(4)), [&] {
    k.store(k.at(out, k.add(k.mul(k.bid(0), k.i32(5)), t)), k.load(S(Scalar::I32), k.at(cnt, t)));
  });
  k.if_(k.icmp(CmpPred::Eq, t, k.i32(0)), [&] {
    k.store(k.at(out, k.add(k.mul(k.bid(0), k.i32(5)), k.i32(4))),
            k.op(OpCode::FPToSI, S(Scalar::I32), {k.op(OpCode::FMul, S(Scalar::F32), {k.load(S(Scalar::F32), fsum), k.f32(2.0f)})}));
  });
  const int blocks = 3, threads = 200;
  std::vector<int32_t> xs(blocks * threads);
  for (auto& x : xs) x = int32_t(rng() % 1000) - 500;
  DevicePtr i = upload(*dev, xs), o = poisoned<int32_t>(*dev, blocks * 5);
  dev->load(k.fn, nullptr)->launch({blocks, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(i, Scalar::I32), ptr_arg(o, Scalar::I32)}, nullptr);
  auto got = download<int32_t>(*dev, o, blocks * 5);
  for (int b = 0; b < blocks; ++b) {
    int32_t bins[4] = {0, 0, 0, 0}, total = 0;
    for (int t2 = 0; t2 < threads; ++t2) {
      bins[t2 & 3] += xs[size_t(b * threads + t2)];
      total += xs[size_t(b * threads + t2)];
    }
    for (int j = 0; j < 4; ++j) ASSERT_EQ(got[size_t(b * 5 + j)], bins[j]);
    ASSERT_EQ(got[size_t(b * 5 + 4)], 2 * total + 1);
  }
}

}  // namespace
}  // namespace emutest
