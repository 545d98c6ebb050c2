// Tests of the weight and scale preshuffles against the contract's closed forms.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <stdexcept>

#include "kernels/mxfp4/mxfp4.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::mxfp4 {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

// The contract's closed forms, written out again here.
int64_t contract_weight_offset(int64_t e, int64_t n, int64_t kb, int64_t N, int64_t K) {
  const int64_t n0 = n / 16, nl = n % 16, k0 = kb / 64, kl = (kb / 16) % 4, kp = kb % 16;
  return e * N * K / 2 + ((n0 * (K / 128) + k0) * 4 + kl) * 256 + nl * 16 + kp;
}

int64_t contract_scale_offset(int64_t e, int64_t n, int64_t ks, int64_t N, int64_t K) {
  const int64_t n1 = n / 32, np = (n % 32) / 16, nl = n % 16;
  const int64_t k1 = ks / 8, kp = (ks % 8) / 4, kl = ks % 4;
  return ((((e * (N / 32) + n1) * (K / 256) + k1) * 4 + kl) * 16 + nl) * 4 + kp * 2 + np;
}

std::vector<uint8_t> random_bytes(std::mt19937& rng, size_t n) {
  std::vector<uint8_t> v(n);
  for (auto& b : v) b = uint8_t(uniform(rng, 0, 255));
  return v;
}

TEST(Preshuffle, WeightsFollowTheClosedForm) {
  SeededRng rng;
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t E = uniform(*rng, 1, 3), N = 16 * uniform(*rng, 1, 5), K = 128 * uniform(*rng, 1, 4);
    SCOPED_TRACE(testing::Message() << "E " << E << " N " << N << " K " << K);
    const std::vector<uint8_t> w = random_bytes(*rng, size_t(E * N * K / 2));
    const std::vector<uint8_t> p = preshuffle_weights(w, E, N, K);
    ASSERT_EQ(p.size(), w.size());
    std::vector<bool> hit(w.size(), false);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t kb = 0; kb < K / 2; ++kb) {
          const int64_t off = contract_weight_offset(e, n, kb, N, K);
          ASSERT_EQ(weight_preshuffle_offset(e, n, kb, N, K), off);
          ASSERT_GE(off, 0);
          ASSERT_LT(off, int64_t(w.size()));
          ASSERT_FALSE(hit[size_t(off)]) << "two bytes land at " << off;
          hit[size_t(off)] = true;
          ASSERT_EQ(p[size_t(off)], w[size_t((e * N + n) * (K / 2) + kb)]);
          ASSERT_EQ(weight_preshuffle_index(off, N, K), (PreshuffleIndex{e, n, kb}));
        }
    EXPECT_EQ(unpreshuffle_weights(p, E, N, K), w);
    EXPECT_EQ(preshuffle_weights(unpreshuffle_weights(w, E, N, K), E, N, K), w);
  }
}

TEST(Preshuffle, ScalesFollowTheClosedForm) {
  SeededRng rng;
  for (int trial = 0; trial < 6; ++trial) {
    const int64_t E = uniform(*rng, 1, 3), N = 32 * uniform(*rng, 1, 4), K = 256 * uniform(*rng, 1, 4);
    SCOPED_TRACE(testing::Message() << "E " << E << " N " << N << " K " << K);
    const std::vector<uint8_t> s = random_bytes(*rng, size_t(E * N * K / 32));
    const std::vector<uint8_t> p = preshuffle_scales(s, E, N, K);
    ASSERT_EQ(p.size(), s.size());
    std::vector<bool> hit(s.size(), false);
    for (int64_t e = 0; e < E; ++e)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t ks = 0; ks < K / 32; ++ks) {
          const int64_t off = contract_scale_offset(e, n, ks, N, K);
          ASSERT_EQ(scale_preshuffle_offset(e, n, ks, N, K), off);
          ASSERT_GE(off, 0);
          ASSERT_LT(off, int64_t(s.size()));
          ASSERT_FALSE(hit[size_t(off)]) << "two bytes land at " << off;
          hit[size_t(off)] = true;
          ASSERT_EQ(p[size_t(off)], s[size_t((e * N + n) * (K / 32) + ks)]);
          ASSERT_EQ(scale_preshuffle_index(off, N, K), (PreshuffleIndex{e, n, ks}));
        }
    EXPECT_EQ(unpreshuffle_scales(p, E, N, K), s);
    EXPECT_EQ(preshuffle_scales(unpreshuffle_scales(s, E, N, K), E, N, K), s);
  }
}

TEST(Preshuffle, WaveReadsOneContiguousKiB) {
  SeededRng rng;
  const int64_t E = uniform(*rng, 1, 3), N = 16 * uniform(*rng, 1, 8), K = 128 * uniform(*rng, 1, 8);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t n0 = 0; n0 < N / 16; ++n0)
      for (int64_t k0 = 0; k0 < K / 128; ++k0) {
        // Lane l loads 16 bytes of row n0*16 + l%16 starting at byte k0*64 + (l/16)*16.
        const int64_t base = weight_preshuffle_offset(e, n0 * 16, k0 * 64, N, K);
        ASSERT_EQ(base % 1024, 0);
        std::set<int64_t> seen;
        for (int64_t l = 0; l < 64; ++l) {
          const int64_t kl = l / 16, nl = l % 16;
          const int64_t kb0 = k0 * 64 + kl * 16;
          // The 16 bytes are 32 consecutive K values of one row: exactly one scale block.
          ASSERT_EQ((2 * kb0) % 32, 0);
          ASSERT_EQ((2 * kb0 + 31) / 32, (2 * kb0) / 32);
          for (int64_t j = 0; j < 16; ++j) {
            const int64_t off = weight_preshuffle_offset(e, n0 * 16 + nl, kb0 + j, N, K);
            ASSERT_EQ(off, base + l * 16 + j) << "lane " << l << " byte " << j;
            seen.insert(off);
          }
        }
        ASSERT_EQ(seen.size(), 1024u);
      }
}

TEST(Preshuffle, ScaleWordsPackFourScales) {
  SeededRng rng;
  // Each 32-bit word holds (kp, np) in byte kp*2 + np for one (row group, k1, kl, nl).
  const int64_t E = uniform(*rng, 1, 2), N = 32 * uniform(*rng, 1, 3), K = 256 * uniform(*rng, 1, 3);
  for (int64_t e = 0; e < E; ++e)
    for (int64_t n1 = 0; n1 < N / 32; ++n1)
      for (int64_t nl = 0; nl < 16; ++nl)
        for (int64_t k1 = 0; k1 < K / 256; ++k1)
          for (int64_t kl = 0; kl < 4; ++kl) {
            const int64_t word = scale_preshuffle_offset(e, n1 * 32 + nl, k1 * 8 + kl, N, K);
            ASSERT_EQ(word % 4, 0);
            for (int64_t kp = 0; kp < 2; ++kp)
              for (int64_t np = 0; np < 2; ++np)
                ASSERT_EQ(scale_preshuffle_offset(e, n1 * 32 + np * 16 + nl, k1 * 8 + kp * 4 + kl, N, K), word + kp * 2 + np);
          }
}

TEST(Preshuffle, DimensionErrorsNameTheArgument) {
  std::vector<uint8_t> w(16 * 64);
  expect_throw_with<std::invalid_argument>([&] { preshuffle_weights(w, 1, 24, 128); }, {"N", "24", "16"});
  expect_throw_with<std::invalid_argument>([&] { preshuffle_weights(w, 1, 16, 64); }, {"K", "64", "128"});
  expect_throw_with<std::invalid_argument>([&] { unpreshuffle_weights(w, 1, 16, 0); }, {"K"});
  expect_throw_with<std::invalid_argument>([&] { preshuffle_weights(w, 2, 16, 128); }, {"w", "1024", "2048"});
  expect_throw_with<std::invalid_argument>([&] { preshuffle_weights(w, 0, 16, 128); }, {"E"});
  std::vector<uint8_t> s(32 * 8);
  expect_throw_with<std::invalid_argument>([&] { preshuffle_scales(s, 1, 16, 256); }, {"N", "16", "32"});
  expect_throw_with<std::invalid_argument>([&] { preshuffle_scales(s, 1, 32, 128); }, {"K", "128", "256"});
  expect_throw_with<std::invalid_argument>([&] { unpreshuffle_scales(s, 1, 64, 256); }, {"s", "256", "512"});
  expect_throw_with<std::invalid_argument>([&] { weight_preshuffle_offset(0, 16, 0, 16, 128); }, {"n", "16"});
  expect_throw_with<std::invalid_argument>([&] { weight_preshuffle_offset(0, 0, 64, 16, 128); }, {"kb", "64"});
  expect_throw_with<std::invalid_argument>([&] { weight_preshuffle_offset(-1, 0, 0, 16, 128); }, {"e"});
  expect_throw_with<std::invalid_argument>([&] { scale_preshuffle_offset(0, 0, 8, 32, 256); }, {"ks", "8"});
  expect_throw_with<std::invalid_argument>([&] { scale_preshuffle_offset(0, 0, 0, 48, 256); }, {"N", "48"});
  expect_throw_with<std::invalid_argument>([&] { weight_preshuffle_index(-5, 16, 128); }, {"offset"});
  expect_throw_with<std::invalid_argument>([&] { scale_preshuffle_index(0, 32, 100); }, {"K", "100"});
}

}  // namespace
}  // namespace tilejit::mxfp4
