// choose_moe_stage2: bucket selection, device matching, the fallback heuristic and its reasons.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>

#include "kernels/moe/stage2/chooser.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::kernels {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

const MoeStage2Shape kShape{256, 1024, 16, 4};

MoeStage2TableEntry row(const std::string& device, const MoeStage2Shape& shape, int max_tokens, int tile_m, int tile_n,
                        int k_batch, int unroll) {
  MoeStage2TableEntry e;
  e.device = device;
  e.shape = shape;
  e.max_tokens = max_tokens;
  e.tile_m = tile_m;
  e.tile_n = tile_n;
  e.k_batch = k_batch;
  e.unroll = unroll;
  e.source = "tuned";
  e.median_us = 1.0;
  return e;
}

/// The heuristic recomputed independently: the smallest power-of-two split that gives at least
/// 2 blocks per unit, limited to splits into whole 128-K chunks.
/// The heuristic's rule, restated: more than 16 routed rows per active expert is "many rows".
bool many_rows(const MoeStage2Shape& s, int tokens) {
  const double routed = double(tokens) * s.topk;
  return routed > 16.0 * std::min(routed, double(s.experts));
}

/// With few rows: the fewest slices of at most 4 chunks that divide K / 128; else 1.
int expected_k_batch(const MoeStage2Shape& s, int tokens) {
  if (many_rows(s, tokens)) return 1;
  const int chunks = s.inter_dim / 128;
  for (int kb = 1; kb <= chunks; ++kb)
    if (chunks % kb == 0 && chunks / kb <= 4) return kb;
  return chunks;
}

TEST(Choose, PicksTheSmallestBucketAtOrAboveTokens) {
  SeededRng rng;
  for (int round = 0; round < 20; ++round) {
    // Random distinct buckets with random tiles, in random order.
    std::vector<int> buckets;
    while (buckets.size() < size_t(uniform(*rng, 1, 8))) {
      int b = int(uniform(*rng, 1, 5000));
      if (std::find(buckets.begin(), buckets.end(), b) == buckets.end()) buckets.push_back(b);
    }
    MoeStage2ConfigTable t;
    t.origin = "rand.json";
    for (int b : buckets)
      t.entries.push_back(row("Card X", kShape, b, uniform(*rng, 0, 1) ? 16 : 32, 64 << uniform(*rng, 0, 2),
                              1 << uniform(*rng, 0, 3), 1 << uniform(*rng, 0, 2)));
    // Rows of another shape and another device must never be used.
    t.entries.push_back(row("Card X", {512, 1024, 16, 4}, 1 << 20, 32, 256, 8, 4));
    t.entries.push_back(row("Other", kShape, 1 << 20, 32, 256, 8, 4));
    std::vector<int> sorted = buckets;
    std::sort(sorted.begin(), sorted.end());
    for (int probe = 0; probe < 50; ++probe) {
      const int tokens = int(uniform(*rng, 1, 6000));
      const auto it = std::lower_bound(sorted.begin(), sorted.end(), tokens);
      const int want_bucket = it == sorted.end() ? sorted.back() : *it;
      const size_t want_index = size_t(std::find(buckets.begin(), buckets.end(), want_bucket) - buckets.begin());
      MoeStage2Choice c = choose_moe_stage2(t, kShape, tokens, "NVIDIA Card X 80GB", 100);
      ASSERT_TRUE(c.from_table) << c.reason;
      EXPECT_EQ(c.entry_index, int(want_index)) << "tokens " << tokens;
      const MoeStage2TableEntry& e = t.entries[want_index];
      EXPECT_EQ(c.config.tile_m, e.tile_m);
      EXPECT_EQ(c.config.tile_n, e.tile_n);
      EXPECT_EQ(c.config.k_batch, e.k_batch);
      EXPECT_EQ(c.config.unroll, e.unroll);
      EXPECT_EQ(c.config.model_dim, kShape.model_dim);
      EXPECT_EQ(c.config.inter_dim, kShape.inter_dim);
      EXPECT_EQ(c.config.experts, kShape.experts);
      EXPECT_EQ(c.config.topk, kShape.topk);
      EXPECT_NE(c.reason.find("rand.json entry " + std::to_string(want_index)), std::string::npos) << c.reason;
      EXPECT_NE(c.reason.find(fmt::format("tokens <= {}", want_bucket)), std::string::npos) << c.reason;
      EXPECT_EQ(c.reason.find("largest bucket") != std::string::npos, tokens > sorted.back()) << c.reason;
    }
  }
}

TEST(Choose, DeviceMatchingPrefersTheLongestNameThenDefault) {
  MoeStage2ConfigTable t;
  t.origin = "dev.json";
  t.entries = {row("default", kShape, 64, 32, 64, 1, 1), row("H100", kShape, 64, 16, 128, 2, 2),
               row("h100 sxm", kShape, 64, 16, 256, 4, 4), row("MI355", kShape, 64, 32, 256, 1, 2)};
  auto pick = [&](const std::string& name) { return choose_moe_stage2(t, kShape, 10, name, 132); };
  EXPECT_EQ(pick("NVIDIA H100 80GB HBM3").entry_index, 1);
  EXPECT_EQ(pick("NVIDIA H100 SXM5").entry_index, 2);  // longest match, case-insensitive
  EXPECT_EQ(pick("AMD Instinct MI355X").entry_index, 3);
  EXPECT_EQ(pick("tilejit emulator (sm_90a)").entry_index, 0);  // only "default" matches
  // A named device without rows for this shape falls back to the default rows of the shape.
  MoeStage2Shape other{512, 1024, 16, 4};
  t.entries.push_back(row("default", other, 8, 32, 128, 1, 1));
  t.entries.push_back(row("A100", {768, 1024, 16, 4}, 8, 16, 64, 1, 1));
  EXPECT_EQ(choose_moe_stage2(t, other, 3, "NVIDIA H100 80GB HBM3", 132).entry_index, 4);
}

TEST(Choose, FallsBackToTheHeuristicAndSaysSo) {
  SeededRng rng;
  MoeStage2ConfigTable t;
  t.origin = "small.json";
  t.entries = {row("H100", kShape, 64, 32, 64, 1, 1)};
  for (int probe = 0; probe < 50; ++probe) {
    MoeStage2Shape s{int(32 * uniform(*rng, 1, 100)), int(256 * uniform(*rng, 1, 16)), int(uniform(*rng, 1, 64)), 1};
    s.topk = int(uniform(*rng, 1, std::min(s.experts, 8)));
    if (s == kShape) continue;
    const int tokens = int(uniform(*rng, 1, 10000));
    const uint32_t units = uint32_t(uniform(*rng, 1, 304));
    MoeStage2Choice c = choose_moe_stage2(t, s, tokens, "NVIDIA H100", units);
    EXPECT_FALSE(c.from_table);
    EXPECT_EQ(c.entry_index, -1);
    EXPECT_NE(c.reason.find("heuristic"), std::string::npos) << c.reason;
    EXPECT_NE(c.reason.find("small.json"), std::string::npos) << c.reason;
    const int tile_n = s.model_dim >= 512 ? 256 : s.model_dim >= 128 ? 128 : 64;
    EXPECT_EQ(c.config.tile_m, many_rows(s, tokens) ? 32 : 16);
    EXPECT_EQ(c.config.tile_n, tile_n);
    EXPECT_EQ(c.config.unroll, many_rows(s, tokens) ? 2 : 4);
    EXPECT_EQ(c.config.k_batch, expected_k_batch(s, tokens))
        << "N=" << s.model_dim << " K=" << s.inter_dim << " E=" << s.experts << " topk=" << s.topk << " tokens=" << tokens
        << " units=" << units;
    EXPECT_NO_THROW(c.config.validate());
  }
  // Also on an empty table.
  EXPECT_FALSE(choose_moe_stage2(MoeStage2ConfigTable{}, kShape, 1, "x", 4).from_table);
}

TEST(Choose, HeuristicOverridesAndEpilogue) {
  SeededRng rng;
  for (int probe = 0; probe < 30; ++probe) {
    const int tokens = int(uniform(*rng, 1, 300));
    const uint32_t units = uint32_t(uniform(*rng, 1, 304));
    const int tile_n = 64 << uniform(*rng, 0, 3), unroll = 1 << uniform(*rng, 0, 2);
    MoeStage2Config c = heuristic_moe_stage2(kShape, tokens, units, {}, tile_n, unroll);
    EXPECT_EQ(c.tile_n, tile_n);
    EXPECT_EQ(c.unroll, unroll);
    EXPECT_EQ(c.tile_m, many_rows(kShape, tokens) && tile_n < 512 ? 32 : 16);
    EXPECT_EQ(c.k_batch, expected_k_batch(kShape, tokens));
  }
  // Without accumulation a split cannot add up: k_batch 1, also when the table row splits.
  MoeStage2Epilogue store{OutDtype::F32, true, false, false};
  MoeStage2Config h = heuristic_moe_stage2(kShape, 1, 1000, store);
  EXPECT_EQ(h.k_batch, 1);
  EXPECT_EQ(h.out_dtype, OutDtype::F32);
  EXPECT_TRUE(h.has_bias);
  EXPECT_FALSE(h.doweight);
  EXPECT_FALSE(h.accumulate);
  MoeStage2ConfigTable t;
  t.entries = {row("default", kShape, 64, 32, 64, 4, 1)};
  MoeStage2Choice c = choose_moe_stage2(t, kShape, 2, "any", 132, store);
  EXPECT_TRUE(c.from_table);
  EXPECT_EQ(c.config.k_batch, 1);
  EXPECT_EQ(c.config.tile_m, 32);
  EXPECT_FALSE(c.config.accumulate);
  EXPECT_NE(c.reason.find("without accumulation"), std::string::npos) << c.reason;
}

TEST(Choose, RejectsBadArguments) {
  MoeStage2ConfigTable t;
  expect_throw_with<std::invalid_argument>([&] { choose_moe_stage2(t, kShape, 0, "x", 1); }, {"tokens"});
  expect_throw_with<std::invalid_argument>([&] { choose_moe_stage2(t, {100, 1024, 16, 4}, 4, "x", 1); },
                                           {"model_dim"});
  expect_throw_with<std::invalid_argument>([&] { choose_moe_stage2(t, {128, 1024, 4, 8}, 4, "x", 1); }, {"topk"});
}

TEST(Choose, BuiltInTableServesH100AndH200AndNotOthers) {
  const MoeStage2ConfigTable& t = builtin_config_table();
  for (const char* model : {"gpt_oss", "deepseek_r1"}) {
    MoeStage2Shape s = *moe_stage2_model_shape(model);
    for (const char* card : {"NVIDIA H100 80GB HBM3", "NVIDIA H200"}) {
      MoeStage2Choice on_card = choose_moe_stage2(t, s, 7, card, 132);
      EXPECT_TRUE(on_card.from_table) << on_card.reason;
      const MoeStage2TableEntry& e = t.entries[size_t(on_card.entry_index)];
      EXPECT_EQ(e.max_tokens, 8);
      EXPECT_NE(std::string(card).find(e.device), std::string::npos) << card << " served by " << e.device;
    }
    MoeStage2Choice elsewhere = choose_moe_stage2(t, s, 7, "AMD Instinct MI355X", 256);
    EXPECT_FALSE(elsewhere.from_table) << elsewhere.reason;
  }
}

}  // namespace
}  // namespace tilejit::kernels
