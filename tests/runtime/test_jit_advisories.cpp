// performance_advisories(): which lines of a CUDA JIT info log report lost performance.
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "backend/runtime/jit_advisories.h"

using tilejit::performance_advisories;

namespace {

// Lines as ptxas 13.0 writes them (the driver's JIT log has the same form).
const std::string kInjected =
    "ptxas info    : (C7519) warpgroup.arrive is injected in around line 1233 by compiler to allow use of "
    "registers in GMMA in function 'k'";
const std::string kSerialized =
    "ptxas info    : (C7515) Potential Performance Loss: wgmma.mma_async instructions are serialized due to "
    "non wgmma instructions defining accumulator registers of a wgmma between start and end of the pipeline "
    "stage in the function 'k'";
const std::string kRegisters = "ptxas info    : Used 122 registers, used 1 barriers";
const std::string kSpills = "    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads";

TEST(JitAdvisories, PicksTheLostPerformanceLinesInOrder) {
  const std::string log = "ptxas info    : Compiling entry function 'k' for 'sm_90a'\n" + kInjected + "\r\n" +
                          kRegisters + "\n  " + kSerialized + "  \n" + kSpills;
  const std::vector<std::string> found = performance_advisories(log);
  ASSERT_EQ(found.size(), 2u);
  EXPECT_EQ(found[0], kInjected);
  EXPECT_EQ(found[1], kSerialized);
}

TEST(JitAdvisories, RegisterAndSpillReportsAreNotAdvisories) {
  EXPECT_TRUE(performance_advisories("").empty());
  EXPECT_TRUE(performance_advisories(kRegisters + "\n" + kSpills + "\n").empty());
}

TEST(JitAdvisories, FindsEveryAdvisoryAmongOtherLines) {
  std::mt19937 rng(std::random_device{}());
  const std::string others[] = {kRegisters, kSpills, "ptxas info    : Function properties for k", ""};
  std::string log;
  size_t advisories = 0;
  for (int i = 0; i < 40; ++i) {
    if (rng() % 3 == 0) {
      log += (rng() % 2 ? kInjected : kSerialized) + "\n";
      ++advisories;
    } else {
      log += others[rng() % 4] + "\n";
    }
  }
  EXPECT_EQ(performance_advisories(log).size(), advisories);
}

}  // namespace
