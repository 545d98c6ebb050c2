// Tests of emulate_mma on whole waves: exact small-integer products in every model, random bf16 against references.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "dsl/matrix/mma.h"
#include "matrix_test_util.h"
#include "mmasim_reference.h"

namespace tilejit::matrix::test {
namespace {

/// D = A·B + C in double by a plain triple loop.
std::vector<double> triple_loop(const MmaInfo& info, const Tiles& t) {
  std::vector<double> D(size_t(info.m) * info.n);
  for (int i = 0; i < info.m; ++i)
    for (int j = 0; j < info.n; ++j) {
      double s = t.C[size_t(i) * info.n + j];
      for (int k = 0; k < info.k; ++k)
        s += double(bf16_value(t.A[size_t(i) * info.k + k])) * double(bf16_value(t.B[size_t(k) * info.n + j]));
      D[size_t(i) * info.n + j] = s;
    }
  return D;
}

/// Random tiles with bf16 operands from `draw` and f32 accumulators from `draw_c`.
template <class DrawAB, class DrawC>
Tiles random_tiles(const MmaInfo& info, DrawAB draw, DrawC draw_c) {
  Tiles t{std::vector<uint16_t>(size_t(info.m) * info.k), std::vector<uint16_t>(size_t(info.k) * info.n),
          std::vector<float>(size_t(info.m) * info.n)};
  for (auto& v : t.A) v = draw();
  for (auto& v : t.B) v = draw();
  for (auto& v : t.C) v = draw_c();
  return t;
}

std::vector<float> row_of(const MmaInfo& info, const Tiles& t, int i) {
  std::vector<float> r(info.k);
  for (int k = 0; k < info.k; ++k) r[k] = bf16_value(t.A[size_t(i) * info.k + k]);
  return r;
}
std::vector<float> col_of(const MmaInfo& info, const Tiles& t, int j) {
  std::vector<float> c(info.k);
  for (int k = 0; k < info.k; ++k) c[k] = bf16_value(t.B[size_t(k) * info.n + j]);
  return c;
}

bool same_bits_or_both_nan(float x, float y) {
  return (std::isnan(x) && std::isnan(y)) || f32_bits(x) == f32_bits(y);
}

// ---------------------------------------------------------------------------------------------

class EveryInstrAndModel : public ::testing::TestWithParam<std::tuple<MmaInstr, MmaNumerics>> {};

// Small integers make every product and partial sum exact in f32, so all three models must give
// the triple loop's result bit for bit. Catches any layout, gather or scatter mistake.
TEST_P(EveryInstrAndModel, SmallIntegerMatricesAreExact) {
  const auto [instr, numerics] = GetParam();
  const MmaInfo& info = mma_info(instr);
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {} {} {}", seed, info.name, numerics_name(numerics)));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> ab(-8, 8), cc(-300, 300);
  for (int rep = 0; rep < 20; ++rep) {
    const Tiles t = random_tiles(info, [&] { return exact_bf16(ab(rng)); }, [&] { return float(cc(rng)); });
    const auto ref = triple_loop(info, t);
    const auto D = run_mma(instr, numerics, t);
    int nonzero = 0;
    for (size_t i = 0; i < D.size(); ++i) {
      nonzero += ref[i] != 0;
      ASSERT_EQ(f32_bits(D[i]), f32_bits(float(ref[i])))
          << "D(" << i / info.n << ", " << i % info.n << ") = " << D[i] << ", expected " << ref[i];
    }
    EXPECT_GT(nonzero, 0);
  }
}

INSTANTIATE_TEST_SUITE_P(Matrix, EveryInstrAndModel,
                         ::testing::Combine(::testing::Values(MmaInstr::Gfx950_F32_16x16x32_BF16,
                                                              MmaInstr::Sm90_F32_16x8x16_BF16),
                                            ::testing::Values(MmaNumerics::Exact, MmaNumerics::Sm90Truncate,
                                                              MmaNumerics::Cdna3)),
                         [](const auto& info) {
                           return fmt::format("{}_{}",
                                              std::get<0>(info.param) == MmaInstr::Gfx950_F32_16x16x32_BF16
                                                  ? "Gfx950"
                                                  : "Sm90",
                                              numerics_name(std::get<1>(info.param)));
                         });

TEST(EmulateMma, OutputMayAliasTheAccumulator) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> ab(-8, 8), cc(-300, 300);
  for (const MmaInfo& info : all_mma_infos()) {
    const Tiles t = random_tiles(info, [&] { return exact_bf16(ab(rng)); }, [&] { return float(cc(rng)); });
    const Packed p = pack(info, t);
    std::vector<float> separate(p.c.size(), f32_from_bits(kPoison)), inplace = p.c;
    emulate_mma(info.instr, MmaNumerics::Exact, p.a.data(), p.b.data(), p.c.data(), separate.data());
    emulate_mma(info.instr, MmaNumerics::Exact, p.a.data(), p.b.data(), inplace.data(), inplace.data());
    for (size_t i = 0; i < separate.size(); ++i)
      ASSERT_EQ(f32_bits(inplace[i]), f32_bits(separate[i])) << info.name << " element " << i;
  }
}

// With exponents in [-4, 4] every product is a multiple of 2^-22 below 2^10 and C a multiple of
// 2^-27 below 2^5, so the double sum is exact and its f32 conversion is the correctly rounded result.
TEST(EmulateMma, ExactModelIsCorrectlyRoundedOnNarrowRangeBf16) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (const MmaInfo& info : all_mma_infos()) {
    for (int rep = 0; rep < 20; ++rep) {
      const Tiles t = random_tiles(info, [&] { return random_bf16(rng, -4, 4); },
                                   [&] { return f32_from_bits(uint32_t(random_bf16(rng, -4, 4)) << 16 |
                                                              (rng() & 0xFFFFu)); });
      const auto ref = triple_loop(info, t);
      const auto D = run_mma(info.instr, MmaNumerics::Exact, t);
      for (size_t i = 0; i < D.size(); ++i)
        ASSERT_EQ(f32_bits(D[i]), f32_bits(float(ref[i]))) << info.name << " D element " << i << ": " << D[i]
                                                            << " vs " << ref[i];
    }
  }
}

// Wide exponents, zeros and subnormals: the Exact model is within half an ulp of a long double sum
// (whose own error is bounded by (k+1)·2^-63·Σ|terms|).
TEST(EmulateMma, ExactModelWithinHalfUlpOnWideRangeBf16) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (const MmaInfo& info : all_mma_infos()) {
    for (int rep = 0; rep < 20; ++rep) {
      const Tiles t = random_tiles(info, [&] { return random_bf16(rng, -60, 60, 8); },
                                   [&] { return f32_from_bits(uint32_t(random_bf16(rng, -60, 60, 8)) << 16 |
                                                              (rng() & 0xFFFFu)); });
      const auto D = run_mma(info.instr, MmaNumerics::Exact, t);
      for (int i = 0; i < info.m; ++i) {
        for (int j = 0; j < info.n; ++j) {
          long double sum = t.C[size_t(i) * info.n + j], mags = std::fabs(sum);
          for (int k = 0; k < info.k; ++k) {
            const long double p = (long double)bf16_value(t.A[size_t(i) * info.k + k]) *
                                  bf16_value(t.B[size_t(k) * info.n + j]);
            sum += p;
            mags += std::fabs(p);
          }
          const float d = D[size_t(i) * info.n + j];
          ASSERT_TRUE(std::isfinite(d));
          const long double ulp = std::nextafter(std::fabs(d), std::numeric_limits<float>::infinity()) - std::fabs(d);
          const long double bound = 0.5L * ulp + (info.k + 1) * std::ldexp(mags, -63);
          ASSERT_LE(std::fabs((long double)d - sum), bound)
              << info.name << " D(" << i << ", " << j << ") = " << d << ", long double sum " << (double)sum;
        }
      }
    }
  }
}

// The Sm90Truncate and Cdna3 models against the double-arithmetic ports of MMA-Sim, bit for bit,
// over three ranges: moderate (truncation visible), full (overflow to Inf), tiny (subnormal results).
struct Range {
  const char* name;
  int lo, hi, special;
};
constexpr Range kRanges[] = {{"moderate", -12, 12, 8}, {"full", -126, 127, 8}, {"tiny", -70, -56, 4}};

void check_against_mmasim(MmaNumerics numerics) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  for (const MmaInfo& info : all_mma_infos()) {
    for (const Range& r : kRanges) {
      for (int rep = 0; rep < 10; ++rep) {
        // The accumulator's range follows the products' (exponent sum), so both sides matter.
        const Tiles t = random_tiles(info, [&] { return random_bf16(rng, r.lo, r.hi, r.special); }, [&] {
          const uint16_t hi = random_bf16(rng, std::clamp(2 * r.lo, -126, 127), std::clamp(2 * r.hi, -126, 127),
                                          r.special);
          return f32_from_bits(uint32_t(hi) << 16 | (rng() & 0xFFFFu));
        });
        const auto D = run_mma(info.instr, numerics, t);
        for (int i = 0; i < info.m; ++i) {
          for (int j = 0; j < info.n; ++j) {
            const float c = t.C[size_t(i) * info.n + j];
            const float ref = numerics == MmaNumerics::Sm90Truncate
                                  ? mmasim_hopper(row_of(info, t, i), col_of(info, t, j), c)
                                  : mmasim_cdna3(row_of(info, t, i), col_of(info, t, j), c);
            const float d = D[size_t(i) * info.n + j];
            ASSERT_TRUE(same_bits_or_both_nan(d, ref))
                << info.name << " " << r.name << " D(" << i << ", " << j << "): " << fmt::format("{:#010x}", f32_bits(d))
                << " (" << d << ") vs MMA-Sim " << fmt::format("{:#010x}", f32_bits(ref)) << " (" << ref << ")";
          }
        }
      }
    }
  }
}

TEST(EmulateMma, Sm90TruncateMatchesTheMmaSimHopperModel) { check_against_mmasim(MmaNumerics::Sm90Truncate); }

TEST(EmulateMma, Cdna3MatchesTheMmaSimCdna3Model) { check_against_mmasim(MmaNumerics::Cdna3); }

// Cdna3 groups follow the matrix's K index, not the lane order: 1.0 at k = 0 truncates seven
// 2^-26 products at k = 1..7 (same group) but not eight at k = 8..15 (their own group).
TEST(EmulateMma, Cdna3GroupsFollowMatrixK) {
  const uint32_t seed = fresh_seed();
  SCOPED_TRACE(fmt::format("seed {}", seed));
  std::mt19937 rng(seed);
  const MmaInfo& info = mma_info(MmaInstr::Gfx950_F32_16x16x32_BF16);
  const uint16_t one = exact_bf16(1.0), tiny = exact_bf16(std::ldexp(1.0, -13));  // tiny² = 2^-26
  std::uniform_int_distribution<int> row(0, info.m - 1), col(0, info.n - 1);
  const int i = row(rng), j = col(rng);
  for (bool same_group : {true, false}) {
    Tiles t{std::vector<uint16_t>(size_t(info.m) * info.k, 0), std::vector<uint16_t>(size_t(info.k) * info.n, 0),
            std::vector<float>(size_t(info.m) * info.n, 0.0f)};
    t.A[size_t(i) * info.k + 0] = one;
    t.B[size_t(0) * info.n + j] = one;
    const int first = same_group ? 1 : 8, count = same_group ? 7 : 8;
    for (int k = first; k < first + count; ++k) {
      t.A[size_t(i) * info.k + k] = tiny;
      t.B[size_t(k) * info.n + j] = tiny;
    }
    const auto D = run_mma(info.instr, MmaNumerics::Cdna3, t);
    // Same group: each 2^-26 is below 24 fractional bits of 2^0 and vanishes. Own group: exact
    // 8·2^-26 = 2^-23, kept by the 31-bit floor at E = 0.
    const double expect = same_group ? 1.0 : 1.0 + std::ldexp(1.0, -23);
    EXPECT_EQ(D[size_t(i) * info.n + j], float(expect)) << (same_group ? "same group" : "own group");
    // The Exact model keeps them either way: 1 + 7·2^-26 rounds to 1 + 2^-23.
    const auto E = run_mma(info.instr, MmaNumerics::Exact, t);
    EXPECT_EQ(E[size_t(i) * info.n + j], float(1.0 + std::ldexp(1.0, -23)));
    for (size_t q = 0; q < D.size(); ++q) {
      if (q == size_t(i) * info.n + j) continue;
      EXPECT_EQ(f32_bits(D[q]), 0u) << "element " << q;
    }
  }
}

}  // namespace
}  // namespace tilejit::matrix::test
