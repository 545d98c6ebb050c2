// decode_fp4x8 on the emulator: every code, position and scale, through each path both targets have.
#include <gtest/gtest.h>

#include "backend/emulator/emulator.h"
#include "tests/common/seeded_rng.h"
#include "tests/common/test_devices.h"
#include "tests/tile_mxfp4/decode_cases.h"

using namespace tilejit;
using namespace tilejit::fp4_decode_test;

namespace {

void expect_exact(Target t, tile::Fp4Path path) {
  testing_support::SeededRng rng;
  Cases cases = every_case(*rng, path == tile::Fp4Path::SoftwareSmallScale ? tile::kFp4SmallScaleMax : 255);
  for (auto order : {tile::Fp4Order::Natural, tile::Fp4Order::Split}) {
    auto out = run_decode(testing_support::emulator_device(t), path, order, cases);
    std::string first;
    EXPECT_EQ(count_mismatches(cases, out, order, first, path == tile::Fp4Path::Hardware), 0u)
        << "order " << int(order) << ": " << first;
  }
}

TEST(Fp4Decode, ReferenceIsRepresentableForEveryCodeAndScale) {
  for (int x = 0; x < 256; ++x)
    for (int c = 0; c < 16; ++c) ASSERT_NE(reference_bits(c, x), 0xDEAD) << c << " " << x;
}

TEST(Fp4Decode, SoftwarePathOnSm90aIsExact) { expect_exact(Target::Sm90a, tile::Fp4Path::Software); }
TEST(Fp4Decode, AutoPathOnSm90aIsExact) { expect_exact(Target::Sm90a, tile::Fp4Path::Auto); }
TEST(Fp4Decode, SoftwarePathOnGfx950IsExact) { expect_exact(Target::Gfx950, tile::Fp4Path::Software); }
TEST(Fp4Decode, HardwarePathOnGfx950IsExact) { expect_exact(Target::Gfx950, tile::Fp4Path::Hardware); }

TEST(Fp4Decode, SmallScalePathOnSm90aIsExactUpToItsLimit) { expect_exact(Target::Sm90a, tile::Fp4Path::SoftwareSmallScale); }
TEST(Fp4Decode, SmallScalePathOnGfx950IsExactUpToItsLimit) { expect_exact(Target::Gfx950, tile::Fp4Path::SoftwareSmallScale); }

// The limit is real: every scale above it decodes some code wrongly, so kernels must check.
TEST(Fp4Decode, SmallScalePathIsWrongAboveItsLimit) {
  testing_support::SeededRng rng;
  Cases all = every_case(*rng);
  auto out = run_decode(testing_support::emulator_device(Target::Sm90a), tile::Fp4Path::SoftwareSmallScale,
                        tile::Fp4Order::Split, all);
  for (int x = tile::kFp4SmallScaleMax + 1; x < 256; ++x) {
    Cases one;
    std::vector<int32_t> got;
    for (size_t i = 0; i < all.words.size(); ++i)
      if (all.scales[i] == x) {
        one.words.push_back(all.words[i]);
        one.scales.push_back(x);
        got.insert(got.end(), out.begin() + long(4 * i), out.begin() + long(4 * i + 4));
      }
    std::string first;
    EXPECT_GT(count_mismatches(one, got, tile::Fp4Order::Split, first), 0u) << "scale " << x;
  }
}

TEST(Fp4Decode, HardwarePathIsRejectedOnSm90a) {
  testing_support::SeededRng rng;
  Cases cases = every_case(*rng);
  EXPECT_THROW(run_decode(testing_support::emulator_device(Target::Sm90a), tile::Fp4Path::Hardware, tile::Fp4Order::Natural, cases), Error);
}

}  // namespace
