// The dense A16W4 GEMM on the emulator, both targets' layouts, against a double reference on the
// exactly dequantised weights; ragged M, partial last N tile, both output types, K split over wave
// groups (idle groups, partial last chunk), NaN poison first.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "kernels/gemm/a16w4_api.h"
#include "tests/common/test_devices.h"
#include "tests/gemm/reference.h"

using namespace tilejit;
using namespace tilejit::kernels;
using namespace tilejit::gemm_test;

namespace {

struct Case {
  const char* name;
  int M, N, K;
  int tile_m, tile_n;
  GemmOut out;
  int k_split = 1, unroll = 1;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

/// Random packed codes (all 16 codes) and scale bytes in [lo, hi].
struct Weights {
  std::vector<uint8_t> packed, scales;
};
Weights random_weights(std::mt19937& rng, int N, int K, int lo = 118, int hi = 126) {
  Weights w{std::vector<uint8_t>(size_t(N) * K / 2), std::vector<uint8_t>(size_t(N) * K / 32)};
  std::uniform_int_distribution<int> byte(0, 255), scale(lo, hi);
  for (auto& x : w.packed) x = uint8_t(byte(rng));
  for (auto& x : w.scales) x = uint8_t(scale(rng));
  return w;
}

std::vector<double> widen(const std::vector<uint16_t>& a) {
  std::vector<double> d(a.size());
  for (size_t i = 0; i < a.size(); ++i) d[i] = bf16_value(a[i]);
  return d;
}

std::string target_name(Target t) { return t == Target::Sm90a ? "sm90a" : "gfx950"; }

struct A16W4GemmEmulator : ::testing::TestWithParam<std::tuple<Case, Target>> {};

TEST_P(A16W4GemmEmulator, MatchesReference) {
  const auto& [c, target] = GetParam();
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<uint16_t> a = random_bf16(rng, size_t(c.M) * c.K);
  Weights w = random_weights(rng, c.N, c.K);
  std::vector<double> ref, abs_sum;
  gemm_reference(widen(a), dequantize(w.packed, w.scales, c.N, c.K), c.M, c.N, c.K, ref, abs_sum);

  Device& device = testing_support::emulator_device(target);
  A16W4GemmConfig cfg{c.tile_m, c.tile_n, c.out, c.k_split, c.unroll};
  GemmRun run = run_a16w4_gemm(device, cfg, a, w.packed, w.scales, c.M, c.N, c.K);  // C starts as a NaN poison
  ASSERT_EQ(run.c.size(), ref.size());

  // Dequantised weights are exact in bf16, so only the accumulation (see the BF16 test) and the
  // output rounding differ from the reference.
  const double acc = 1.1e-6 * (c.K / 16 + 1);
  const double rel = c.out == GemmOut::BF16 ? 1.0 / 256 : 0.0;
  Comparison cmp = compare(run.c, ref, abs_sum, c.N, rel, acc);
  EXPECT_EQ(cmp.non_finite, 0u) << "unwritten or non-finite: " << cmp.first_bad;
  EXPECT_EQ(cmp.over_bound, 0u) << "first: " << cmp.first_bad;
  EXPECT_LT(cmp.rel_l2, c.out == GemmOut::BF16 ? 1e-2 : 1e-5) << "relative L2 error";
}

const Case kCases[] = {
    // name, M, N, K, tile_m, tile_n, out
    {"m1_bf16", 1, 64, 256, 16, 64, GemmOut::BF16},
    {"m37_partial_n_f32", 37, 96, 256, 32, 64, GemmOut::F32},
    {"k768_three_stages_f32", 20, 128, 768, 16, 128, GemmOut::F32},
    {"n160_tile256_bf16", 5, 160, 512, 16, 256, GemmOut::BF16},
    {"m33_tile32_bf16", 33, 32, 256, 32, 128, GemmOut::BF16},
    {"blocks_3x3_k1024_bf16", 70, 320, 1024, 32, 128, GemmOut::BF16},
    // name, M, N, K, tile_m, tile_n, out, k_split, unroll
    {"ks4_u2_m1_tile32_bf16", 1, 96, 1024, 16, 32, GemmOut::BF16, 4, 2},
    {"ks4_u4_partial_chunk_idle_groups_f32", 5, 96, 768, 16, 64, GemmOut::F32, 4, 4},
    {"ks2_u2_m37_partial_n_f32", 37, 160, 512, 32, 128, GemmOut::F32, 2, 2},
    {"ks4_k256_idle_groups_bf16", 16, 64, 256, 16, 32, GemmOut::BF16, 4, 1},
    {"ks2_tile256_m3_f32", 3, 288, 1536, 16, 256, GemmOut::F32, 2, 1},
    {"ks1_u2_f32", 20, 128, 768, 16, 128, GemmOut::F32, 1, 2},
    {"ks8_m1_tile32_f32", 1, 64, 1280, 16, 32, GemmOut::F32, 8, 1},  // gfx950: 4 groups
    {"ks8_m19_tile32_bf16", 19, 96, 2048, 32, 32, GemmOut::BF16, 8, 1},
};

INSTANTIATE_TEST_SUITE_P(Cases, A16W4GemmEmulator,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + target_name(std::get<1>(info.param));
                         });

// The documented ends of the E8M0 decode: scale byte 255 gives NaN (only in the columns whose
// weights use it), scale byte 0 means 2^-127 (a finite, tiny contribution).
struct A16W4ScaleEnds : ::testing::TestWithParam<Target> {};

TEST_P(A16W4ScaleEnds, NanScaleAndZeroScale) {
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  const int M = 3, N = 32, K = 256;
  std::vector<uint16_t> a = random_bf16(rng, size_t(M) * K);
  Weights w = random_weights(rng, N, K);
  std::uniform_int_distribution<int> pick_n(0, N - 1), pick_block(0, K / 32 - 1);
  const int nan_col = pick_n(rng);
  int zero_col = pick_n(rng);
  while (zero_col == nan_col) zero_col = pick_n(rng);
  w.scales[size_t(nan_col) * (K / 32) + pick_block(rng)] = 255;
  for (int blk = 0; blk < K / 32; ++blk) w.scales[size_t(zero_col) * (K / 32) + blk] = 0;
  std::vector<double> ref, abs_sum;
  gemm_reference(widen(a), dequantize(w.packed, w.scales, N, K), M, N, K, ref, abs_sum);

  Device& device = testing_support::emulator_device(GetParam());
  for (A16W4GemmConfig cfg : {A16W4GemmConfig{16, 64, GemmOut::F32}, A16W4GemmConfig{16, 32, GemmOut::F32, 8, 2}}) {
    SCOPED_TRACE(cfg.kernel_name());
    GemmRun run = run_a16w4_gemm(device, cfg, a, w.packed, w.scales, M, N, K);
    for (int m = 0; m < M; ++m)
      for (int n = 0; n < N; ++n) {
        double got = run.c[size_t(m) * N + n], want = ref[size_t(m) * N + n];
        if (n == nan_col) {
          EXPECT_TRUE(std::isnan(got)) << "C[" << m << "][" << n << "] = " << got;
        } else {
          ASSERT_TRUE(std::isfinite(got)) << "C[" << m << "][" << n << "] = " << got;
          EXPECT_LE(std::fabs(got - want), 1.1e-6 * (K / 16 + 1) * abs_sum[size_t(m) * N + n] + 1e-44)
              << "C[" << m << "][" << n << "] = " << got << ", expected " << want;
        }
      }
    // The zero-scale column is tiny but not flushed: |C| ~ 2^-127 * sum |a * code|.
    bool any_nonzero = false;
    for (int m = 0; m < M; ++m) any_nonzero |= run.c[size_t(m) * N + zero_col] != 0.0f;
    EXPECT_TRUE(any_nonzero) << "scale byte 0 must decode to 2^-127, not 0";
  }
}

INSTANTIATE_TEST_SUITE_P(Targets, A16W4ScaleEnds, ::testing::Values(Target::Sm90a, Target::Gfx950),
                         [](const auto& info) { return target_name(info.param); });

}  // namespace
