// The stage-2 kernel name is its trace key (KernelOptions::trace_key) and its define_once key: every
// config field that can change the traced body must change the name, or a warm start would load
// the code of another config.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "kernels/moe/stage2/config.h"
#include "kernels/moe/stage2/kernel.h"

namespace tilejit::kernels {
namespace {

// A new field must be added to the mutations below (and to kernel_name() if it changes the body).
static_assert(sizeof(MoeStage2Config) == 60, "MoeStage2Config changed: cover the new field in this test");

struct Mutation {
  const char* field;
  std::function<void(MoeStage2Config&)> apply;
};

TEST(Stage2Name, EveryFieldThatChangesTheKernelChangesTheName) {
  MoeStage2Config base{3072, 3072, 128, 4};
  base.tile_m = 16;
  base.tile_n = 128;
  base.k_batch = 4;
  base.unroll = 6;
  base.validate();
  const std::vector<Mutation> mutations = {
      {"model_dim", [](MoeStage2Config& c) { c.model_dim = 2880; }},
      {"inter_dim", [](MoeStage2Config& c) { c.inter_dim = 3072 * 2; }},
      {"experts", [](MoeStage2Config& c) { c.experts = 32; }},
      {"topk", [](MoeStage2Config& c) { c.topk = 2; }},
      {"tile_m", [](MoeStage2Config& c) { c.tile_m = 32; }},
      {"tile_n", [](MoeStage2Config& c) { c.tile_n = 256; }},
      {"k_batch", [](MoeStage2Config& c) { c.k_batch = 2; }},
      {"out_dtype", [](MoeStage2Config& c) { c.out_dtype = OutDtype::F32; }},
      {"has_bias", [](MoeStage2Config& c) { c.has_bias = true; }},
      {"doweight", [](MoeStage2Config& c) { c.doweight = false; }},
      {"accumulate", [](MoeStage2Config& c) { c.accumulate = false, c.k_batch = 1; }},
      {"unroll", [](MoeStage2Config& c) { c.unroll = 2; }},
      {"stream_weights", [](MoeStage2Config& c) { c.stream_weights = false; }},
      {"warps_m", [](MoeStage2Config& c) { c.tile_m = 32, c.warps_m = 2; }},
      {"pair_scales", [](MoeStage2Config& c) { c.pair_scales = false; }},
      {"shared_mainloop", [](MoeStage2Config& c) { c.tile_m = 32, c.shared_mainloop = true; }},
      {"register_epilogue", [](MoeStage2Config& c) { c.register_epilogue = false; }},
      {"small_scale_decode", [](MoeStage2Config& c) { c.small_scale_decode = false; }},
      {"min_blocks_per_sm", [](MoeStage2Config& c) { c.min_blocks_per_sm = 3; }},
      {"shared_activations", [](MoeStage2Config& c) { c.shared_activations = false; }},
      {"wgmma", [](MoeStage2Config& c) { c.tile_m = 64, c.shared_mainloop = true, c.wgmma = true; }},
      {"token_owner", [](MoeStage2Config& c) { c.tile_n = 32, c.k_batch = 1, c.token_owner = true; }},
  };
  for (const Mutation& m : mutations) {
    MoeStage2Config c = base;
    m.apply(c);
    c.validate();
    EXPECT_NE(c.kernel_name(), base.kernel_name()) << m.field;
    EXPECT_EQ(moe_stage2_kernel(c).options().trace_key, c.kernel_name()) << m.field;
  }
}

TEST(Stage2Name, WgmmaNamesItsOwnKernel) {
  MoeStage2Config shared{3072, 3072, 128, 4, 64, 256};
  shared.shared_mainloop = true;
  MoeStage2Config wg = shared;
  wg.wgmma = true;
  wg.validate();
  EXPECT_NE(wg.kernel_name(), shared.kernel_name());
  EXPECT_EQ(wg.tiles_text(), "tm64 tn256 kb1 u2 wg");
  MoeStage2Config bad = wg;
  bad.shared_mainloop = false;
  EXPECT_THROW(bad.validate(), std::invalid_argument);
  bad = wg;
  bad.tile_m = 32;
  EXPECT_THROW(bad.validate(), std::invalid_argument);
}

TEST(Stage2Name, ConfigsThatCompileToOneKernelShareIt) {
  // 6 chunks per slice: unroll 8 does not divide them and falls back to 2, the kernel of unroll 2.
  MoeStage2Config a{3072, 3072, 128, 4}, b = a;
  a.k_batch = b.k_batch = 4;
  a.unroll = 8;
  b.unroll = 2;
  EXPECT_EQ(a.kernel_name(), b.kernel_name());
  // An explicit hint equal to the automatic one.
  MoeStage2Config c = b;
  c.min_blocks_per_sm = 2;
  EXPECT_EQ(c.kernel_name(), b.kernel_name());
  // A token owner reads neither pair_scales nor register_epilogue.
  MoeStage2Config owner = a, other = a;
  owner.tile_n = other.tile_n = 32;
  owner.k_batch = other.k_batch = 1;
  owner.token_owner = other.token_owner = true;
  other.pair_scales = other.register_epilogue = false;
  EXPECT_EQ(owner.kernel_name(), other.kernel_name());
}

}  // namespace
}  // namespace tilejit::kernels
