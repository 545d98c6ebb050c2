// LaunchOptions::early_start on the emulator of both targets: launches never overlap there, so the
// consumer's read before wait_prior_grids() already finds the producer's values, and every value
// is right (the GPU test checks the overlap: early_start_gpu_test.cpp).
#include <gtest/gtest.h>

#include <random>

#include "tests/common/test_devices.h"
#include "tests/launch/early_start_cases.h"

namespace tilejit::testing_support {
namespace {

TEST(EarlyStart, EmulatorRunsTheLaunchesInOrder) {
  for (Target target : {Target::Sm90a, Target::Gfx950}) {
    SCOPED_TRACE(target_info(target).name);
    const uint32_t seed = std::random_device{}();
    SCOPED_TRACE("seed " + std::to_string(seed));
    EarlyStartResult r = check_early_start(emulator_device(target), seed, 8, 2);
    EXPECT_GT(r.threads, 0);
    EXPECT_EQ(r.wrong, 0);
    EXPECT_EQ(r.overlapped, 0) << "the emulator ran a consumer thread before the producer finished";
  }
}

}  // namespace
}  // namespace tilejit::testing_support
