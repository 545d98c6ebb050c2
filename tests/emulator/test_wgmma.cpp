// wgmma m64nNk16 on the emulator: operands placed in shared memory by the host in the K-major
// layouts (ops.def: no swizzle, 128-byte swizzle), chained k-steps, two warpgroups, against a
// double reference; the warpgroup checks (whole group, uniform addresses), writes into operands
// a wgmma may still read, writes not published with fence_proxy_async, and the target check.
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "emu_test.h"

namespace emutest {
namespace {

uint16_t bf16_of(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return uint16_t(u >> 16);  // the test values are exact in bf16
}
double value_of(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

struct Case {
  int n, lbo, sbo, steps, warpgroups;
  int swizzle = 0;  // 1: 128-byte swizzle (lbo unused)
};

/// Shared byte offset of element (r, k) of an operand at `base` (ops.def).
int element_at(const Case& c, int base, int r, int k) {
  if (!c.swizzle) return base + (r / 8) * c.sbo + (k / 8) * c.lbo + (r % 8) * 16 + (k % 8) * 2;
  int u = base + (r / 8) * c.sbo + (r % 8) * 128 + k * 2;
  return u ^ (((u >> 7) & 7) << 4);
}

/// Bytes a rows x 16 operand spans in the layout (swizzled: whole 1024-byte atoms).
int span(const Case& c, int rows) {
  if (c.swizzle) return ((rows - 1) / 8 * c.sbo + 1024 + 1023) / 1024 * 1024;
  int end = 0;
  for (int r = 0; r < rows; ++r)
    for (int h = 0; h < 2; ++h) end = std::max(end, (r / 8) * c.sbo + h * c.lbo + (r % 8) * 16 + 16);
  return (end + 15) / 16 * 16;
}

void check(const Case& c) {
  SCOPED_TRACE(fmt::format("n {} lbo {} sbo {} steps {} warpgroups {} swizzle {}", c.n, c.lbo, c.sbo, c.steps,
                           c.warpgroups, c.swizzle));
  uint32_t seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int threads = 128 * c.warpgroups, width = c.n / 2;
  const int a_span = span(c, 64), b_span = span(c, c.n);
  const int tiles = c.warpgroups * c.steps;
  const int image_bytes = (tiles * (a_span + b_span) + threads * 4 - 1) / (threads * 4) * (threads * 4);
  // A[g][s] (64 x 16) and B[g][s] (n x 16) of warpgroup g, step s; small integers times powers of
  // two, so every product and sum is exact in f32 and the reference is exact.
  auto draw = [&] { return float(int(rng() % 15) - 7) * std::ldexp(1.0f, int(rng() % 5) - 2); };
  std::vector<uint16_t> image(size_t(image_bytes) / 2);
  for (auto& h : image) h = 0xFFC1;  // poison (a NaN) in every gap of the layout
  std::vector<std::vector<double>> A(size_t(tiles), std::vector<double>(64 * 16)),
      B(size_t(tiles), std::vector<double>(size_t(c.n) * 16));
  auto place = [&](int base, int rows, std::vector<double>& m) {
    for (int r = 0; r < rows; ++r)
      for (int k = 0; k < 16; ++k) {
        uint16_t h = bf16_of(draw());
        m[size_t(r * 16 + k)] = value_of(h);
        image[size_t(element_at(c, base, r, k)) / 2] = h;
      }
  };
  for (int t = 0; t < tiles; ++t) {
    place(t * a_span, 64, A[size_t(t)]);
    place(tiles * a_span + t * b_span, c.n, B[size_t(t)]);
  }
  std::vector<float> cin(size_t(threads) * width);
  for (auto& v : cin) v = draw();

  Kernel k("wgmma");
  ValueId img = k.param("image", G(Scalar::I32));
  ValueId acc_in = k.param("c", G(Scalar::F32));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId sm = k.shared(Scalar::I32, image_bytes / 4);
  ValueId t = k.tid(0);
  k.for_(k.i32(0), k.i32(image_bytes / 4 / threads), k.i32(1), [&](ValueId i) {
    ValueId idx = k.add(k.mul(i, k.i32(threads)), t);
    k.store(k.at(sm, idx), k.load(S(Scalar::I32), k.at(img, idx)));
  });
  k.effect(OpCode::FenceProxyAsync, {});
  k.barrier();
  ValueId smb = k.op(OpCode::Bitcast, SH(Scalar::BF16), {sm});
  ValueId g = k.op(OpCode::UDiv, S(Scalar::I32), {t, k.i32(128)});
  ValueId acc = k.load(V(Scalar::F32, width), k.at(acc_in, k.mul(t, k.i32(width))));
  k.effect(OpCode::WgmmaFence, {});
  for (int s = 0; s < c.steps; ++s) {
    ValueId tile = k.add(k.mul(g, k.i32(c.steps)), k.i32(s));
    ValueId a = k.at(smb, k.mul(tile, k.i32(a_span / 2)));
    ValueId b = k.at(smb, k.add(k.i32(tiles * a_span / 2), k.mul(tile, k.i32(b_span / 2))));
    acc = k.op(OpCode::Wgmma, V(Scalar::F32, width), {a, b, acc}, {c.n, c.lbo, c.sbo, c.swizzle});
  }
  k.effect(OpCode::WgmmaCommit, {});
  acc = k.op(OpCode::WgmmaWait, V(Scalar::F32, width), {acc}, {0});
  k.store(k.at(out, k.mul(t, k.i32(width))), acc);

  auto dev = emulator::make_emulator_device({Target::Sm90a, 2});
  DevicePtr pi = upload(*dev, image), pc = upload(*dev, cin), po = poisoned<float>(*dev, cin.size());
  dev->load(k.fn, nullptr)->launch({1, 1, 1}, {uint32_t(threads), 1, 1},
                                   std::vector{ptr_arg(pi, Scalar::I32), ptr_arg(pc, Scalar::F32), ptr_arg(po, Scalar::F32)},
                                   nullptr);
  auto got = download<float>(*dev, po, cin.size());
  for (int lane = 0; lane < threads; ++lane)
    for (int i = 0; i < width; ++i) {
      const int gq = lane / 128, w = lane % 128 / 32, l = lane % 32;
      const int row = 16 * w + l / 4 + 8 * (i / 2 % 2), col = 8 * (i / 4) + 2 * (l % 4) + i % 2;
      double want = cin[size_t(lane * width + i)];
      for (int s = 0; s < c.steps; ++s) {
        const auto& a = A[size_t(gq * c.steps + s)];
        const auto& b = B[size_t(gq * c.steps + s)];
        for (int kk = 0; kk < 16; ++kk) want += a[size_t(row * 16 + kk)] * b[size_t(col * 16 + kk)];
      }
      ASSERT_EQ(double(got[size_t(lane * width + i)]), want) << "lane " << lane << " element " << i << " (row " << row
                                                              << ", column " << col << ")";
    }
}

TEST(Wgmma, OneStepN8) { check({8, 128, 256, 1, 1}); }
TEST(Wgmma, ChainedStepsN64TwoWarpgroups) { check({64, 128, 256, 3, 2}); }
TEST(Wgmma, KHalvesApartN128) { check({128, 2048, 128, 2, 1}); }  // all of K 0..7 first, then K 8..15
TEST(Wgmma, PaddedLayoutN32) { check({32, 384, 768, 1, 2}); }
TEST(Wgmma, Swizzled128N64) { check({64, 16, 1024, 2, 2, 1}); }
TEST(Wgmma, Swizzled128AtomsApartN128) { check({128, 16, 2048, 1, 1, 1}); }

/// A wgmma kernel of `threads` threads whose warpgroups read A at `a_of_thread` (elements).
std::string run_fault(int threads, bool uniform) {
  Kernel k("wgmma_fault");
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId sm = k.shared(Scalar::BF16, 64 * 16 * 4);
  ValueId t = k.tid(0);
  ValueId a = uniform ? sm : k.at(sm, k.mul(k.op(OpCode::URem, S(Scalar::I32), {t, k.i32(2)}), k.i32(64 * 16)));
  ValueId zero = k.op(OpCode::Splat, V(Scalar::F32, 4), {k.f32(0.0f)});
  ValueId d = k.op(OpCode::Wgmma, V(Scalar::F32, 4), {a, sm, zero}, {8, 128, 256, 0});
  d = k.op(OpCode::WgmmaWait, V(Scalar::F32, 4), {d}, {0});
  k.store(k.at(out, k.mul(t, k.i32(4))), d);
  auto dev = emulator::make_emulator_device({Target::Sm90a, 1});
  DevicePtr po = poisoned<float>(*dev, size_t(threads) * 4);
  try {
    dev->load(k.fn, nullptr)->launch({1, 1, 1}, {uint32_t(threads), 1, 1}, std::vector{ptr_arg(po, Scalar::F32)}, nullptr);
  } catch (const EmulatorFault& e) {
    return e.what();
  }
  return "";
}

TEST(Wgmma, NeedsTheWholeWarpgroup) {
  EXPECT_TRUE(mentions(run_fault(96, true), {"wgmma_fault", "'wgmma'", "all 128 lanes"}));
}

TEST(Wgmma, NeedsOneAddressPerWarpgroup) {
  EXPECT_TRUE(mentions(run_fault(128, false), {"wgmma_fault", "'wgmma'", "thread (1,0,0)", "same in the whole warpgroup"}));
}

/// Launches a one-block kernel(src: 16 bytes of bf16 ones, out: 4 floats per thread) on the
/// emulator; the fault message, or "" when every output is `want`.
std::string launch_ones(const Kernel& k, int threads, float want) {
  auto dev = emulator::make_emulator_device({Target::Sm90a, 1});
  std::vector<uint8_t> ones(16);
  for (size_t i = 0; i < ones.size(); i += 2) ones[i] = 0x80, ones[i + 1] = 0x3F;  // bf16 1.0
  DevicePtr ps = upload(*dev, ones), po = poisoned<float>(*dev, size_t(threads) * 4);
  try {
    dev->load(k.fn, nullptr)->launch({1, 1, 1}, {uint32_t(threads), 1, 1},
                                     std::vector{ptr_arg(ps, Scalar::I8), ptr_arg(po, Scalar::F32)}, nullptr);
  } catch (const EmulatorFault& e) {
    return e.what();
  }
  auto got = download<float>(*dev, po, size_t(threads) * 4);
  for (size_t i = 0; i < got.size(); ++i)
    if (got[i] != want) return fmt::format("element {} is {}", i, got[i]);
  return "";
}

// A write into shared memory a wgmma may still read (hardware reads the operands until a wait
// retires the group) is a race the emulator reports, naming the writer and the wgmma's warpgroup.
enum class Race { StoreBeforeWait, StoreIntoNewerGroup, StoreIntoRetiredGroup, CopyIntoInFlight, OtherWarpgroup };

/// Tiles of 64 x 16 (A) and 8 x 16 (B) bf16 in the no-swizzle layout (lbo 128, sbo 256): A1 at
/// byte 0, B1 at 2048, A2 at 4096, B2 at 6144. Returns the fault message ("" when none).
std::string run_race(Race race) {
  const int threads = race == Race::OtherWarpgroup ? 256 : 128;
  Kernel k("wgmma_race");
  ValueId src = k.param("src", G(Scalar::I8));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId sm = k.shared(Scalar::BF16, 4096);
  ValueId t = k.tid(0);
  ValueId one = k.op(OpCode::Const, S(Scalar::BF16), {}, {0x3F80});
  k.for_(k.i32(0), k.i32(4096 / threads), k.i32(1), [&](ValueId i) {
    k.store(k.at(sm, k.add(k.mul(i, k.i32(threads)), t)), one);
  });
  k.effect(OpCode::FenceProxyAsync, {});
  k.barrier();
  ValueId zero = k.op(OpCode::Splat, V(Scalar::F32, 4), {k.f32(0.0f)});
  auto tile = [&](ValueId byte) { return k.at(sm, k.op(OpCode::UDiv, S(Scalar::I32), {byte, k.i32(2)})); };
  // Warpgroup g's first pair: A1 / B1 (g 0) or A2 / B2 (g 1, OtherWarpgroup only).
  ValueId g4096 = k.mul(k.op(OpCode::UDiv, S(Scalar::I32), {t, k.i32(128)}), k.i32(4096));
  auto wgmma = [&](ValueId a_byte, ValueId b_byte, ValueId acc) {
    return k.op(OpCode::Wgmma, V(Scalar::F32, 4), {tile(a_byte), tile(b_byte), acc}, {8, 128, 256, 0});
  };
  k.effect(OpCode::WgmmaFence, {});
  ValueId d = wgmma(g4096, k.add(g4096, k.i32(2048)), zero);
  k.effect(OpCode::WgmmaCommit, {});
  const bool two = race == Race::StoreIntoNewerGroup || race == Race::StoreIntoRetiredGroup;
  if (two) {
    d = wgmma(k.i32(4096), k.i32(6144), d);
    k.effect(OpCode::WgmmaCommit, {});
    d = k.op(OpCode::WgmmaWait, V(Scalar::F32, 4), {d}, {1});  // the first group is retired
  }
  ValueId writer = k.op(OpCode::ICmp, S(Scalar::I1), {t, k.i32(race == Race::OtherWarpgroup ? 130 : 5)},
                        {int64_t(ir::CmpPred::Eq)});
  k.if_(writer, [&] {
    switch (race) {
      case Race::StoreBeforeWait: k.store(tile(k.i32(1000)), one); break;           // inside A1
      case Race::StoreIntoNewerGroup: k.store(tile(k.i32(4096 + 64)), one); break;  // inside A2
      case Race::StoreIntoRetiredGroup: k.store(tile(k.i32(64)), one); break;       // inside A1
      case Race::OtherWarpgroup: k.store(tile(k.i32(2048 + 32)), one); break;       // B1, read by warpgroup 0
      case Race::CopyIntoInFlight:
        k.effect(OpCode::CpAsync, {k.at(k.op(OpCode::Bitcast, SH(Scalar::I8), {sm}), k.i32(2048 + 16)), src, k.i32(16)});
        k.effect(OpCode::CpAsyncCommit, {});
        k.effect(OpCode::CpAsyncWait, {}, {0});
        break;
    }
  });
  d = k.op(OpCode::WgmmaWait, V(Scalar::F32, 4), {d}, {0});
  k.store(k.at(out, k.mul(t, k.i32(4))), d);
  return launch_ones(k, threads, two ? 32.0f : 16.0f);  // without a race: 16 ones times 16 ones, once or twice
}

TEST(Wgmma, AStoreIntoOperandsInFlightIsARace) {
  EXPECT_TRUE(mentions(run_race(Race::StoreBeforeWait),
                       {"wgmma_race", "'store'", "thread (5,0,0)", "wgmma still in flight", "warpgroup 0", "0x3e8"}));
  EXPECT_TRUE(mentions(run_race(Race::StoreIntoNewerGroup), {"'store'", "wgmma still in flight", "0x1040"}));
  EXPECT_TRUE(mentions(run_race(Race::OtherWarpgroup), {"thread (130,0,0)", "warpgroup 0, threads 0..127"}));
}

TEST(Wgmma, ACopyIntoOperandsInFlightIsARace) {
  EXPECT_TRUE(mentions(run_race(Race::CopyIntoInFlight), {"'cp_async'", "thread (5,0,0)", "wgmma still in flight"}));
}

TEST(Wgmma, WritesAfterTheWaitRetiresTheGroupAreFine) { EXPECT_EQ(run_race(Race::StoreIntoRetiredGroup), ""); }

// wgmma reads shared memory through the async proxy: a thread's stores and landed cp.async
// copies reach it only after that thread's fence_proxy_async (then a barrier for the others).
enum class Publish { Fenced, NoFence, FenceBeforeCopyLands, FenceAfterCopyLands };

std::string run_publish(Publish how) {
  const int threads = 128;
  Kernel k("wgmma_publish");
  ValueId src = k.param("src", G(Scalar::I8));
  ValueId out = k.param("out", G(Scalar::F32));
  ValueId sm = k.shared(Scalar::BF16, 2048 + 128);  // A (64 x 16) then B (8 x 16), no swizzle
  ValueId t = k.tid(0);
  ValueId one = k.op(OpCode::Const, S(Scalar::BF16), {}, {0x3F80});
  k.for_(k.i32(0), k.i32((2048 + 128) / threads), k.i32(1), [&](ValueId i) {
    k.store(k.at(sm, k.add(k.mul(i, k.i32(threads)), t)), one);
  });
  const bool copy = how == Publish::FenceBeforeCopyLands || how == Publish::FenceAfterCopyLands;
  if (copy) {  // thread 9 copies 16 bytes of ones over B's first chunk
    k.if_(k.op(OpCode::ICmp, S(Scalar::I1), {t, k.i32(9)}, {int64_t(ir::CmpPred::Eq)}), [&] {
      k.effect(OpCode::CpAsync, {k.op(OpCode::Bitcast, SH(Scalar::I8), {k.at(sm, k.i32(2048))}), src, k.i32(16)});
      k.effect(OpCode::CpAsyncCommit, {});
    });
  }
  if (how == Publish::Fenced || how == Publish::FenceBeforeCopyLands) k.effect(OpCode::FenceProxyAsync, {});
  if (copy) k.effect(OpCode::CpAsyncWait, {}, {0});
  if (how == Publish::FenceAfterCopyLands) k.effect(OpCode::FenceProxyAsync, {});
  k.barrier();
  ValueId zero = k.op(OpCode::Splat, V(Scalar::F32, 4), {k.f32(0.0f)});
  k.effect(OpCode::WgmmaFence, {});
  ValueId d = k.op(OpCode::Wgmma, V(Scalar::F32, 4), {sm, k.at(sm, k.i32(2048)), zero}, {8, 128, 256, 0});
  k.effect(OpCode::WgmmaCommit, {});
  d = k.op(OpCode::WgmmaWait, V(Scalar::F32, 4), {d}, {0});
  k.store(k.at(out, k.mul(t, k.i32(4))), d);
  return launch_ones(k, threads, 16.0f);
}

TEST(Wgmma, SharedWritesReachItAfterTheWritersProxyFence) {
  EXPECT_EQ(run_publish(Publish::Fenced), "");
  EXPECT_EQ(run_publish(Publish::FenceAfterCopyLands), "");
  EXPECT_TRUE(mentions(run_publish(Publish::NoFence), {"wgmma_publish", "'wgmma'", "without a fence_proxy_async"}));
  // The fence must follow the copy's landing (cp_async_wait), not its issue.
  EXPECT_TRUE(mentions(run_publish(Publish::FenceBeforeCopyLands), {"'wgmma'", "thread (9,0,0) wrote", "0x1000"}));
}

TEST(Wgmma, ExistsOnlyOnSm90a) {
  Kernel k("wgmma_gfx");
  ValueId sm = k.shared(Scalar::BF16, 64 * 16);
  ValueId zero = k.op(OpCode::Splat, V(Scalar::F32, 4), {k.f32(0.0f)});
  k.op(OpCode::Wgmma, V(Scalar::F32, 4), {sm, sm, zero}, {8, 128, 256, 0});
  auto dev = emulator::make_emulator_device({Target::Gfx950, 1});
  try {
    dev->load(k.fn, nullptr);
    ADD_FAILURE() << "wgmma was accepted on gfx950";
  } catch (const UserError& e) {
    EXPECT_TRUE(mentions(e.what(), {"wgmma_gfx", "'wgmma'", "gfx950"}));
  }
}

}  // namespace
}  // namespace emutest
