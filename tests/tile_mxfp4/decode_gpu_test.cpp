// decode_fp4x8 on a GPU: every code, position and scale against the reference (skips without a GPU).
#include <gtest/gtest.h>

#include "tests/common/test_devices.h"
#include "tests/common/seeded_rng.h"
#include "tests/tile_mxfp4/decode_cases.h"

using namespace tilejit;
using namespace tilejit::fp4_decode_test;

namespace {

Device* gpu() { return testing_support::gpu_device(); }

TEST(Fp4DecodeGpu, EveryPathTheTargetHasIsExact) {
  if (!gpu()) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine";
  testing_support::SeededRng rng;
  Cases all = every_case(*rng), small = every_case(*rng, tile::kFp4SmallScaleMax);
  std::vector<tile::Fp4Path> paths{tile::Fp4Path::Software, tile::Fp4Path::SoftwareSmallScale};
  if (gpu()->target() == Target::Gfx950) paths.push_back(tile::Fp4Path::Hardware);
  for (auto path : paths)
    for (auto order : {tile::Fp4Order::Natural, tile::Fp4Order::Split}) {
      const Cases& cases = path == tile::Fp4Path::SoftwareSmallScale ? small : all;
      auto out = run_decode(*gpu(), path, order, cases);
      std::string first;
      EXPECT_EQ(count_mismatches(cases, out, order, first, path == tile::Fp4Path::Hardware), 0u)
          << "path " << int(path) << ", order " << int(order) << ": " << first;
    }
}

}  // namespace
