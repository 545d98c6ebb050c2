// wgmma from core-matrix tiles on the sm_90a emulator against a double reference: exact for
// values whose sums are exact in f32, within the accumulation's rounding for normal data.
#include <gtest/gtest.h>

#include <cmath>

#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile/wgmma_cases.h"

using namespace tilejit;
using namespace tilejit::tile_test;

namespace {

struct WgmmaTile : ::testing::TestWithParam<WgmmaCase> {};

TEST_P(WgmmaTile, MatchesTheReference) {
  const WgmmaCase& c = GetParam();
  testing_support::SeededRng rng;
  WgmmaRun run = make_wgmma_inputs(c, *rng);
  run_wgmma(testing_support::emulator_device(Target::Sm90a), c, run);
  size_t bad = 0;
  for (int t = 0; t < 256; ++t)
    for (int i = 0; i < c.n / 2; ++i) {
      double mag = 0, want = wgmma_reference(c, run, t, i, &mag);
      double got = run.out[size_t(t) * c.n / 2 + i];
      bool ok = c.exact_values ? got == want : std::abs(got - want) <= 4e-6 * mag;  // f32 accumulation, truncated per k16
      if (!ok && bad++ < 5) ADD_FAILURE() << "thread " << t << " element " << i << ": got " << got << ", want " << want;
    }
  EXPECT_EQ(bad, 0u);
}

INSTANTIATE_TEST_SUITE_P(Cases, WgmmaTile,
                         ::testing::Values(WgmmaCase{8, 16, true}, WgmmaCase{64, 64, true}, WgmmaCase{128, 32, true},
                                           WgmmaCase{32, 48, false}, WgmmaCase{128, 64, false},
                                           WgmmaCase{64, 64, true, true}, WgmmaCase{128, 64, false, true},
                                           WgmmaCase{8, 32, true, false, true}, WgmmaCase{128, 64, true, true, true},
                                           WgmmaCase{72, 64, false, true, true}),
                         [](const auto& info) {
                           return "n" + std::to_string(info.param.n) + "_k" + std::to_string(info.param.k) +
                                  (info.param.exact_values ? "_exact" : "_normal") +
                                  (info.param.swizzled ? "_swizzled" : "") +
                                  (info.param.a_in_registers ? "_a_in_registers" : "");
                         });

}  // namespace
