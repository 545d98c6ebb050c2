// LaunchOptions::early_start on a GPU: the consumer starts while the producer spins (CUDA
// programmatic dependent launch; some of its reads before wait_prior_grids() find buf unwritten)
// and still reads every value right after the wait, on a stream and in a captured graph. HIP
// launches never overlap. Skips without a GPU.
#include <gtest/gtest.h>

#include <random>

#include "tests/common/test_devices.h"
#include "tests/launch/early_start_cases.h"

namespace tilejit::testing_support {
namespace {

TEST(EarlyStartGpu, ConsumerOverlapsTheProducerAndWaitsForItsWrites) {
  Device* dev = gpu_device();
  if (!dev) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
  const uint32_t seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  EarlyStartResult r = check_early_start(*dev, seed, 20000, 3);  // ~50 us of spinning per producer thread
  EXPECT_GT(r.threads, 0);
  EXPECT_EQ(r.wrong, 0);
  if (dev->kind() == DeviceKind::Cuda)
    EXPECT_GT(r.overlapped, 0) << "no consumer thread ran before the producer finished: the launch did not start early";
  else
    EXPECT_EQ(r.overlapped, 0);
}

}  // namespace
}  // namespace tilejit::testing_support
