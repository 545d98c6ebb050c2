// Target intrinsics: cp.async (zero fill, group/wait visibility), ldmatrix (both modes), target checks,
// and, when dsl/matrix is present, mma and cvt_pk_bf16_fp4 against plain C++ layouts.
#include <algorithm>
#include <numeric>

#include "emu_test.h"

namespace emutest {
namespace {

constexpr uint32_t kPoison = 0xA5A5A5A5u;

/// Fills `words` i32 of shared memory at `sm` with kPoison (one word per thread per step).
void poison_shared(Kernel& k, ValueId sm_i32, int words, ValueId t, int threads) {
  k.for_(k.i32(0), k.i32(words / threads), k.i32(1), [&](ValueId i) {
    k.store(k.at(sm_i32, k.add(k.mul(i, k.i32(threads)), t)), k.cbits(S(Scalar::I32), int32_t(kPoison)));
  });
  k.barrier();
}

TEST(CpAsync, CopiesSixteenBytesWithZeroFill) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  const int threads = 64;
  Kernel k("cp_zero_fill");
  ValueId src = k.param("src", G(Scalar::I8));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId sm = k.shared(Scalar::I32, threads * 4);
  ValueId t = k.tid(0);
  poison_shared(k, sm, threads * 4, t, threads);
  ValueId dst8 = k.op(OpCode::Bitcast, SH(Scalar::I8), {sm});
  ValueId n = k.op(OpCode::URem, S(Scalar::I32), {t, k.i32(17)});
  k.effect(OpCode::CpAsync, {k.at(dst8, k.mul(t, k.i32(16))), k.at(src, k.mul(t, k.i32(16))), n});
  k.effect(OpCode::CpAsyncCommit, {});
  k.effect(OpCode::CpAsyncWait, {}, {0});
  k.barrier();
  ValueId v = k.load(V(Scalar::I32, 4), k.at(sm, k.mul(t, k.i32(4))));
  k.store(k.at(out, k.mul(t, k.i32(4))), v);
  std::vector<uint8_t> bytes(threads * 16);
  for (auto& b : bytes) b = uint8_t(rng() | 1);
  DevicePtr s = upload(*dev, bytes), o = poisoned<uint8_t>(*dev, threads * 16);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(s, Scalar::I8), ptr_arg(o, Scalar::I32)}, nullptr);
  auto got = download<uint8_t>(*dev, o, threads * 16);
  for (int l = 0; l < threads; ++l)
    for (int b = 0; b < 16; ++b)
      ASSERT_EQ(got[size_t(l * 16 + b)], b < l % 17 ? bytes[size_t(l * 16 + b)] : 0) << "lane " << l << " byte " << b;
}

// Four-byte copies (cp.async.ca): each lane copies word t of the source to word (t * 7) % words of
// shared memory (a permutation), half of them with zero fill.
TEST(CpAsync, CopiesFourByteWordsToAnyAlignedPlace) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  const int threads = 64;
  Kernel k("cp_words");
  ValueId src = k.param("src", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId sm = k.shared(Scalar::I32, threads);
  ValueId t = k.tid(0);
  poison_shared(k, sm, threads, t, threads);
  ValueId to = k.op(OpCode::URem, S(Scalar::I32), {k.mul(t, k.i32(7)), k.i32(threads)});
  ValueId n = k.mul(k.op(OpCode::URem, S(Scalar::I32), {t, k.i32(2)}), k.i32(4));
  k.effect(OpCode::CpAsync, {k.at(sm, to), k.at(src, t), n}, {4});
  k.effect(OpCode::CpAsyncCommit, {});
  k.effect(OpCode::CpAsyncWait, {}, {0});
  k.barrier();
  k.store(k.at(out, t), k.load(S(Scalar::I32), k.at(sm, t)));
  std::vector<int32_t> words(threads);
  for (auto& v : words) v = int32_t(rng() | 1);
  DevicePtr s = upload(*dev, words), o = poisoned<int32_t>(*dev, threads);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(s, Scalar::I32), ptr_arg(o, Scalar::I32)}, nullptr);
  auto got = download<int32_t>(*dev, o, threads);
  for (int l = 0; l < threads; ++l) {
    int to_l = l * 7 % threads;
    ASSERT_EQ(got[size_t(to_l)], l % 2 ? words[size_t(l)] : 0) << "lane " << l;
  }
}

TEST(CpAsync, CopiesBecomeVisibleOnlyAtTheWaitThatRetiresTheirGroup) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  const int threads = 32;
  Kernel k("cp_groups");
  ValueId src = k.param("src", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId sm = k.shared(Scalar::I32, threads * 12);  // three 16-byte regions per thread
  ValueId t = k.tid(0);
  poison_shared(k, sm, threads * 12, t, threads);
  auto region = [&](int r) { return k.mul(k.add(k.mul(t, k.i32(3)), k.i32(r)), k.i32(4)); };
  for (int r = 0; r < 3; ++r) {
    k.effect(OpCode::CpAsync, {k.at(sm, region(r)), k.at(src, region(r)), k.i32(16)});
    if (r < 2) k.effect(OpCode::CpAsyncCommit, {});  // groups 0 and 1 committed; region 2 stays in the open group
  }
  auto snapshot = [&](int stage) {
    for (int r = 0; r < 3; ++r) {
      ValueId v = k.load(V(Scalar::I32, 4), k.at(sm, region(r)));
      ValueId o = k.add(k.mul(k.add(k.mul(k.i32(stage), k.i32(threads)), t), k.i32(12)), k.i32(4 * r));
      k.store(k.at(out, o), v);
    }
  };
  snapshot(0);  // nothing visible yet
  k.effect(OpCode::CpAsyncWait, {}, {1});
  snapshot(1);  // group 0 only
  k.effect(OpCode::CpAsyncWait, {}, {0});
  snapshot(2);  // groups 0 and 1; the uncommitted copy is still pending
  k.effect(OpCode::CpAsyncCommit, {});
  k.effect(OpCode::CpAsyncWait, {}, {0});
  snapshot(3);  // everything
  std::vector<int32_t> data(threads * 12);
  for (auto& d : data) d = int32_t(rng() | 1);
  DevicePtr s = upload(*dev, data), o = poisoned<int32_t>(*dev, 4 * threads * 12);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {threads, 1, 1}, std::vector{ptr_arg(s, Scalar::I32), ptr_arg(o, Scalar::I32)}, nullptr);
  auto got = download<uint32_t>(*dev, o, 4 * threads * 12);
  for (int stage = 0; stage < 4; ++stage)
    for (int l = 0; l < threads; ++l)
      for (int r = 0; r < 3; ++r) {
        bool visible = (stage == 1 && r == 0) || (stage == 2 && r < 2) || stage == 3;
        for (int w = 0; w < 4; ++w) {
          size_t i = size_t(((stage * threads + l) * 12) + 4 * r + w);
          uint32_t want = visible ? uint32_t(data[size_t(l * 12 + 4 * r + w)]) : kPoison;
          ASSERT_EQ(got[i], want) << "stage " << stage << " lane " << l << " region " << r;
        }
      }
}

TEST(CpAsync, ChecksAlignmentAndSourceBoundsButNotForZeroBytes) {
  auto dev = emulator::make_emulator_device({Target::Sm90a, 1});
  auto run = [&](int src_offset, int nbytes, size_t src_len, int size = 16) -> std::string {
    Kernel k("cp_checks");
    ValueId src = k.param("src", G(Scalar::I8));
    ValueId sm = k.shared(Scalar::I8, 64 * 16);
    ValueId t = k.tid(0);
    k.effect(OpCode::CpAsync, {k.at(sm, k.mul(t, k.i32(size))), k.at(src, k.add(k.mul(t, k.i32(size)), k.i32(src_offset))),
                               k.i32(nbytes)}, size == 16 ? std::vector<int64_t>{} : std::vector<int64_t>{size});
    k.effect(OpCode::CpAsyncCommit, {});
    k.effect(OpCode::CpAsyncWait, {}, {0});
    DevicePtr s = dev->alloc(src_len);
    try {
      dev->load(k.fn, nullptr)->launch({1, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(s, Scalar::I8)}, nullptr);
    } catch (const EmulatorFault& e) {
      return e.what();
    }
    return "";
  };
  EXPECT_TRUE(mentions(run(4, 16, 64 * 16 + 16), {"cp_checks", "'cp_async'", "thread (0,0,0)", "misaligned"}));
  EXPECT_TRUE(mentions(run(0, 16, 62 * 16 + 8), {"'cp_async'", "thread (62,0,0)", "out-of-bounds global read"}));
  EXPECT_EQ(run(0, 0, 16), "");  // src_bytes 0: nothing is read, whatever the address
  // Four-byte copies: four-byte alignment, at most four source bytes.
  EXPECT_EQ(run(4, 4, 64 * 4 + 4, 4), "");
  EXPECT_TRUE(mentions(run(2, 4, 64 * 4 + 4, 4), {"'cp_async'", "thread (0,0,0)", "misaligned"}));
  EXPECT_TRUE(mentions(run(0, 8, 64 * 4, 4), {"'cp_async'", "src_bytes 8 is outside 0..4"}));
}

// prefetch_l2 changes nothing; the emulator checks what the hardware needs of the range on both
// targets (gfx950 drops the hint, but a kernel that prefetches past its buffers has a bug).
TEST(PrefetchL2, ChecksTheRangeAndChangesNothing) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (Target target : {Target::Sm90a, Target::Gfx950}) {
    auto dev = emulator::make_emulator_device({target, 1});
    // Each thread prefetches `bytes` at src + t * stride + offset, then copies its word of src to out.
    auto run = [&](int offset, int bytes, int stride, size_t src_len, std::vector<uint32_t>* out) -> std::string {
      Kernel k("prefetch_checks");
      ValueId src = k.param("src", G(Scalar::I8));
      ValueId o = k.param("out", G(Scalar::I32));
      ValueId t = k.tid(0);
      k.effect(OpCode::PrefetchL2, {k.at(src, k.add(k.mul(t, k.i32(stride)), k.i32(offset))), k.i32(bytes)});
      ValueId src32 = k.op(OpCode::Bitcast, G(Scalar::I32), {src});
      k.store(k.at(o, t), k.load(S(Scalar::I32), k.at(src32, t)));
      std::vector<uint8_t> bytes_in(src_len);
      for (auto& b : bytes_in) b = uint8_t(rng());
      DevicePtr s = upload(*dev, bytes_in), d = poisoned<uint32_t>(*dev, 64);
      try {
        dev->load(k.fn, nullptr)->launch({1, 1, 1}, {64, 1, 1}, std::vector{ptr_arg(s, Scalar::I8), ptr_arg(d, Scalar::I32)}, nullptr);
      } catch (const EmulatorFault& e) {
        return e.what();
      }
      if (out) {
        std::vector<uint32_t> want(64);
        std::memcpy(want.data(), bytes_in.data(), 256);
        *out = download<uint32_t>(*dev, d, 64);
        EXPECT_EQ(*out, want);
      }
      return "";
    };
    std::vector<uint32_t> got;
    EXPECT_EQ(run(0, 64, 64, 64 * 64, &got), "");
    EXPECT_EQ(got.size(), 64u);
    EXPECT_TRUE(mentions(run(8, 16, 64, 64 * 64 + 64, nullptr), {"prefetch_checks", "'prefetch_l2'", "thread (0,0,0)", "misaligned"}));
    EXPECT_TRUE(mentions(run(0, 128, 64, 64 * 64, nullptr), {"'prefetch_l2'", "thread (63,0,0)", "out-of-bounds global read"}));
    EXPECT_TRUE(mentions(run(0, 24, 64, 64 * 64, nullptr), {"'prefetch_l2'", "thread (0,0,0)", "multiple of 16"}));
    EXPECT_TRUE(mentions(run(0, 0, 64, 64 * 64, nullptr), {"'prefetch_l2'", "multiple of 16"}));
  }
}

/// Row slots of 16 bytes in shared memory; lane 8j + r of each warp addresses row r of matrix j.
void check_ldmatrix(bool trans) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  const int threads = 64, slots = 80;
  Kernel k("ldmatrix");
  ValueId rows = k.param("rows", G(Scalar::BF16));    // slots * 8 bf16
  ValueId slot_of = k.param("slot", G(Scalar::I32));  // per thread: which slot holds its row
  ValueId out = k.param("out", G(Scalar::BF16));
  ValueId sm = k.shared(Scalar::BF16, slots * 8);
  ValueId t = k.tid(0);
  k.for_(k.i32(0), k.i32(slots * 8 / threads), k.i32(1), [&](ValueId i) {
    ValueId idx = k.add(k.mul(i, k.i32(threads)), t);
    k.store(k.at(sm, idx), k.load(S(Scalar::BF16), k.at(rows, idx)));
  });
  k.barrier();
  ValueId slot = k.load(S(Scalar::I32), k.at(slot_of, t));
  ValueId r = k.op(OpCode::LdMatrix, V(Scalar::BF16, 8), {k.at(sm, k.mul(slot, k.i32(8)))}, {trans ? 1 : 0});
  k.store(k.at(out, k.mul(t, k.i32(8))), r);
  std::vector<uint16_t> data(slots * 8);
  for (auto& d : data) d = uint16_t(rng());
  std::vector<int32_t> perm(slots);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  perm.resize(threads);
  DevicePtr pr = upload(*dev, data), ps = upload(*dev, perm), po = poisoned<uint16_t>(*dev, threads * 8);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {threads, 1, 1},
                                   std::vector{ptr_arg(pr, Scalar::BF16), ptr_arg(ps, Scalar::I32), ptr_arg(po, Scalar::BF16)}, nullptr);
  auto got = download<uint16_t>(*dev, po, threads * 8);
  for (int warp = 0; warp < threads / 32; ++warp) {
    // M_j[row][col] = the bf16 at column col of the row lane 8j + row addresses.
    auto M = [&](int j, int row, int col) { return data[size_t(perm[size_t(warp * 32 + 8 * j + row)] * 8 + col)]; };
    for (int l = 0; l < 32; ++l)
      for (int j = 0; j < 4; ++j) {
        uint16_t lo = trans ? M(j, 2 * (l % 4), l / 4) : M(j, l / 4, 2 * (l % 4));
        uint16_t hi = trans ? M(j, 2 * (l % 4) + 1, l / 4) : M(j, l / 4, 2 * (l % 4) + 1);
        size_t base = size_t((warp * 32 + l) * 8 + 2 * j);
        ASSERT_EQ(got[base], lo) << "warp " << warp << " lane " << l << " reg " << j;
        ASSERT_EQ(got[base + 1], hi) << "warp " << warp << " lane " << l << " reg " << j;
      }
  }
}

TEST(LdMatrix, NonTransposedMatchesThePtxLayout) { check_ldmatrix(false); }
TEST(LdMatrix, TransposedMatchesThePtxLayout) { check_ldmatrix(true); }

TEST(LdMatrix, NeedsTheWholeWarp) {
  auto dev = emulator::make_emulator_device({Target::Sm90a, 1});
  Kernel k("ldmatrix_partial");
  ValueId sm = k.shared(Scalar::BF16, 32 * 8);
  ValueId t = k.tid(0);
  k.if_(k.icmp(CmpPred::Slt, t, k.i32(16)), [&] {
    k.op(OpCode::LdMatrix, V(Scalar::BF16, 8), {k.at(sm, k.mul(t, k.i32(8)))}, {0});
  });
  try {
    dev->load(k.fn, nullptr)->launch({1, 1, 1}, {32, 1, 1}, {}, nullptr);
    FAIL() << "expected EmulatorFault";
  } catch (const EmulatorFault& e) {
    EXPECT_TRUE(mentions(e.what(), {"ldmatrix_partial", "'ldmatrix'", "thread (16,0,0)", "all 32 lanes"}));
  }
}

/// Runs wave_umax and wave_umin over `waves` waves of the target and checks every lane against
/// the maximum / minimum of its own wave computed here.
void check_wave_reduce(Target target, int waves) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int ws = target == Target::Gfx950 ? 64 : 32, n = ws * waves;
  auto dev = emulator::make_emulator_device({target, 2});
  Kernel k("wave_reduce");
  ValueId in = k.param("in", G(Scalar::I32));
  ValueId out = k.param("out", G(Scalar::I32));
  ValueId t = k.tid(0);
  ValueId v = k.load(S(Scalar::I32), k.at(in, t));
  k.store(k.at(out, k.mul(t, k.i32(2))), k.op(OpCode::WaveUMax, S(Scalar::I32), {v}));
  k.store(k.at(out, k.add(k.mul(t, k.i32(2)), k.i32(1))), k.op(OpCode::WaveUMin, S(Scalar::I32), {v}));
  std::vector<uint32_t> vals(static_cast<size_t>(n));
  for (auto& x : vals) x = rng() % 3 ? rng() : rng() % 256;  // full-range and small values, unsigned order matters
  DevicePtr di = upload(*dev, vals), dout = poisoned<uint32_t>(*dev, size_t(n) * 2);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {uint32_t(n), 1, 1}, std::vector{ptr_arg(di, Scalar::I32), ptr_arg(dout, Scalar::I32)},
                                   nullptr);
  auto got = download<uint32_t>(*dev, dout, size_t(n) * 2);
  for (int w = 0; w < waves; ++w) {
    auto first = vals.begin() + w * ws, last = first + ws;
    uint32_t mx = *std::max_element(first, last), mn = *std::min_element(first, last);
    for (int l = w * ws; l < (w + 1) * ws; ++l) {
      ASSERT_EQ(got[size_t(2 * l)], mx) << "wave " << w << " lane " << l % ws << " (max)";
      ASSERT_EQ(got[size_t(2 * l + 1)], mn) << "wave " << w << " lane " << l % ws << " (min)";
    }
  }
}

TEST(WaveReduce, Sm90aWarpMaxAndMinPerWarp) { check_wave_reduce(Target::Sm90a, 3); }
TEST(WaveReduce, Gfx950WaveMaxAndMinPerWave) { check_wave_reduce(Target::Gfx950, 2); }

TEST(WaveReduce, NeedsTheWholeWave) {
  auto dev = emulator::make_emulator_device({Target::Sm90a, 1});
  Kernel k("reduce_partial");
  ValueId t = k.tid(0);
  k.if_(k.icmp(CmpPred::Ne, t, k.i32(5)), [&] { k.op(OpCode::WaveUMax, S(Scalar::I32), {t}); });
  try {
    dev->load(k.fn, nullptr)->launch({1, 1, 1}, {32, 1, 1}, {}, nullptr);
    FAIL() << "expected EmulatorFault";
  } catch (const EmulatorFault& e) {
    EXPECT_TRUE(mentions(e.what(), {"reduce_partial", "'wave_umax'", "thread (5,0,0)", "all 32 lanes"}));
  }
}

TEST(Intrinsics, TargetOnlyOpsAreRejectedOnTheOtherTarget) {
  auto expect_reject = [](Target target, std::function<void(Kernel&)> body, const std::string& op) {
    Kernel k("wrong_target");
    body(k);
    auto dev = emulator::make_emulator_device({target, 1});
    try {
      dev->load(k.fn, nullptr);
      ADD_FAILURE() << op << " was accepted";
    } catch (const UserError& e) {
      EXPECT_TRUE(mentions(e.what(), {"wrong_target", "'" + op + "'", std::string(target_info(target).name)}));
    }
  };
  expect_reject(Target::Gfx950, [](Kernel& k) {
    ValueId sm = k.shared(Scalar::BF16, 8);
    k.op(OpCode::LdMatrix, V(Scalar::BF16, 8), {sm}, {0});
  }, "ldmatrix");
  expect_reject(Target::Gfx950, [](Kernel& k) { k.effect(OpCode::CpAsyncCommit, {}); }, "cp_async_commit");
  expect_reject(Target::Sm90a, [](Kernel& k) {
    k.op(OpCode::CvtPkBf16Fp4, V(Scalar::BF16, 2), {k.i32(0x12), k.f32(1.0f)}, {0});
  }, "cvt_pk_bf16_fp4");
}

#if __has_include("dsl/matrix/mma.h")

/// Runs one mma per wave: lane l's registers are given in lane order; returns d per lane.
std::vector<float> run_mma(Target target, int instr, int waves, int a_n, int b_n, const std::vector<uint16_t>& a,
                           const std::vector<uint16_t>& b, const std::vector<float>& c) {
  int ws = target == Target::Gfx950 ? 64 : 32;
  auto dev = emulator::make_emulator_device({target, 2});
  Kernel k("mma");
  ValueId pa = k.param("a", G(Scalar::BF16));
  ValueId pb = k.param("b", G(Scalar::BF16));
  ValueId pc = k.param("c", G(Scalar::F32));
  ValueId pd = k.param("d", G(Scalar::F32));
  ValueId t = k.tid(0);
  ValueId va = k.load(V(Scalar::BF16, a_n), k.at(pa, k.mul(t, k.i32(a_n))));
  ValueId vb = k.load(V(Scalar::BF16, b_n), k.at(pb, k.mul(t, k.i32(b_n))));
  ValueId vc = k.load(V(Scalar::F32, 4), k.at(pc, k.mul(t, k.i32(4))));
  ValueId d = k.op(OpCode::Mma, V(Scalar::F32, 4), {va, vb, vc}, {instr});
  k.store(k.at(pd, k.mul(t, k.i32(4))), d);
  uint32_t n = uint32_t(ws * waves);
  DevicePtr da = upload(*dev, a), db = upload(*dev, b), dc = upload(*dev, c), dd = poisoned<float>(*dev, n * 4);
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {n, 1, 1},
                                   std::vector{ptr_arg(da, Scalar::BF16), ptr_arg(db, Scalar::BF16), ptr_arg(dc, Scalar::F32),
                                               ptr_arg(dd, Scalar::F32)},
                                   nullptr);
  return download<float>(*dev, dd, n * 4);
}

TEST(Mma, Sm90M16N8K16MatchesThePtxFragmentLayout) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int waves = 2;
  std::vector<uint16_t> a(32 * waves * 8), b(32 * waves * 4);
  std::vector<float> c(32 * waves * 4);
  std::vector<std::vector<float>> A(waves, std::vector<float>(16 * 16)), B(waves, std::vector<float>(16 * 8)),
      C(waves, std::vector<float>(16 * 8));
  for (int w = 0; w < waves; ++w) {
    for (auto& x : A[size_t(w)]) x = float(int(rng() % 9) - 4);  // small integers: the result is exact
    for (auto& x : B[size_t(w)]) x = float(int(rng() % 9) - 4);
    for (auto& x : C[size_t(w)]) x = float(int(rng() % 201) - 100);
    for (int l = 0; l < 32; ++l) {
      int g = l >> 2, t = l & 3, L = w * 32 + l;
      auto Af = [&](int r, int col) { return ref_bf16(A[size_t(w)][size_t(r * 16 + col)]); };
      auto Bf = [&](int kk, int nn) { return ref_bf16(B[size_t(w)][size_t(kk * 8 + nn)]); };
      uint16_t av[8] = {Af(g, 2 * t), Af(g, 2 * t + 1), Af(g + 8, 2 * t), Af(g + 8, 2 * t + 1),
                        Af(g, 2 * t + 8), Af(g, 2 * t + 9), Af(g + 8, 2 * t + 8), Af(g + 8, 2 * t + 9)};
      uint16_t bv[4] = {Bf(2 * t, g), Bf(2 * t + 1, g), Bf(2 * t + 8, g), Bf(2 * t + 9, g)};
      for (int i = 0; i < 8; ++i) a[size_t(L * 8 + i)] = av[i];
      for (int i = 0; i < 4; ++i) b[size_t(L * 4 + i)] = bv[i];
      float cv[4] = {C[size_t(w)][size_t(g * 8 + 2 * t)], C[size_t(w)][size_t(g * 8 + 2 * t + 1)],
                     C[size_t(w)][size_t((g + 8) * 8 + 2 * t)], C[size_t(w)][size_t((g + 8) * 8 + 2 * t + 1)]};
      for (int i = 0; i < 4; ++i) c[size_t(L * 4 + i)] = cv[i];
    }
  }
  auto d = run_mma(Target::Sm90a, 1, waves, 8, 4, a, b, c);
  for (int w = 0; w < waves; ++w)
    for (int l = 0; l < 32; ++l) {
      int g = l >> 2, t = l & 3;
      int rows[4] = {g, g, g + 8, g + 8}, cols[4] = {2 * t, 2 * t + 1, 2 * t, 2 * t + 1};
      for (int i = 0; i < 4; ++i) {
        double want = C[size_t(w)][size_t(rows[i] * 8 + cols[i])];
        for (int kk = 0; kk < 16; ++kk)
          want += double(A[size_t(w)][size_t(rows[i] * 16 + kk)]) * B[size_t(w)][size_t(kk * 8 + cols[i])];
        ASSERT_EQ(double(d[size_t((w * 32 + l) * 4 + i)]), want) << "wave " << w << " lane " << l << " c" << i;
      }
    }
}

TEST(Mma, Gfx950M16N16K32MatchesTheMfmaLayout) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<float> A(16 * 32), B(32 * 16), C(16 * 16);
  for (auto& x : A) x = float(int(rng() % 9) - 4);
  for (auto& x : B) x = float(int(rng() % 9) - 4);
  for (auto& x : C) x = float(int(rng() % 201) - 100);
  std::vector<uint16_t> a(64 * 8), b(64 * 8);
  std::vector<float> c(64 * 4);
  for (int l = 0; l < 64; ++l) {
    for (int i = 0; i < 8; ++i) {
      a[size_t(l * 8 + i)] = ref_bf16(A[size_t((l % 16) * 32 + 8 * (l / 16) + i)]);  // A[m][k]: m = l%16, k = 8(l/16)+i
      b[size_t(l * 8 + i)] = ref_bf16(B[size_t((8 * (l / 16) + i) * 16 + l % 16)]);  // B[k][n]: n = l%16
    }
    for (int i = 0; i < 4; ++i) c[size_t(l * 4 + i)] = C[size_t((4 * (l / 16) + i) * 16 + l % 16)];  // m = 4(l/16)+i
  }
  auto d = run_mma(Target::Gfx950, 0, 1, 8, 8, a, b, c);
  for (int l = 0; l < 64; ++l)
    for (int i = 0; i < 4; ++i) {
      int m = 4 * (l / 16) + i, n = l % 16;
      double want = C[size_t(m * 16 + n)];
      for (int kk = 0; kk < 32; ++kk) want += double(A[size_t(m * 32 + kk)]) * B[size_t(kk * 16 + n)];
      ASSERT_EQ(double(d[size_t(l * 4 + i)]), want) << "lane " << l << " element " << i;
    }
}

TEST(Mma, NeedsTheWholeWave) {
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  Kernel k("mma_partial");
  ValueId t = k.tid(0);
  ValueId va = k.op(OpCode::Splat, V(Scalar::BF16, 8), {k.cbits(S(Scalar::BF16), 0x3F80)});
  ValueId vc = k.op(OpCode::Splat, V(Scalar::F32, 4), {k.f32(0.0f)});
  k.if_(k.icmp(CmpPred::Sge, t, k.i32(3)), [&] { k.op(OpCode::Mma, V(Scalar::F32, 4), {va, va, vc}, {0}); });
  try {
    dev->load(k.fn, nullptr)->launch({1, 1, 1}, {64, 1, 1}, {}, nullptr);
    FAIL() << "expected EmulatorFault";
  } catch (const EmulatorFault& e) {
    EXPECT_TRUE(mentions(e.what(), {"mma_partial", "'mma'", "thread (0,0,0)", "all 64 lanes"}));
  }
}

TEST(CvtPkBf16Fp4, DecodesTheSelectedByteWithTheScaleExponent) {
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const double e2m1[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  for (int sel = 0; sel < 4; ++sel) {
    std::vector<uint32_t> src(256);
    std::vector<float> scale(256);
    for (size_t i = 0; i < src.size(); ++i) {
      src[i] = uint32_t(rng());
      uint32_t x = (i < 4) ? uint32_t(i == 0 ? 0 : i == 1 ? 1 : i == 2 ? 253 : 254) : uint32_t(rng() % 255);
      scale[i] = std::bit_cast<float>(x << 23);
    }
    auto out = run_op<uint16_t>(OpCode::CvtPkBf16Fp4, V(Scalar::BF16, 2),
                                {Operand::of(S(Scalar::I32), src), Operand::of(S(Scalar::F32), scale)}, 256, {sel},
                                Target::Gfx950);
    for (size_t i = 0; i < src.size(); ++i) {
      int x = int((std::bit_cast<uint32_t>(scale[i]) >> 23) & 0xFF);
      for (int h = 0; h < 2; ++h) {
        uint32_t code = (src[i] >> (8 * sel + 4 * h)) & 0xF;
        double v = e2m1[code & 7] * std::ldexp(1.0, x - 127);
        if (code & 8) v = -v;
        uint16_t want = uint16_t(std::bit_cast<uint32_t>(float(round_big(Big(v), 8, -126, 127))) >> 16);
        if (v == 0) want = (code & 8) ? 0x8000 : 0x0000;
        ASSERT_EQ(out[i * 2 + size_t(h)], want) << "src " << std::hex << src[i] << " sel " << sel << " x " << std::dec << x;
      }
    }
  }
}

#endif  // dsl/matrix

}  // namespace
}  // namespace emutest
