// MoeStage2Config::with_tiles_text: the parse counterpart of tiles_text() (bench --config, A/B runs).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/moe/stage2/config.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::kernels {
namespace {

using testing_support::SeededRng;

/// `c`'s shape and epilogue with the default tiles (what with_tiles_text starts from).
MoeStage2Config base_of(const MoeStage2Config& c) {
  MoeStage2Config b{c.model_dim, c.inter_dim, c.experts, c.topk};
  b.out_dtype = c.out_dtype;
  b.has_bias = c.has_bias;
  b.doweight = c.doweight;
  b.accumulate = c.accumulate;
  b.min_blocks_per_sm = c.min_blocks_per_sm;
  b.register_epilogue = c.register_epilogue;
  return b;
}

// Random valid configs (every main loop, 96-row tiles, warps_m, in step) read back from their text:
// the same kernel, the shape and epilogue fields untouched.
TEST(Stage2TilesText, ReadsBackEveryValidConfig) {
  SeededRng rng;
  MoeStage2Config base{3072, 3072, 128, 4};
  base.out_dtype = OutDtype::F32;
  base.has_bias = true;
  base.accumulate = true;
  int checked = 0;
  for (int probe = 0; probe < 2000 && checked < 300; ++probe) {
    MoeStage2Config c = base;
    const int tms[] = {16, 32, 64, 96, 128}, tns[] = {64, 128, 256, 512}, kbs[] = {1, 2, 3, 4, 6, 8}, us[] = {1, 2, 3, 4, 6, 8};
    c.tile_m = tms[std::uniform_int_distribution<int>(0, 4)(*rng)];
    c.tile_n = tns[std::uniform_int_distribution<int>(0, 3)(*rng)];
    c.k_batch = kbs[std::uniform_int_distribution<int>(0, 5)(*rng)];
    c.unroll = us[std::uniform_int_distribution<int>(0, 5)(*rng)];
    c.warps_m = 1 << std::uniform_int_distribution<int>(0, 2)(*rng);
    const int loop = std::uniform_int_distribution<int>(0, 3)(*rng);  // register, sh, wg, wr
    c.shared_mainloop = loop > 0;
    c.wgmma = loop > 1;
    c.wgmma_rs = loop == 3;
    c.stagger_warpgroups = !c.wgmma_rs || std::uniform_int_distribution<int>(0, 1)(*rng);
    if (std::uniform_int_distribution<int>(0, 5)(*rng) == 0) {  // a token owner
      c = base;
      c.token_owner = true;
      c.tile_n = 16 << std::uniform_int_distribution<int>(0, 3)(*rng);
      c.unroll = us[std::uniform_int_distribution<int>(0, 5)(*rng)];
    }
    c.warp_specialized = (!c.shared_mainloop || c.wgmma_rs) && !c.token_owner && std::uniform_int_distribution<int>(0, 2)(*rng) == 0;
    try {
      c.validate();
    } catch (const std::invalid_argument&) {
      continue;
    }
    SCOPED_TRACE(c.tiles_text());
    const MoeStage2Config back = base.with_tiles_text(c.tiles_text());
    EXPECT_EQ(back.kernel_name(), c.kernel_name());
    EXPECT_EQ(back.tiles_text(), c.tiles_text());
    EXPECT_EQ(back.out_dtype, base.out_dtype);
    EXPECT_TRUE(back.has_bias);
    ++checked;
  }
  EXPECT_GE(checked, 100);
}

// validate() on arbitrary field values (zeros and negatives included) either throws
// std::invalid_argument or accepts a config whose name, text and sizes can be computed: it never
// divides by zero on the way (k_batch and unroll are checked before anything divides by them).
TEST(Stage2TilesText, ValidateRejectsAnyFieldValuesCleanly) {
  SeededRng rng;
  auto pick = [&](std::initializer_list<int> v) { return *(v.begin() + std::uniform_int_distribution<int>(0, int(v.size()) - 1)(*rng)); };
  int accepted = 0;
  for (int i = 0; i < 100000; ++i) {
    // Valid values more often than not, so that some combinations pass.
    MoeStage2Config c{pick({3072, 3072, 96, 0, -32, 100}), pick({3072, 512, 256, 0, -256, 384}), pick({8, 128, 8, 0, -1}),
                      pick({2, 4, 1, 0, -1, 300})};
    c.tile_m = pick({16, 16, 32, 64, 96, 128, 0, -16, 80});
    c.tile_n = pick({128, 128, 256, 64, 32, 16, 0, -64, 96});
    c.k_batch = pick({1, 1, 2, 3, 4, 6, 0, -1, 24});
    c.unroll = pick({2, 2, 4, 6, 8, 1, 3, 0, -1, 5, 9});
    c.warps_m = pick({1, 1, 1, 2, 4, 0, -1, 3});
    c.min_blocks_per_sm = pick({-1, -1, 0, 2, 9, -2});
    c.shared_mainloop = pick({0, 1});
    c.wgmma = c.shared_mainloop && pick({0, 1});
    c.wgmma_rs = c.wgmma && pick({0, 1});
    c.token_owner = pick({0, 0, 0, 1});
    c.warp_specialized = pick({0, 0, 0, 1});
    c.register_epilogue = pick({1, 1, 1, 0});
    try {
      c.validate();
    } catch (const std::invalid_argument&) {
      continue;
    }
    ++accepted;
    EXPECT_FALSE(c.kernel_name().empty());
    EXPECT_EQ(base_of(c).with_tiles_text(c.tiles_text()).kernel_name(), c.kernel_name());
    EXPECT_GT(c.shared_bytes(), 0);
  }
  EXPECT_GT(accepted, 30);
}

TEST(Stage2TilesText, WordsInAnyOrderWithDefaults) {
  MoeStage2Config base{7168, 1024, 384, 8};
  const MoeStage2Config c = base.with_tiles_text("  ns wr tn128   tm96 ");
  EXPECT_EQ(c.tile_m, 96);
  EXPECT_EQ(c.tile_n, 128);
  EXPECT_EQ(c.k_batch, 1);
  EXPECT_EQ(c.unroll, 1);  // shared main loops: u1, as in the tables
  EXPECT_TRUE(c.shared_mainloop && c.wgmma && c.wgmma_rs);
  EXPECT_FALSE(c.stagger_warpgroups);
  const MoeStage2Config r = base.with_tiles_text("tm16 tn256");
  EXPECT_EQ(r.unroll, 2);
  EXPECT_FALSE(r.shared_mainloop);
  EXPECT_FALSE(r.token_owner);
  const MoeStage2Config o = base.with_tiles_text("ow u6 tn32 tm16");
  EXPECT_TRUE(o.token_owner);
  EXPECT_EQ(o.tile_n, 32);
  EXPECT_EQ(o.unroll, 6);
  EXPECT_EQ(o.tiles_text(), "tm16 tn32 kb1 u6 ow");
  const MoeStage2Config w = base.with_tiles_text("ws tm16 tn128 u2");
  EXPECT_TRUE(w.warp_specialized);
  EXPECT_EQ(w.block_threads(), 288);
  EXPECT_EQ(w.tiles_text(), "tm16 tn128 kb1 u2 ws");
  EXPECT_TRUE(w.persistent_grid());
  EXPECT_EQ(r.block_threads(), 256);
  const MoeStage2Config wr = base.with_tiles_text("ws tm64 tn256 wr ns");
  EXPECT_TRUE(wr.warp_specialized && wr.wgmma_rs);
  EXPECT_EQ(wr.block_threads(), 384);  // a producer warpgroup
  EXPECT_TRUE(wr.persistent_grid());
  EXPECT_EQ(wr.tiles_text(), "tm64 tn256 kb1 u1 wr ns ws");
}

TEST(Stage2TilesText, BadTextNamesTheWord) {
  const MoeStage2Config base{3072, 3072, 128, 4};
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"tm64 tn256 xx", "unknown word 'xx'"},  {"tm64 tn256 kb", "'kb' needs a number"},
      {"tm64 tn256 kb1x", "needs a number"},   {"tm64 tm32 tn256", "'tm32' repeats"},
      {"tm64 tn256 sh wr", "'wr' repeats"},    {"tn256", "needs tmN and tnN"},
      {"tm64 tn256 ns", "'ns' needs 'wr'"},    {"tm96 tn128", "tile_m 96 needs shared_mainloop"},
      {"tm80 tn128 sh", "tile_m must be"},     {"tm64 tn256 kb5 sh", "k_batch 5"},
      {"", "needs tmN and tnN"},               {"tm64 tn256 wr2", "unknown word 'wr2'"},
      {"tm64 tn99999999 sh", "needs a number"}, {"tm16 tn256 ow", "token_owner needs tile_n"},
      {"tm16 tn32 kb2 ow", "token_owner needs tile_m 16, k_batch 1"}, {"tm16 tn32 ow2", "unknown word 'ow2'"},
      {"tm16 tn128 kb0", "k_batch 0 does not split"}, {"tm16 tn128 u0", "unroll must be"},  // not a division by zero
      {"tm32 tn128 sh ws", "warp_specialized needs the register main loop"}, {"tm16 tn32 ow ws", "warp_specialized needs"},
      {"tm16 tn128 kb8 u3 ws", "even unroll"}, {"tm16 tn128 ws2", "unknown word 'ws2'"},
      {"tm64 tn256 wr ws", "warpgroups in step ('ns')"},
  };
  for (const auto& [text, says] : cases)
    testing_support::expect_throw_with<std::invalid_argument>([&] { (void)base.with_tiles_text(text); },
                                                              {"tiles \"" + text + "\"", says});
}

}  // namespace
}  // namespace tilejit::kernels
