// The MoE stage-2 A16W4 kernel on the emulator, both targets' layouts, against the FP32
// reference on the exactly dequantised weights.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "backend/emulator/emulator.h"
#include "dsl/ir/numeric.h"
#include "dsl/tile/mxfp4.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/moe/stage2/api.h"
#include "tests/common/seeded_rng.h"

using namespace tilejit;
using namespace tilejit::kernels;

namespace {

struct Case {
  const char* name;
  int tokens, model_dim, inter_dim, experts, topk;
  int tile_m, tile_n, k_batch;
  OutDtype out;
  bool bias, doweight, accumulate;
  int empty_experts;
  double skew;
  int unroll = 2;
  bool pair_scales = true;
  int warps_m = 1;
  bool shared_mainloop = false;
  bool register_epilogue = false;
  bool shared_activations = true;  // sm_90a register main loop: A staged once per block
  bool wgmma = false;              // sm_90a shared main loop with wgmma (gfx950: the shared main loop)
  bool wgmma_rs = false;           // sm_90a: weights in wgmma's A registers (gfx950: the shared main loop)
  bool stagger_warpgroups = true;   // sm_90a wgmma_rs: the two warpgroups half a step apart
  bool token_owner = false;         // a block owns tile_n columns of one token (no sorting, no atomics)
  bool warp_specialized = false;    // sm_90a: a producer warp streams the weights, persistent blocks
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

struct Stage2Emulator : ::testing::TestWithParam<std::tuple<Case, Target>> {};

TEST_P(Stage2Emulator, MatchesReference) {
  const auto& [c, target] = GetParam();
  unsigned seed = std::random_device{}();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  moe::Routing routing = moe::random_routing(rng, c.tokens, c.topk, c.experts, {c.empty_experts, c.skew});
  auto a = moe::random_bf16_normal(rng, size_t(c.tokens) * c.topk * c.inter_dim);
  auto w = moe::random_mxfp4_weights(rng, c.experts, c.model_dim, c.inter_dim);
  auto bias = c.bias ? moe::random_f32_normal(rng, size_t(c.experts) * c.model_dim) : std::vector<float>{};
  moe::Stage2Inputs in{a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights};

  MoeStage2Config cfg{c.model_dim, c.inter_dim, c.experts, c.topk, c.tile_m, c.tile_n, c.k_batch, c.out,
                      c.bias, c.doweight, c.accumulate};
  cfg.unroll = c.unroll;
  cfg.pair_scales = c.pair_scales;
  cfg.warps_m = c.warps_m;
  cfg.shared_mainloop = c.shared_mainloop;
  cfg.register_epilogue = c.register_epilogue;
  cfg.shared_activations = c.shared_activations;
  cfg.wgmma = c.wgmma;
  cfg.wgmma_rs = c.wgmma_rs;
  cfg.stagger_warpgroups = c.stagger_warpgroups;
  cfg.token_owner = c.token_owner;
  cfg.warp_specialized = c.warp_specialized;
  moe::Stage2Shape shape{c.tokens, c.topk, c.experts, c.model_dim, c.inter_dim};
  moe::Stage2Result ref = moe::moe_stage2_reference(
      shape, in, {c.doweight, c.accumulate, c.out == OutDtype::F32 ? moe::OutputType::f32 : moe::OutputType::bf16});

  // Start from random output values: an element the kernel never touched keeps its start
  // value and fails the comparison (plain stores overwrite it).
  size_t n_out = size_t(ref.rows * ref.cols);
  std::vector<float> start(n_out);
  std::normal_distribution<float> nd(0.f, 1.f);
  for (float& x : start) x = nd(rng);
  std::vector<uint8_t> start_bytes;
  if (c.out == OutDtype::F32) {
    start_bytes.resize(n_out * 4);
    std::memcpy(start_bytes.data(), start.data(), start_bytes.size());
  } else {
    std::vector<uint16_t> h(n_out);
    for (size_t i = 0; i < n_out; ++i) {
      h[i] = ir::f32_to_bf16(start[i]);
      start[i] = ir::bf16_to_f32(h[i]);
    }
    start_bytes.resize(n_out * 2);
    std::memcpy(start_bytes.data(), h.data(), start_bytes.size());
  }
  auto device = emulator::make_emulator_device({.target = target});
  if (c.warp_specialized && target == Target::Gfx950) {  // no copy engine: rejected when tracing
    EXPECT_THROW(run_moe_stage2(*device, cfg, in, c.tokens, start_bytes), UserError);
    return;
  }
  MoeStage2Run run = run_moe_stage2(*device, cfg, in, c.tokens, start_bytes);
  ASSERT_EQ(run.out.size(), n_out);

  double num = 0, den = 0;
  size_t nans = 0;
  for (size_t i = 0; i < n_out; ++i) {
    double expect = ref.exact[i] + (c.accumulate ? double(start[i]) : 0.0);
    double got = run.out[i];
    if (std::isnan(got)) ++nans;
    num += (got - expect) * (got - expect);
    den += expect * expect;
  }
  EXPECT_EQ(nans, 0u);
  double rel = std::sqrt(num / den);
  EXPECT_LT(rel, 1e-2) << "relative L2 error";
  // f32 outputs without accumulation order effects are far tighter than the contract.
  if (c.out == OutDtype::F32 && !c.accumulate) EXPECT_LT(rel, 1e-5);
}

const Case kCases[] = {
    // name, tokens, N, K, E, topk, tile_m, tile_n, k_batch, out, bias, doweight, accumulate, empty, skew
    {"small_bf16", 5, 128, 256, 8, 2, 16, 128, 1, OutDtype::BF16, false, true, true, 0, 0},
    {"small_f32_bias", 6, 128, 256, 8, 2, 16, 64, 1, OutDtype::F32, true, true, true, 0, 0},
    {"one_token", 1, 64, 256, 4, 2, 16, 64, 1, OutDtype::BF16, true, true, true, 0, 0},
    {"topk1", 7, 64, 256, 4, 1, 16, 64, 1, OutDtype::F32, false, true, true, 0, 0},
    {"kbatch2_bias", 4, 64, 512, 4, 2, 16, 64, 2, OutDtype::F32, true, true, true, 0, 0},
    {"kbatch4_bf16", 3, 64, 512, 4, 2, 16, 64, 4, OutDtype::BF16, true, true, true, 0, 0},
    {"empty_experts_ragged", 9, 64, 256, 8, 2, 16, 64, 1, OutDtype::F32, false, true, true, 3, 1.5},
    {"store_per_slot", 5, 64, 256, 4, 2, 16, 64, 1, OutDtype::F32, true, true, false, 0, 0},
    {"store_bf16_noweight", 4, 64, 256, 4, 2, 16, 64, 1, OutDtype::BF16, false, false, false, 0, 0},
    {"tile_m32", 11, 64, 256, 4, 2, 32, 64, 1, OutDtype::F32, false, true, true, 0, 0},
    {"tile_n512_partial", 5, 576, 256, 4, 2, 16, 512, 1, OutDtype::BF16, true, true, true, 0, 0},
    {"tile_m64_ragged", 37, 128, 256, 4, 3, 64, 128, 2, OutDtype::BF16, true, true, true, 1, 1.5},
    {"tile_n256_partial", 3, 160, 256, 4, 2, 16, 256, 1, OutDtype::BF16, true, true, true, 0, 0},
    {"partial_n_tile", 4, 96, 256, 4, 2, 16, 64, 1, OutDtype::F32, false, true, true, 0, 0},
    // Scales in words shared by two chunks and two n-tiles (tile_n 256), over 4 unrolled chunks.
    {"unroll4_shared_scale_words", 6, 256, 512, 4, 2, 16, 256, 1, OutDtype::F32, true, true, true, 0, 0, 4},
    {"unroll4_byte_scales", 6, 256, 512, 4, 2, 16, 256, 1, OutDtype::F32, true, true, true, 0, 0, 4, false},
    {"unroll1_kbatch6", 2, 64, 768, 4, 2, 16, 64, 6, OutDtype::F32, true, true, true, 0, 0, 1},
    // Whole slices of 3 and 6 chunks in one iteration (3: odd, byte scales; 6: paired words).
    {"unroll3_whole_slice", 5, 128, 768, 4, 2, 16, 128, 2, OutDtype::BF16, true, true, true, 0, 0, 3},
    {"unroll6_whole_slice", 4, 256, 1536, 4, 2, 16, 256, 2, OutDtype::F32, true, true, true, 1, 1.5, 6},
    // Waves in a 2 x 4 / 4 x 2 (gfx950: 2 x 2 / 4 x 1) grid over rows and columns.
    {"tile_m32_warps_m2", 23, 256, 256, 4, 2, 32, 256, 1, OutDtype::F32, true, true, true, 0, 0, 2, true, 2},
    {"tile_m64_warps_m4_ragged", 41, 128, 512, 4, 3, 64, 128, 2, OutDtype::BF16, true, true, true, 1, 1.5, 2, true, 4},
    // Operands staged in shared memory: several steps, split-K, a partial column block, ragged experts.
    {"shared_mainloop", 21, 128, 512, 4, 2, 32, 128, 1, OutDtype::F32, true, true, true, 0, 0, 1, true, 1, true},
    {"shared_mainloop_kbatch2_partial", 13, 192, 1024, 4, 2, 32, 128, 2, OutDtype::BF16, true, true, true, 1, 1.5, 1, true, 2, true},
    {"shared_mainloop_n256_warps_m2", 45, 256, 256, 4, 3, 32, 256, 1, OutDtype::F32, false, true, true, 0, 0, 1, true, 2, true},
    {"shared_mainloop_m64_warps_m2_kbatch3", 70, 128, 768, 4, 2, 64, 128, 3, OutDtype::BF16, true, true, true, 1, 1.5, 1, true, 2, true},
    // Column pairs straight from the accumulators (sm_90a; gfx950 keeps the shared tile).
    {"register_epilogue_bf16", 9, 192, 512, 4, 2, 16, 128, 2, OutDtype::BF16, true, true, true, 0, 0, 2, true, 1, false, true},
    {"register_epilogue_store_f32", 6, 128, 256, 4, 2, 32, 64, 1, OutDtype::F32, true, false, false, 1, 1.5, 1, true, 2, false, true},
    // sm_90a: every warp loading and permuting its own activations (no shared slice).
    {"global_activations", 11, 128, 512, 4, 2, 16, 128, 2, OutDtype::BF16, true, true, true, 1, 1.5, 2, true, 1, false, false, false},
    {"global_activations_register_epilogue_m32", 19, 256, 768, 4, 2, 32, 128, 3, OutDtype::F32, false, true, true, 0, 0, 1, true, 2, false, true, false},
    {"register_epilogue_shared_mainloop", 33, 256, 512, 4, 2, 32, 256, 2, OutDtype::F32, true, true, true, 0, 0, 1, true, 2, true, true},
    // The widest shared-main-loop tile, 64 x 256 (160 KiB of LDS on gfx950), warps 2 x 4.
    {"shared_mainloop_m64_n256", 70, 256, 512, 4, 2, 64, 256, 1, OutDtype::BF16, true, true, true, 0, 0, 1, true, 2, true, false},
    {"shared_mainloop_m64_n256_register_epilogue", 50, 320, 256, 4, 2, 64, 256, 1, OutDtype::F32, false, true, true, 1, 1.5, 1, true, 2, true, true},
    // wgmma (sm_90a): two warpgroups over the columns, several steps, a partial column block, split-K.
    {"wgmma_m64_n256", 70, 256, 512, 4, 2, 64, 256, 1, OutDtype::BF16, true, true, true, 0, 0, 1, true, 1, true, true, true, true},
    {"wgmma_m64_n128_kbatch2_partial", 45, 320, 1024, 4, 2, 64, 128, 2, OutDtype::F32, true, true, true, 1, 1.5, 1, true, 1, true, false, true, true},
    // 128-row tiles: the warpgroups split the rows (wgmma), or a 4 x 2 / 2 x 2 wave grid.
    {"wgmma_m128_n128_partial", 200, 320, 512, 4, 2, 128, 128, 1, OutDtype::BF16, true, true, true, 1, 1.5, 1, true, 1, true, true, true, true},
    {"shared_mainloop_m128_kbatch2", 90, 128, 512, 3, 2, 128, 128, 2, OutDtype::F32, false, true, true, 0, 0, 1, true, 4, true, false},
    // Six 64-K steps per slice: two register slots instead of four (both main loops).
    {"wgmma_six_steps", 37, 128, 768, 4, 2, 64, 128, 2, OutDtype::BF16, false, true, true, 0, 0, 1, true, 1, true, true, true, true},
    {"shared_mainloop_six_steps", 29, 128, 768, 4, 2, 32, 128, 2, OutDtype::F32, true, true, true, 1, 1.5, 1, true, 1, true},
    // Weights in wgmma's A registers: one and two m64 tiles per warpgroup, partial column blocks,
    // split-K, more steps than stages, and rows past the sorting's padding.
    {"wgmma_rs_m32_n256", 45, 256, 512, 4, 2, 32, 256, 1, OutDtype::BF16, true, true, true, 0, 0, 1, true, 1, true, true, true, true, true},
    {"wgmma_rs_m64_n128_kbatch2_partial", 60, 320, 1024, 4, 2, 64, 128, 2, OutDtype::F32, true, true, true, 1, 1.5, 1, true, 1, true, true, true, true, true},
    {"wgmma_rs_m128_n128_partial_steps", 150, 288, 768, 3, 2, 128, 128, 1, OutDtype::BF16, false, true, true, 0, 0, 1, true, 1, true, true, true, true, true},
    {"wgmma_rs_two_steps_per_slice", 23, 128, 256, 4, 2, 32, 128, 2, OutDtype::F32, true, true, true, 1, 1.5, 1, true, 1, true, true, true, true, true},
    // The two warpgroups in step (stagger_warpgroups off): one and two m64 tiles per warpgroup,
    // split-K, a partial column block, two row chunks, and a slice of two steps (fewer than the stages).
    {"wgmma_rs_in_step_m32_n256", 45, 256, 512, 4, 2, 32, 256, 1, OutDtype::BF16, true, true, true, 0, 0, 1, true, 1, true, true, true, true, true, false},
    {"wgmma_rs_in_step_m64_n128_kbatch2_partial", 60, 320, 1024, 4, 2, 64, 128, 2, OutDtype::F32, true, true, true, 1, 1.5, 1, true, 1, true, true, true, true, true, false},
    {"wgmma_rs_in_step_m128_two_steps", 150, 256, 256, 4, 2, 128, 128, 2, OutDtype::F32, false, true, true, 0, 0, 1, true, 1, true, true, true, true, true, false},
    // 96-row tiles: chunks of 64 and 32 rows (the second skipped where it starts with padding),
    // three activation rows per thread; gfx950 and the plain shared main loop with a 6 x 1 / 3 x 2 grid.
    {"wgmma_rs_m96_n128_kbatch2", 150, 256, 512, 3, 2, 96, 128, 2, OutDtype::BF16, true, true, true, 0, 0, 1, true, 1, true, true, true, true, true},
    {"wgmma_rs_in_step_m96_n128_partial", 110, 320, 768, 4, 2, 96, 128, 1, OutDtype::F32, false, true, true, 1, 1.5, 1, true, 1, true, true, true, true, true, false},
    {"shared_mainloop_m96_warps2", 130, 128, 512, 3, 2, 96, 128, 1, OutDtype::BF16, true, true, true, 0, 0, 1, true, 2, true, false},
    // Token owners (adding to the random start values): K split into parts where topk leaves
    // waves over (sm_90a topk 4: two parts; topk 2, 6 chunks: three), a second round of pieces
    // (gfx950 topk 6: 4 + 2 of its 4 waves), idle waves (sm_90a topk 6), partial column blocks.
    {"owner_one_token_topk4_bias", 1, 96, 512, 8, 4, 16, 32, 1, OutDtype::BF16, true, true, true, 0, 0, 2, true, 1, false, false, true, false, false, true, true},
    {"owner_tokens3_partial_f32", 3, 96, 768, 4, 2, 16, 64, 1, OutDtype::F32, true, true, true, 0, 0, 3, true, 1, false, false, true, false, false, true, true},
    {"owner_topk1_n16_noweight", 2, 64, 256, 4, 1, 16, 16, 1, OutDtype::F32, false, false, true, 0, 0, 1, true, 1, false, false, true, false, false, true, true},
    {"owner_topk6_n128_partial", 2, 160, 256, 8, 6, 16, 128, 1, OutDtype::BF16, true, true, true, 0, 0, 2, true, 1, false, false, true, false, false, true, true},
    // Warp-specialized (sm_90a): persistent blocks walk many items through a ring of four stages
    // (two fills per item, a fill per item, wrapping the ring many times), ragged experts, split-K,
    // stores, 32-row tiles over two wave rows, tile_n 256, the activations from global memory.
    {"ws_kbatch2_two_fills", 9, 256, 1024, 6, 2, 16, 128, 2, OutDtype::BF16, true, true, true, 1, 1.5, 2, true, 1, false, true, true, false, false, true, false, true},
    {"ws_store_m32_warps_m2", 13, 128, 512, 4, 3, 32, 64, 1, OutDtype::F32, true, true, false, 0, 0, 4, true, 2, false, true, true, false, false, true, false, true},
    {"ws_n256_kbatch3", 7, 512, 768, 5, 2, 16, 256, 3, OutDtype::F32, false, true, true, 1, 1.5, 2, true, 1, false, true, true, false, false, true, false, true},
    {"ws_global_activations", 10, 128, 512, 4, 2, 16, 128, 1, OutDtype::BF16, true, true, true, 0, 0, 2, true, 1, false, true, false, false, false, true, false, true},
    // Warp-specialized wgmma_rs (a producer warpgroup, two consumer warpgroups): two m64 tiles per
    // consumer with more steps than stages (the ring wraps), one tile with split-K and a partial
    // column block, and a slice of two steps (fewer than the producer's lag + 1).
    {"ws_wgmma_rs_n256_wraps", 70, 256, 1024, 4, 2, 64, 256, 1, OutDtype::BF16, true, true, true, 1, 1.5, 1, true, 1, true, true, true, true, true, false, false, true},
    {"ws_wgmma_rs_n128_kbatch2_partial", 60, 320, 1024, 4, 2, 64, 128, 2, OutDtype::F32, false, true, true, 0, 0, 1, true, 1, true, true, true, true, true, false, false, true},
    {"ws_wgmma_rs_two_steps", 40, 128, 256, 4, 2, 64, 128, 2, OutDtype::F32, true, true, true, 0, 0, 1, true, 1, true, true, true, true, true, false, false, true},
    // Row chunks of 64 + 32 (the second skipped where it starts with padding), 32 rows, 64 + 64
    // (more shared memory than gfx950 has: sm_90a only).
    {"ws_wgmma_rs_m96_n128", 150, 256, 512, 3, 2, 96, 128, 1, OutDtype::BF16, true, true, true, 0, 0, 1, true, 1, true, true, true, true, true, false, false, true},
    {"ws_wgmma_rs_m32_n256_partial", 45, 320, 512, 4, 2, 32, 256, 1, OutDtype::F32, false, true, true, 1, 1.5, 1, true, 1, true, true, true, true, true, false, false, true},
    {"ws_wgmma_rs_m128_kbatch2", 150, 128, 1024, 2, 2, 128, 128, 2, OutDtype::F32, true, true, true, 0, 0, 1, true, 1, true, true, true, true, true, false, false, true},
};

INSTANTIATE_TEST_SUITE_P(Cases, Stage2Emulator,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" +
                                  (std::get<1>(info.param) == Target::Sm90a ? "sm90a" : "gfx950");
                         });

/// Random routing (no empty experts), activations, MXFP4 weights and (optionally) bias.
struct RandomProblem {
  moe::Routing routing;
  std::vector<uint16_t> a;
  mxfp4::Mxfp4Matrix w;
  std::vector<float> bias;
  RandomProblem(std::mt19937& rng, int tokens, int N, int K, int E, int topk, bool with_bias)
      : routing(moe::random_routing(rng, tokens, topk, E, {0, 0})),
        a(moe::random_bf16_normal(rng, size_t(tokens) * topk * K)),
        w(moe::random_mxfp4_weights(rng, E, N, K)),
        bias(with_bias ? moe::random_f32_normal(rng, size_t(E) * N) : std::vector<float>{}) {}
  moe::Stage2Inputs inputs() const { return {a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights}; }
};

// sm_90a decodes with one multiply per pair when the scales allow it: the register main loop
// redoes a warp's slice (the token owner: its piece) exactly when it met a scale above 2^1, the
// shared main loops decode such a thread's step exactly. With a few large scales (and a few
// 2^-127) in one expert's rows, in the second half of K, every main loop's output must be bit for
// bit that of the exact decode (f32, topk 2: two additions from zero, in either order alike).
TEST(Stage2Emulator, OneMultiplyDecodeFallsBackToTheExactDecodeForLargeScales) {
  testing_support::SeededRng rng;
  const int tokens = 40, N = 128, K = 512, E = 4, topk = 2;
  RandomProblem p(*rng, tokens, N, K, E, topk, false);
  // The first warp's columns (tile_n 64: 8 per warp), K blocks of the second iteration.
  moe::plant_scales(*rng, p.w, N, 1, 3, 8, 8, tile::kFp4SmallScaleMax + 1, 150);
  moe::plant_scales(*rng, p.w, N, 2, 3, 8, 8, 0, 0);
  moe::Stage2Inputs in = p.inputs();
  moe::Stage2Shape shape{tokens, topk, E, N, K};
  moe::Stage2Result ref = moe::moe_stage2_reference(shape, in, {true, true, moe::OutputType::f32});

  auto device = emulator::make_emulator_device({.target = Target::Sm90a});
  struct Loop {
    const char* name;
    int tile_m, tile_n;
    bool shared, wgmma, wgmma_rs = false, stagger_warpgroups = true, token_owner = false;
  };
  for (Loop l : {Loop{"register", 16, 64, false, false}, Loop{"shared", 32, 128, true, false},
                 Loop{"wgmma", 64, 128, true, true}, Loop{"wgmma_rs", 32, 128, true, true, true},
                 Loop{"wgmma_rs in step", 32, 256, true, true, true, false},
                 Loop{"token owner", 16, 32, false, false, false, true, true}}) {
    SCOPED_TRACE(l.name);
    MoeStage2Config cfg{N, K, E, topk, l.tile_m, l.tile_n, 1, OutDtype::F32, false, true, true};
    cfg.unroll = l.shared ? 1 : 2;  // register loop: two iterations of two chunks
    cfg.shared_mainloop = l.shared;
    cfg.wgmma = l.wgmma;
    cfg.wgmma_rs = l.wgmma_rs;
    cfg.stagger_warpgroups = l.stagger_warpgroups;
    cfg.token_owner = l.token_owner;
    MoeStage2Run fast = run_moe_stage2(*device, cfg, in, tokens);
    cfg.small_scale_decode = false;
    MoeStage2Run exact = run_moe_stage2(*device, cfg, in, tokens);
    ASSERT_EQ(fast.out.size(), ref.exact.size());
    ASSERT_EQ(exact.out.size(), ref.exact.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < fast.out.size(); ++i) {
      ASSERT_EQ(std::memcmp(&fast.out[i], &exact.out[i], 4), 0)
          << "row " << i / N << " column " << i % N << ": " << fast.out[i] << " vs the exact decode's " << exact.out[i];
      num += (fast.out[i] - ref.exact[i]) * (fast.out[i] - ref.exact[i]);
      den += ref.exact[i] * ref.exact[i];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-5);
  }
}

// launch_zeroed() zeroes the output first: whatever it held, the result is the kernel's sums alone
// (f32, topk 2: the same two additions from zero as the reference's, in either order), for the
// register and the wgmma_rs main loops and the token owner on both targets' lane layouts. A
// non-accumulating config has nothing to zero: a logic error.
TEST(Stage2Emulator, ZeroedLaunchOverwritesWhatTheOutputHeld) {
  testing_support::SeededRng rng;
  const int tokens = 9, N = 128, K = 256, E = 4, topk = 2;
  RandomProblem p(*rng, tokens, N, K, E, topk, true);
  moe::Stage2Inputs in = p.inputs();
  moe::Stage2Result ref = moe::moe_stage2_reference({tokens, topk, E, N, K}, in, {true, true, moe::OutputType::f32});
  std::vector<float> start = moe::random_f32_normal(*rng, size_t(tokens) * N);
  std::vector<uint8_t> start_bytes(start.size() * 4);
  std::memcpy(start_bytes.data(), start.data(), start_bytes.size());
  // A token owner zeroes nothing: its kernel alone stores the sums over what the output held.
  for (Target target : {Target::Sm90a, Target::Gfx950}) {
    auto device = emulator::make_emulator_device({.target = target});
    for (const char* tiles : {"tm16 tn128", "tm32 tn128 wr", "tm16 tn32 ow"}) {
      MoeStage2Config cfg = MoeStage2Config{N, K, E, topk, 16, 128, 1, OutDtype::F32, true, true, true}.with_tiles_text(tiles);
      if (cfg.wgmma_rs && target == Target::Gfx950) continue;  // wgmma: sm_90a only
      SCOPED_TRACE(std::string(target == Target::Sm90a ? "sm_90a " : "gfx950 ") + tiles);
      MoeStage2Run run = run_moe_stage2(*device, cfg, in, tokens, start_bytes, /*zeroed=*/true);
      ASSERT_EQ(run.out.size(), ref.exact.size());
      double num = 0, den = 0;
      for (size_t i = 0; i < run.out.size(); ++i) {
        num += (run.out[i] - ref.exact[i]) * (run.out[i] - ref.exact[i]);
        den += ref.exact[i] * ref.exact[i];
      }
      EXPECT_LT(std::sqrt(num / den), 1e-5) << "relative L2 error against the reference without the start values";
    }
  }
  auto device = emulator::make_emulator_device({.target = Target::Sm90a});
  MoeStage2Config plain{N, K, E, topk, 16, 128, 1, OutDtype::F32, true, true, false};
  EXPECT_THROW(run_moe_stage2(*device, plain, in, tokens, {}, /*zeroed=*/true), std::logic_error);
}

// Weights preshuffled and uploaded once (MoeStage2DeviceWeights) serve several runs: each gives
// bit for bit what the run that uploads its own gives (f32, topk 2, no split-K: two additions
// from zero, in either order alike) and matches the reference. Weights of another shape or on
// another device, and host weights of the wrong size, are argument errors.
TEST(Stage2Emulator, DeviceWeightsServeSeveralRunsAlike) {
  testing_support::SeededRng rng;
  const int tokens = 7, N = 128, K = 256, E = 4, topk = 2;
  RandomProblem p(*rng, tokens, N, K, E, topk, true);
  moe::Stage2Inputs in = p.inputs();
  auto device = emulator::make_emulator_device({.target = Target::Sm90a});
  const MoeStage2DeviceWeights weights(*device, in, E, N, K);
  moe::Stage2Result ref = moe::moe_stage2_reference({tokens, topk, E, N, K}, in, {true, true, moe::OutputType::f32});
  for (const char* tiles : {"tm16 tn128", "tm16 tn32 ow"}) {
    SCOPED_TRACE(tiles);
    MoeStage2Config cfg = MoeStage2Config{N, K, E, topk, 16, 128, 1, OutDtype::F32, true, true, true}.with_tiles_text(tiles);
    MoeStage2Run own = run_moe_stage2(*device, cfg, in, tokens);
    moe::Stage2Inputs no_host_weights = in;
    no_host_weights.w_packed = {};
    no_host_weights.w_scales = {};
    MoeStage2Run shared = run_moe_stage2(*device, cfg, no_host_weights, tokens, {}, false, &weights);
    ASSERT_EQ(shared.out.size(), own.out.size());
    EXPECT_EQ(std::memcmp(shared.out.data(), own.out.data(), own.out.size() * 4), 0);
    ASSERT_EQ(shared.out.size(), ref.exact.size());
    double num = 0, den = 0;
    for (size_t i = 0; i < shared.out.size(); ++i) {
      num += (shared.out[i] - ref.exact[i]) * (shared.out[i] - ref.exact[i]);
      den += ref.exact[i] * ref.exact[i];
    }
    EXPECT_LT(std::sqrt(num / den), 1e-5);
  }
  MoeStage2Config other{N, K, E + 1, topk, 16, 128, 1, OutDtype::F32, true, true, true};
  RandomProblem q(*rng, tokens, N, K, E + 1, topk, true);
  EXPECT_THROW(run_moe_stage2(*device, other, q.inputs(), tokens, {}, false, &weights), std::invalid_argument);
  auto device2 = emulator::make_emulator_device({.target = Target::Sm90a});
  MoeStage2Config same{N, K, E, topk, 16, 128, 1, OutDtype::F32, true, true, true};
  EXPECT_THROW(run_moe_stage2(*device2, same, in, tokens, {}, false, &weights), std::invalid_argument);
  EXPECT_THROW(MoeStage2DeviceWeights(*device, in, E, N, K * 2), std::invalid_argument);
}

// With the emulator's shared-memory race check on (Options::race_check) every main loop runs
// without a fault and gives bit for bit what it gives without: no two warps touch a shared word
// between barriers unless both only read it.
TEST(Stage2Emulator, MainLoopsAreFreeOfSharedMemoryRaces) {
  testing_support::SeededRng rng;
  const int tokens = 70, N = 256, K = 512, E = 4, topk = 2;
  RandomProblem p(*rng, tokens, N, K, E, topk, true);
  moe::Stage2Inputs in = p.inputs();
  struct Loop {
    int tile_m, tile_n, k_batch, warps_m;
    bool shared, wgmma, register_epilogue, wgmma_rs = false, stagger_warpgroups = true, token_owner = false,
         warp_specialized = false;
  };
  for (Target target : {Target::Sm90a, Target::Gfx950})
    for (Loop l : {Loop{16, 128, 1, 1, false, false, true}, Loop{32, 256, 2, 2, false, false, false},
                   Loop{32, 128, 1, 2, true, false, false}, Loop{64, 256, 1, 1, true, true, true},
                   Loop{128, 128, 2, 1, true, true, false}, Loop{64, 256, 1, 1, true, true, true, true},
                   Loop{32, 128, 2, 1, true, true, true, true}, Loop{64, 256, 1, 1, true, true, true, true, false},
                   Loop{128, 128, 2, 1, true, true, true, true, false}, Loop{96, 128, 1, 2, true, false, false},
                   Loop{96, 128, 1, 1, true, true, true, true}, Loop{16, 64, 1, 1, false, false, false, false, true, true},
                   Loop{16, 128, 1, 1, false, false, true, false, true, false, true},
                   Loop{32, 64, 2, 2, false, false, true, false, true, false, true},
                   Loop{64, 256, 1, 1, true, true, true, true, false, false, true},
                   Loop{96, 128, 1, 1, true, true, true, true, false, false, true}}) {
      if ((l.wgmma || l.warp_specialized) && target != Target::Sm90a) continue;
      MoeStage2Config cfg{N, K, E, topk, l.tile_m, l.tile_n, l.k_batch, OutDtype::F32, true, true, true};
      cfg.warps_m = l.warps_m;
      cfg.shared_mainloop = l.shared;
      cfg.wgmma = l.wgmma;
      cfg.register_epilogue = l.register_epilogue;
      cfg.wgmma_rs = l.wgmma_rs;
      cfg.stagger_warpgroups = l.stagger_warpgroups;
      cfg.token_owner = l.token_owner;
      cfg.warp_specialized = l.warp_specialized;
      SCOPED_TRACE(cfg.kernel_name() + (target == Target::Sm90a ? " sm_90a" : " gfx950"));
      emulator::Options plain{target, 2}, checked{target, 2};
      checked.race_check = true;
      auto dev = emulator::make_emulator_device(plain), dev_checked = emulator::make_emulator_device(checked);
      MoeStage2Run want = run_moe_stage2(*dev, cfg, in, tokens);
      MoeStage2Run got = run_moe_stage2(*dev_checked, cfg, in, tokens);
      ASSERT_EQ(got.out.size(), want.out.size());
      if (l.k_batch == 1)  // split-K slices add in worker order
        EXPECT_EQ(std::memcmp(got.out.data(), want.out.data(), got.out.size() * sizeof(float)), 0);
    }
}

TEST(Stage2Config, RejectsBadShapes) {
  MoeStage2Config ok{128, 256, 8, 2};
  EXPECT_NO_THROW(ok.validate());
  auto bad = [&](auto mutate, const char* word) {
    MoeStage2Config c = ok;
    mutate(c);
    try {
      c.validate();
      ADD_FAILURE() << "accepted " << word;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  };
  bad([](auto& c) { c.model_dim = 100; }, "model_dim");
  bad([](auto& c) { c.inter_dim = 384; }, "inter_dim");
  bad([](auto& c) { c.tile_m = 8; }, "tile_m");
  bad([](auto& c) { c.tile_m = 128; c.tile_n = 64; }, "shared_mainloop");
  bad([](auto& c) { c.tile_m = 96; c.tile_n = 128; }, "tile_m 96 needs shared_mainloop");
  bad([](auto& c) { c.tile_m = 80; c.tile_n = 128; c.shared_mainloop = true; }, "tile_m must be 16, 32, 64, 96 or 128");
  bad([](auto& c) { c.tile_m = 96; c.tile_n = 256; c.shared_mainloop = c.wgmma = c.wgmma_rs = true; }, "shared memory");
  bad([](auto& c) { c.tile_m = 32; c.shared_mainloop = c.wgmma = true; }, "wgmma");
  bad([](auto& c) { c.tile_m = 32; c.shared_mainloop = c.wgmma_rs = true; }, "wgmma_rs needs wgmma");
  EXPECT_NO_THROW(([&] {
    MoeStage2Config c = ok;
    c.tile_m = 32;
    c.tile_n = 256;
    c.shared_mainloop = c.wgmma = c.wgmma_rs = true;
    c.validate();
  })());
  bad([](auto& c) { c.tile_n = 96; }, "tile_n");
  bad([](auto& c) { c.tile_m = 64; c.tile_n = 512; }, "too large");
  bad([](auto& c) { c.tile_m = 64; c.tile_n = 512; c.shared_mainloop = true; }, "160");  // 208 KiB of LDS
  EXPECT_NO_THROW(([&] {
    MoeStage2Config c = ok;
    c.tile_m = 64;
    c.tile_n = 256;
    c.shared_mainloop = true;  // 64 x 256 fits exactly: 64 KiB epilogue + 32 KiB A + 64 KiB B
    c.validate();
  })());
  bad([](auto& c) { c.k_batch = 3; }, "k_batch");
  bad([](auto& c) { c.topk = 9; }, "topk");
  bad([](auto& c) { c.accumulate = false; c.k_batch = 2; }, "accumulate");
  bad([](auto& c) { c.min_blocks_per_sm = 9; }, "min_blocks_per_sm");
  bad([](auto& c) { c.token_owner = true; c.tile_n = 256; }, "token_owner needs tile_n 16, 32, 64 or 128");
  bad([](auto& c) { c.token_owner = true; c.tile_n = 32; c.k_batch = 2; }, "token_owner needs tile_m 16, k_batch 1");
  bad([](auto& c) { c.token_owner = true; c.tile_n = 32; c.accumulate = false; }, "token_owner needs");
  bad([](auto& c) { c.token_owner = true; c.tile_n = 32; c.tile_m = 32; }, "token_owner needs");
  bad([](auto& c) { c.token_owner = true; c.tile_n = 32; c.inter_dim = 32768; c.topk = 4; }, "shared memory");
  EXPECT_NO_THROW(([&] {
    MoeStage2Config c = ok;
    c.token_owner = true;
    c.tile_n = 16;
    c.validate();
  })());
}

// K parts of a token owner's slots: the most that fit the waves where K's chunks divide evenly.
TEST(Stage2Config, OwnerKPartsFillTheWaves) {
  MoeStage2Config gpt_oss{3072, 3072, 128, 4}, deepseek{7168, 1024, 384, 8}, odd{128, 768, 8, 3};
  EXPECT_EQ(gpt_oss.owner_k_parts(8), 2);   // 24 chunks
  EXPECT_EQ(gpt_oss.owner_k_parts(4), 1);
  EXPECT_EQ(deepseek.owner_k_parts(8), 1);
  EXPECT_EQ(deepseek.owner_k_parts(4), 1);  // topk above the waves: two rounds
  EXPECT_EQ(odd.owner_k_parts(8), 2);       // 6 chunks: 3 x 2 <= 8
  MoeStage2Config one{128, 1280, 8, 1};     // 10 chunks: 5 parts
  EXPECT_EQ(one.owner_k_parts(8), 5);
}

}  // namespace
