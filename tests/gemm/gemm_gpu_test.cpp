// Both GEMMs on a GPU: against the double reference and bit for bit against the emulator
// (f32 output, same inputs). Skips without a GPU.
#include <gtest/gtest.h>

#include <cstring>
#include <random>

#include "tests/common/test_devices.h"
#include "kernels/gemm/a16w4_api.h"
#include "kernels/gemm/bf16_api.h"
#include "tests/common/test_devices.h"
#include "tests/gemm/reference.h"

using namespace tilejit;
using namespace tilejit::kernels;
using namespace tilejit::gemm_test;

namespace {

Device* gpu() { return testing_support::gpu_device(); }

std::vector<double> widen(const std::vector<uint16_t>& a) {
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = bf16_value(a[i]);
  return d;
}

size_t bit_differences(const std::vector<float>& x, const std::vector<float>& y) {
  size_t n = 0;
  for (size_t i = 0; i < x.size(); ++i) n += std::memcmp(&x[i], &y[i], 4) != 0;
  return n;
}

TEST(GemmGpu, Bf16AgainstReferenceAndEmulator) {
  if (!gpu()) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (auto [M, N, K] : {std::tuple{1, 256, 512}, {37, 100, 96}, {130, 200, 256}, {256, 384, 1024}}) {
    auto a = random_bf16(rng, size_t(M) * K), b = random_bf16(rng, size_t(N) * K);
    std::vector<double> ref, abs_sum;
    gemm_reference(widen(a), widen(b), M, N, K, ref, abs_sum);
    BF16GemmConfig cfg;
    auto g = run_bf16_gemm(*gpu(), cfg, a, b, M, N, K);
    Comparison cmp = compare(g.c, ref, abs_sum, N, 1e-5, 1e-6);
    EXPECT_EQ(cmp.non_finite, 0u) << M << "x" << N << "x" << K;
    EXPECT_LT(cmp.rel_l2, 1e-5) << M << "x" << N << "x" << K << " " << cmp.first_bad;
    auto e = run_bf16_gemm(testing_support::emulator_device(gpu()->target()), cfg, a, b, M, N, K);
    EXPECT_EQ(bit_differences(g.c, e.c), 0u) << M << "x" << N << "x" << K << ": GPU and emulator differ";
  }
}

TEST(GemmGpu, A16W4AgainstReferenceAndEmulator) {
  if (!gpu()) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (auto [M, N, K] : {std::tuple{1, 256, 512}, {16, 2880, 3072}, {37, 160, 1024}, {300, 512, 256}}) {
    auto a = random_bf16(rng, size_t(M) * K);
    std::vector<uint8_t> packed(size_t(N) * K / 2), scales(size_t(N) * K / 32);
    std::uniform_int_distribution<int> byte(0, 255), scale(118, 126);
    for (auto& x : packed) x = uint8_t(byte(rng));
    for (auto& x : scales) x = uint8_t(scale(rng));
    std::vector<double> ref, abs_sum;
    gemm_reference(widen(a), dequantize(packed, scales, N, K), M, N, K, ref, abs_sum);
    // The plain tiling, K split over wave groups (deterministic: bit-exact too), and the chooser's pick.
    for (A16W4GemmConfig cfg : {A16W4GemmConfig{16, 128, GemmOut::F32}, A16W4GemmConfig{16, 32, GemmOut::F32, 4, 2},
                                a16w4_gemm_choose(M, N, K, int(gpu()->compute_units()), GemmOut::F32)}) {
      SCOPED_TRACE(cfg.kernel_name());
      auto g = run_a16w4_gemm(*gpu(), cfg, a, packed, scales, M, N, K);
      Comparison cmp = compare(g.c, ref, abs_sum, N, 1e-5, 1e-6);
      EXPECT_EQ(cmp.non_finite, 0u) << M << "x" << N << "x" << K;
      EXPECT_LT(cmp.rel_l2, 1e-5) << M << "x" << N << "x" << K << " " << cmp.first_bad;
      if (size_t(M) * N * K <= size_t(64) << 20) {  // the emulator is slow at the largest shape
        auto e = run_a16w4_gemm(testing_support::emulator_device(gpu()->target()), cfg, a, packed, scales, M, N, K);
        EXPECT_EQ(bit_differences(g.c, e.c), 0u) << M << "x" << N << "x" << K << ": GPU and emulator differ";
      }
    }
  }
}

}  // namespace
