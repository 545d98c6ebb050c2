// Argument and configuration checks of the GEMM host APIs: each rejection names the argument.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <stdexcept>

#include "kernels/gemm/gemm.h"
#include "tests/common/test_devices.h"

using namespace tilejit;
using namespace tilejit::kernels;

namespace {

/// Expects `f` to throw std::invalid_argument whose message contains every word of `words`.
void expect_rejects(const std::function<void()>& f, std::initializer_list<std::string> words) {
  try {
    f();
    ADD_FAILURE() << "accepted; expected a message naming " << *words.begin();
  } catch (const std::invalid_argument& e) {
    for (const std::string& w : words) EXPECT_NE(std::string(e.what()).find(w), std::string::npos) << e.what();
  }
}

/// Random valid-looking device addresses (16-byte aligned, non-null) for check() calls.
struct Addresses {
  std::mt19937_64 rng{std::random_device{}()};
  DevicePtr aligned() { return (rng() % (uint64_t(1) << 40) + 1) * 16; }
};

TEST(BF16GemmArgs, AcceptsValidArguments) {
  Addresses ad;
  BF16Gemm op({64, 128, 32, GemmOut::BF16});
  EXPECT_NO_THROW(op.check(ad.aligned(), ad.aligned(), ad.aligned() + 2, 1, 1, 32));
  EXPECT_NO_THROW(op.check(ad.aligned(), ad.aligned(), ad.aligned(), 37, 100, 4096));
  Dim3 g = op.grid(65, 129);
  EXPECT_EQ(g.x, 2u);
  EXPECT_EQ(g.y, 2u);
  EXPECT_EQ(g.z, 1u);
}

TEST(BF16GemmArgs, RejectsNullMisalignedAndBadShapes) {
  Addresses ad;
  const DevicePtr a = ad.aligned(), b = ad.aligned(), c = ad.aligned();
  BF16Gemm f32({64, 128, 32, GemmOut::F32});
  BF16Gemm bf16({64, 128, 64, GemmOut::BF16});
  expect_rejects([&] { f32.check(0, b, c, 8, 8, 32); }, {": a is null"});
  expect_rejects([&] { f32.check(a, 0, c, 8, 8, 32); }, {": b is null"});
  expect_rejects([&] { f32.check(a, b, 0, 8, 8, 32); }, {": c is null"});
  expect_rejects([&] { f32.check(a + 8, b, c, 8, 8, 32); }, {": a must be 16-byte aligned"});
  expect_rejects([&] { f32.check(a, b + 2, c, 8, 8, 32); }, {": b must be 16-byte aligned"});
  expect_rejects([&] { f32.check(a, b, c + 2, 8, 8, 32); }, {": c must be 4-byte aligned"});
  expect_rejects([&] { bf16.check(a, b, c + 1, 8, 8, 64); }, {": c must be 2-byte aligned"});
  expect_rejects([&] { f32.check(a, b, c, 0, 8, 32); }, {": M must", "got 0"});
  expect_rejects([&] { f32.check(a, b, c, -3, 8, 32); }, {": M must", "got -3"});
  expect_rejects([&] { f32.check(a, b, c, 8, 0, 32); }, {": N must", "got 0"});
  expect_rejects([&] { f32.check(a, b, c, 8, 8, 0); }, {": K must", "multiple of 32"});
  expect_rejects([&] { f32.check(a, b, c, 8, 8, 48); }, {": K must", "got 48"});
  expect_rejects([&] { bf16.check(a, b, c, 8, 8, 96); }, {": K must", "multiple of 64"});
  expect_rejects([&] { f32.check(a, b, c, 65535 * 64 + 1, 8, 32); }, {": M must"});
  expect_rejects([&] { f32.check(a, b, c, 8, 1 << 30, 32); }, {": N must"});
}

TEST(BF16GemmArgs, LaunchChecksBeforeAndRequiresCompile) {
  Addresses ad;
  BF16Gemm op({});
  expect_rejects([&] { op.launch(0, ad.aligned(), ad.aligned(), 8, 8, 32); }, {": a is null"});
  EXPECT_THROW(op.launch(ad.aligned(), ad.aligned(), ad.aligned(), 8, 8, 32), std::logic_error);
}

TEST(BF16GemmArgs, RunnerChecksHostSizes) {
  Device& device = testing_support::emulator_device(Target::Sm90a);
  std::vector<uint16_t> a(8 * 32), b(8 * 32);
  expect_rejects([&] { run_bf16_gemm(device, {}, std::span<const uint16_t>(a).first(100), b, 8, 8, 32); }, {": a has 100 elements"});
  expect_rejects([&] { run_bf16_gemm(device, {}, a, std::span<const uint16_t>(b).first(5), 8, 8, 32); }, {": b has 5 elements"});
  std::vector<uint8_t> bad_c(3);
  expect_rejects([&] { run_bf16_gemm(device, {}, a, b, 8, 8, 32, bad_c); }, {"initial_c"});
}

TEST(BF16GemmConfigCheck, RejectsBadTiles) {
  auto bad = [](BF16GemmConfig c, const char* word) { expect_rejects([&] { c.validate(); }, {word}); };
  EXPECT_NO_THROW(BF16GemmConfig{}.validate());
  bad({48, 128, 32}, "tile_m");
  bad({64, 96, 32}, "tile_n");
  bad({64, 128, 16}, "tile_k");
  bad({16, 32, 32}, "tile_m * tile_n");
  EXPECT_NO_THROW((BF16GemmConfig{128, 256, 32}.validate()));  // 8 warps of 64x64 / 4 waves of 64x128
  bad({128, 256, 64}, "registers");                             // gfx950 holds all of a stage's operands
  bad({128, 128, 128}, "registers");
  bad({64, 128, 32, GemmOut(7)}, "out");
  EXPECT_THROW(BF16Gemm({64, 128, 48}), std::invalid_argument);
}

TEST(A16W4GemmArgs, RejectsNullMisalignedAndBadShapes) {
  Addresses ad;
  const DevicePtr a = ad.aligned(), w = ad.aligned(), s = ad.aligned() + 3, c = ad.aligned();
  A16W4Gemm op({16, 128, GemmOut::F32});
  A16W4Gemm bf16({32, 64, GemmOut::BF16});
  EXPECT_NO_THROW(op.check(a, w, s, c, 1, 32, 256));
  EXPECT_NO_THROW(bf16.check(a, w, s, c + 2, 37, 96, 512));
  expect_rejects([&] { op.check(0, w, s, c, 8, 64, 256); }, {": a is null"});
  expect_rejects([&] { op.check(a, 0, s, c, 8, 64, 256); }, {": w is null"});
  expect_rejects([&] { op.check(a, w, 0, c, 8, 64, 256); }, {": w_scale is null"});
  expect_rejects([&] { op.check(a, w, s, 0, 8, 64, 256); }, {": c is null"});
  expect_rejects([&] { op.check(a + 4, w, s, c, 8, 64, 256); }, {": a must be 16-byte aligned"});
  expect_rejects([&] { op.check(a, w + 8, s, c, 8, 64, 256); }, {": w must be 16-byte aligned"});
  expect_rejects([&] { op.check(a, w, s, c + 2, 8, 64, 256); }, {": c must be 4-byte aligned"});
  expect_rejects([&] { bf16.check(a, w, s, c + 1, 8, 64, 256); }, {": c must be 2-byte aligned"});
  expect_rejects([&] { op.check(a, w, s, c, 0, 64, 256); }, {": M must", "got 0"});
  expect_rejects([&] { op.check(a, w, s, c, 8, 48, 256); }, {": N must", "multiple of 32", "got 48"});
  expect_rejects([&] { op.check(a, w, s, c, 8, 0, 256); }, {": N must"});
  expect_rejects([&] { op.check(a, w, s, c, 8, 64, 128); }, {": K must", "multiple of 256", "got 128"});
  expect_rejects([&] { op.check(a, w, s, c, 8, 64, -256); }, {": K must"});
  expect_rejects([&] { op.check(a, w, s, c, 8, 64, (1 << 30) + 256); }, {": K must", "got 1073742080"});
  EXPECT_THROW(op.launch(a, w, s, c, 8, 64, 256), std::logic_error);
}

TEST(A16W4GemmArgs, RunnerChecksHostSizes) {
  Device& device = testing_support::emulator_device(Target::Gfx950);
  const int M = 2, N = 32, K = 256;
  std::vector<uint16_t> a(size_t(M) * K);
  std::vector<uint8_t> w(size_t(N) * K / 2), s(size_t(N) * K / 32);
  A16W4GemmConfig cfg{16, 64};
  expect_rejects([&] { run_a16w4_gemm(device, cfg, std::span<const uint16_t>(a).first(7), w, s, M, N, K); }, {": a has 7 elements"});
  expect_rejects([&] { run_a16w4_gemm(device, cfg, a, std::span<const uint8_t>(w).first(9), s, M, N, K); }, {": w_packed has 9 elements"});
  expect_rejects([&] { run_a16w4_gemm(device, cfg, a, w, std::span<const uint8_t>(s).first(11), M, N, K); }, {": w_scales has 11 elements"});
  expect_rejects([&] { run_a16w4_gemm(device, cfg, a, w, s, M, 48, K); }, {": N must", "48"});
  expect_rejects([&] { run_a16w4_gemm(device, cfg, a, w, s, M, N, 320); }, {": K must", "320"});
}

TEST(A16W4GemmConfigCheck, RejectsBadTiles) {
  auto bad = [](A16W4GemmConfig c, const char* word) { expect_rejects([&] { c.validate(); }, {word}); };
  EXPECT_NO_THROW(A16W4GemmConfig{}.validate());
  bad({64, 128}, "tile_m");
  bad({16, 96}, "tile_n");
  bad({16, 32}, "tile_n");
  bad({16, 128, GemmOut(9)}, "out");
  bad({16, 128, GemmOut::F32, 3}, "k_split");
  bad({16, 128, GemmOut::F32, 0}, "k_split");
  bad({16, 128, GemmOut::F32, 1, 3}, "unroll");
  bad({16, 128, GemmOut::F32, 1, 0}, "unroll");
  bad({16, 32, GemmOut::F32, 1}, "tile_n 32 with k_split 1");  // 4 columns per warp on sm_90a
  EXPECT_NO_THROW((A16W4GemmConfig{16, 32, GemmOut::F32, 2, 4}.validate()));
  EXPECT_NO_THROW((A16W4GemmConfig{32, 256, GemmOut::BF16, 4, 1}.validate()));
  EXPECT_NO_THROW((A16W4GemmConfig{32, 32, GemmOut::BF16, 8, 1}.validate()));
  bad({16, 64, GemmOut::F32, 16}, "k_split");
  EXPECT_THROW(A16W4Gemm({8, 128}), std::invalid_argument);
}

TEST(A16W4GemmConfigCheck, NamesTellVariantsApart) {
  EXPECT_EQ(A16W4GemmConfig{}.kernel_name(), "gemm_a16w4_m16n128_bf16");
  EXPECT_EQ((A16W4GemmConfig{16, 32, GemmOut::F32, 4, 2}.kernel_name()), "gemm_a16w4_m16n32_f32_ks4_u2");
  EXPECT_NE((A16W4GemmConfig{16, 64, GemmOut::F32, 2, 1}.kernel_name()),
            (A16W4GemmConfig{16, 64, GemmOut::F32, 1, 2}.kernel_name()));
}

// The automatic choice is always a valid configuration, keeps the output type, splits K when the
// plain tiling leaves compute units idle, and keeps the plain tiling when it fills the device.
TEST(A16W4GemmConfigCheck, ChooserGivesValidConfigs) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> m(1, 5000), n32(1, 600), k256(1, 64), cus(1, 304);
  for (int i = 0; i < 500; ++i) {
    const int M = m(rng), N = 32 * n32(rng), K = 256 * k256(rng), units = cus(rng);
    const GemmOut out = i % 2 ? GemmOut::F32 : GemmOut::BF16;
    A16W4GemmConfig cfg = a16w4_gemm_choose(M, N, K, units, out);
    SCOPED_TRACE(fmt::format("M {} N {} K {} units {}: {}", M, N, K, units, cfg.kernel_name()));
    EXPECT_NO_THROW(cfg.validate());
    EXPECT_EQ(cfg.out, out);
    EXPECT_EQ(cfg.tile_m, M > 16 ? 32 : 16);
  }
  A16W4GemmConfig decode = a16w4_gemm_choose(1, 4096, 4096, 132);
  EXPECT_GT(decode.k_split, 1);
  EXPECT_LE(decode.tile_n, 64);
  EXPECT_NO_THROW(A16W4Gemm{decode});
  A16W4GemmConfig prefill = a16w4_gemm_choose(4096, 4096, 4096, 132);
  EXPECT_EQ(prefill.k_split, 1);
  EXPECT_EQ(prefill.tile_n, 128);
}

TEST(BF16GemmConfigCheck, ChooserGivesValidConfigs) {
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> mn(1, 9000), k32(1, 300), cus(1, 304);
  for (int i = 0; i < 500; ++i) {
    const int M = mn(rng), N = mn(rng), K = 32 * k32(rng), units = cus(rng);
    const GemmOut out = i % 2 ? GemmOut::F32 : GemmOut::BF16;
    BF16GemmConfig cfg = bf16_gemm_choose(M, N, K, units, out);
    SCOPED_TRACE(fmt::format("M {} N {} K {} units {}: {}", M, N, K, units, cfg.kernel_name()));
    EXPECT_NO_THROW(cfg.validate());
    EXPECT_EQ(cfg.out, out);
    const int64_t wide_blocks = ((M + 127) / 128) * int64_t((N + 255) / 256);
    EXPECT_EQ(cfg.tile_n, wide_blocks >= units ? 256 : 128);
  }
  EXPECT_EQ(bf16_gemm_choose(4096, 4096, 4096, 132).tile_n, 256);
  EXPECT_EQ(bf16_gemm_choose(256, 512, 4096, 132).tile_n, 128);
  EXPECT_NO_THROW(BF16Gemm{bf16_gemm_choose(4096, 4096, 4096, 132)});
}

}  // namespace
