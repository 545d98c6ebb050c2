// The BF16 GEMM on the emulator, both targets' layouts, against a double reference; shapes that
// are not tile multiples, both output types, every element written (NaN poison first).
#include <gtest/gtest.h>

#include <random>

#include "kernels/gemm/bf16_api.h"
#include "tests/common/test_devices.h"
#include "tests/gemm/reference.h"

using namespace tilejit;
using namespace tilejit::kernels;
using namespace tilejit::gemm_test;

namespace {

struct Case {
  const char* name;
  int M, N, K;
  int tile_m, tile_n, tile_k;
  GemmOut out;
  int stages = 0;  // 0: the target's default pipeline depth
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

struct BF16GemmEmulator : ::testing::TestWithParam<std::tuple<Case, Target>> {};

TEST_P(BF16GemmEmulator, MatchesReference) {
  const auto& [c, target] = GetParam();
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  std::vector<uint16_t> a = random_bf16(rng, size_t(c.M) * c.K), b = random_bf16(rng, size_t(c.N) * c.K);

  std::vector<double> ad(a.size()), bd(b.size()), ref, abs_sum;
  for (size_t i = 0; i < a.size(); ++i) ad[i] = bf16_value(a[i]);
  for (size_t i = 0; i < b.size(); ++i) bd[i] = bf16_value(b[i]);
  gemm_reference(ad, bd, c.M, c.N, c.K, ref, abs_sum);

  Device& device = testing_support::emulator_device(target);
  BF16GemmConfig cfg{c.tile_m, c.tile_n, c.tile_k, c.out, c.stages};
  GemmRun run = run_bf16_gemm(device, cfg, a, b, c.M, c.N, c.K);  // C starts as a NaN poison
  ASSERT_EQ(run.c.size(), ref.size());
  EXPECT_EQ(run.c_bf16.size(), c.out == GemmOut::BF16 ? ref.size() : 0u);

  // Accumulation: each MMA step truncates up to ~17 terms at 2^-24 of the step's largest
  // magnitude (sm_90a model; CDNA3 model is finer), bounded by the sum of |products|.
  const double acc = 1.1e-6 * (c.K / 16 + 1);
  const double rel = c.out == GemmOut::BF16 ? 1.0 / 256 : 0.0;
  Comparison cmp = compare(run.c, ref, abs_sum, c.N, rel, acc);
  EXPECT_EQ(cmp.non_finite, 0u) << "unwritten or non-finite: " << cmp.first_bad;
  EXPECT_EQ(cmp.over_bound, 0u) << "first: " << cmp.first_bad;
  EXPECT_LT(cmp.rel_l2, c.out == GemmOut::BF16 ? 1e-2 : 1e-5) << "relative L2 error";
}

const Case kCases[] = {
    // name, M, N, K, tile_m, tile_n, tile_k, out
    {"whole_tile_f32", 64, 128, 64, 64, 128, 32, GemmOut::F32},
    {"m1_bf16", 1, 40, 96, 64, 128, 32, GemmOut::BF16},
    {"m37_n100_f32", 37, 100, 96, 64, 128, 32, GemmOut::F32},
    {"blocks_2x2_bf16", 70, 150, 64, 64, 128, 64, GemmOut::BF16},
    {"tile32x32_k128_f32", 33, 45, 256, 32, 32, 128, GemmOut::F32},
    {"tile16x64_ragged_bf16", 19, 67, 160, 16, 64, 32, GemmOut::BF16},
    {"tile128x64_f32", 130, 70, 32, 128, 64, 32, GemmOut::F32},
    {"blocks_3x3_k512_f32", 150, 260, 512, 64, 128, 64, GemmOut::F32},
    // the default 128x128x32 tile: ragged blocks, more K steps than stages, fewer K steps than stages
    {"default_ragged_f32", 200, 300, 320, 128, 128, 32, GemmOut::F32},
    {"default_one_step_bf16", 129, 129, 32, 128, 128, 32, GemmOut::BF16},
    {"default_two_steps_f32", 128, 128, 64, 128, 128, 32, GemmOut::F32},
    // explicit pipeline depths (sm_90a; gfx950 always double-buffers)
    {"stages2_f32", 100, 140, 192, 64, 128, 32, GemmOut::F32, 2},
    {"stages3_k64_bf16", 77, 90, 448, 128, 64, 64, GemmOut::BF16, 3},
    {"stages8_f32", 40, 64, 416, 32, 64, 32, GemmOut::F32, 8},
    // 128x256 tiles (one group of 64x64 warp tiles on sm_90a): ragged 2x2 blocks, and one step
    {"tile128x256_ragged_bf16", 150, 300, 160, 128, 256, 32, GemmOut::BF16},
    {"tile128x256_one_step_f32", 100, 256, 32, 128, 256, 32, GemmOut::F32, 2},
};

INSTANTIATE_TEST_SUITE_P(Cases, BF16GemmEmulator,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  (std::get<1>(info.param) == Target::Sm90a ? "sm90a" : "gfx950");
                         });

}  // namespace
