// wgmma from core-matrix tiles on a GPU (sm_90a; skips elsewhere): the descriptors, the layout and
// the accumulator lanes agree with the emulator bit for bit, and exact sums with the reference.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile/wgmma_cases.h"

using namespace tilejit;
using namespace tilejit::tile_test;

namespace {

TEST(WgmmaGpu, MatchesTheEmulatorBitForBit) {
  Device* gpu = testing_support::gpu_device();
  if (!gpu) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
  if (gpu->target() != Target::Sm90a) GTEST_SKIP() << "wgmma exists only on sm_90a";
  testing_support::SeededRng rng;
  for (WgmmaCase c : {WgmmaCase{8, 16, true}, WgmmaCase{64, 64, true}, WgmmaCase{128, 64, true},
                      WgmmaCase{128, 64, false}, WgmmaCase{64, 32, false}, WgmmaCase{64, 64, true, true},
                      WgmmaCase{128, 64, false, true}, WgmmaCase{8, 32, true, false, true},
                      WgmmaCase{128, 64, true, true, true}, WgmmaCase{72, 64, false, true, true}}) {
    SCOPED_TRACE(testing::Message() << "n " << c.n << " k " << c.k << (c.exact_values ? " exact" : " normal")
                                    << (c.swizzled ? " swizzled" : "") << (c.a_in_registers ? " A in registers" : ""));
    WgmmaRun on_gpu = make_wgmma_inputs(c, *rng), on_emu = on_gpu;
    const CompileInfo info = run_wgmma(*gpu, c, on_gpu);
    EXPECT_FALSE(info.load_log.empty()) << "the JIT did not run (driver cache?)";
    EXPECT_TRUE(info.performance_advisories.empty()) << "the CUDA JIT reports lost performance";
    run_wgmma(testing_support::emulator_device(Target::Sm90a), c, on_emu);
    size_t differ = 0, wrong = 0;
    for (int t = 0; t < 256; ++t)
      for (int i = 0; i < c.n / 2; ++i) {
        size_t at = size_t(t) * c.n / 2 + i;
        if (std::memcmp(&on_gpu.out[at], &on_emu.out[at], 4) && differ++ < 5)
          ADD_FAILURE() << "thread " << t << " element " << i << ": gpu " << on_gpu.out[at] << ", emulator "
                        << on_emu.out[at];
        if (c.exact_values && double(on_gpu.out[at]) != wgmma_reference(c, on_gpu, t, i, nullptr)) ++wrong;
      }
    EXPECT_EQ(differ, 0u);
    EXPECT_EQ(wrong, 0u);
  }
}

// A branch between wgmma.fence and the commit makes the CUDA JIT inject waits between the wgmmas
// (C7519): compile() reports it in CompileInfo::performance_advisories (the sums stay exact), and
// the same kernel without the branch has none.
TEST(WgmmaGpu, JitAdvisoryForABranchBetweenWgmmas) {
  Device* gpu = testing_support::gpu_device();
  if (!gpu) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
  if (gpu->target() != Target::Sm90a) GTEST_SKIP() << "wgmma exists only on sm_90a";
  testing_support::SeededRng rng;
  for (bool a_in_registers : {false, true})
    for (bool branch : {false, true}) {
      const WgmmaCase c{64, 64, true, true, a_in_registers, branch};
      SCOPED_TRACE(testing::Message() << (a_in_registers ? "A in registers" : "A in shared memory")
                                      << (branch ? ", branch between the wgmmas" : ""));
      WgmmaRun on_gpu = make_wgmma_inputs(c, *rng), on_emu = on_gpu;
      const CompileInfo info = run_wgmma(*gpu, c, on_gpu);
      ASSERT_FALSE(info.load_log.empty()) << "the JIT did not run (driver cache?)";
      const std::vector<std::string>& advisories = info.performance_advisories;
      run_wgmma(testing_support::emulator_device(Target::Sm90a), c, on_emu);
      EXPECT_EQ(advisories.empty(), !branch) << testing::PrintToString(advisories);
      if (branch) {
        for (const std::string& line : advisories) EXPECT_NE(line.find("C75"), std::string::npos) << line;
      }
      EXPECT_EQ(std::memcmp(on_gpu.out.data(), on_emu.out.data(), on_gpu.out.size() * 4), 0);
    }
}

}  // namespace
