// Bulk copies and mbarriers on an sm_90a GPU (skips elsewhere): the ring of stages delivers every
// chunk exactly, as on the emulator, and the JIT reports no lost performance; so does a
// warp-specialized ring (a producer warp, consumer warps), and a named barrier among consumer warps.
#include <gtest/gtest.h>

#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile/bulk_copy_cases.h"

using namespace tilejit;
using namespace tilejit::tile_test;

namespace {

/// Skips where no sm_90a GPU is found (bulk copies and named barriers exist only there).
struct BulkCopyGpu : ::testing::Test {
  Device* gpu = nullptr;
  void SetUp() override {
    gpu = testing_support::gpu_device();
    if (!gpu) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
    if (gpu->target() != Target::Sm90a) GTEST_SKIP() << "bulk copies and named barriers exist only on sm_90a";
  }
};

TEST_F(BulkCopyGpu, RingOfStagesDeliversEveryChunkLikeTheEmulator) {
  testing_support::SeededRng rng;
  for (BulkRingCase c : {BulkRingCase{}, BulkRingCase{32, 64, 1, 3, 2}, BulkRingCase{128, 4096, 3, 9, 264},
                         BulkRingCase{64, 128, 4, 2, 3}, BulkRingCase{256, 2048, 2, 16, 132, true},
                         BulkRingCase{256, 2048, 3, 12, 264, false, true}}) {
    SCOPED_TRACE(testing::Message() << "threads " << c.threads << " words " << c.chunk_words << " stages " << c.stages
                                    << " chunks " << c.chunks << " blocks " << c.blocks << (c.split ? " split" : "")
                                    << (c.every_warp ? " every warp" : ""));
    const std::vector<int32_t> src = bulk_ring_source(c, *rng);
    CompileInfo info;
    const std::vector<int32_t> on_gpu = run_bulk_ring(*gpu, c, src, &info);
    EXPECT_EQ(on_gpu, src);
    EXPECT_TRUE(info.performance_advisories.empty()) << "the CUDA JIT reports lost performance";
    if (c.blocks <= 3) EXPECT_EQ(run_bulk_ring(testing_support::emulator_device(Target::Sm90a), c, src), on_gpu);
  }
}

// A producer warp and consumer warps in two branches, handing stages over through fill and free
// mbarriers (no block barrier): the result the reference and the emulator give, on 2 to 264 blocks.
TEST_F(BulkCopyGpu, WarpSpecializedRingMatchesTheReferenceAndTheEmulator) {
  testing_support::SeededRng rng;
  for (WarpRolesCase c : {WarpRolesCase{}, WarpRolesCase{64, 64, 1, 5, 3}, WarpRolesCase{160, 2048, 3, 24, 264},
                          WarpRolesCase{288, 4096, 4, 16, 132}}) {
    SCOPED_TRACE(testing::Message() << "threads " << c.threads << " words " << c.chunk_words << " stages " << c.stages
                                    << " chunks " << c.chunks << " blocks " << c.blocks);
    const std::vector<int32_t> src = warp_roles_source(c, *rng);
    const std::vector<int32_t> on_gpu = run_warp_roles(*gpu, c, src);
    EXPECT_EQ(on_gpu, warp_roles_expected(c, src));
    if (c.blocks <= 3) EXPECT_EQ(run_warp_roles(testing_support::emulator_device(Target::Sm90a), c, src), on_gpu);
  }
}

// named_barrier among the consumer warps of 264 blocks: the reference's and the emulator's words.
TEST_F(BulkCopyGpu, NamedBarrierAmongConsumerWarpsMatchesTheReferenceAndTheEmulator) {
  testing_support::SeededRng rng;
  const std::vector<int32_t> in = named_barrier_source(*rng, 264);
  const std::vector<int32_t> on_gpu = run_named_barrier(*gpu, NamedUse::Exchange, in, 264);
  EXPECT_EQ(on_gpu, named_barrier_expected(in));
  const std::vector<int32_t> few(in.begin(), in.begin() + 3 * 128);
  EXPECT_EQ(run_named_barrier(testing_support::emulator_device(Target::Sm90a), NamedUse::Exchange, few, 3),
            std::vector<int32_t>(on_gpu.begin(), on_gpu.begin() + 3 * 128));
}

}  // namespace
