// The MoE stage-2 kernel on a GPU: bit-for-bit against the emulator on small shapes, and
// against the FP32 reference at GPT-OSS and DeepSeek-R1 shapes. Skips without a GPU.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "backend/emulator/emulator.h"
#include "tests/common/test_devices.h"
#include "dsl/ir/numeric.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/moe/stage2/api.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/moe/stage2/kernel.h"
#include "kernels/moe/sorting/api.h"
#include "kernels/moe/host/sorting.h"
#include "kernels/mxfp4/preshuffle.h"
#include "backend/launch/buffer.h"
#include "kernels/mxfp4/mxfp4.h"
#include "tests/common/seeded_rng.h"

using namespace tilejit;
using namespace tilejit::kernels;

namespace {

Device* gpu() { return testing_support::gpu_device(); }

#define REQUIRE_GPU() \
  if (!gpu()) GTEST_SKIP() << "no GPU found (CUDA or HIP); this test runs on a GPU machine"

struct Problem {
  int tokens, N, K, E, topk;
  moe::Routing routing;
  std::vector<uint16_t> a;
  mxfp4::Mxfp4Matrix w;
  std::vector<float> bias;
  moe::Stage2Inputs inputs() const { return {a, w.packed, w.scales, bias, routing.topk_ids, routing.topk_weights}; }
};

Problem make_problem(std::mt19937& rng, int tokens, int N, int K, int E, int topk, bool bias) {
  Problem p{tokens, N, K, E, topk, moe::random_routing(rng, tokens, topk, E), {}, {}, {}};
  p.a = moe::random_bf16_normal(rng, size_t(tokens) * topk * K);
  p.w = moe::random_mxfp4_weights(rng, E, N, K);
  if (bias) p.bias = moe::random_f32_normal(rng, size_t(E) * N);
  return p;
}

/// Outputs of two runs that differ in any bit (the sizes must match).
size_t bit_differences(const MoeStage2Run& a, const MoeStage2Run& b) {
  EXPECT_EQ(a.out.size(), b.out.size());
  size_t diff = 0;
  for (size_t i = 0; i < std::min(a.out.size(), b.out.size()); ++i) diff += std::memcmp(&a.out[i], &b.out[i], 4) != 0;
  return diff;
}

TEST(Stage2Gpu, BitExactAgainstEmulator) {
  REQUIRE_GPU();
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  auto emu = emulator::make_emulator_device({.target = gpu()->target()});
  for (OutDtype out : {OutDtype::F32, OutDtype::BF16}) {
    for (int tile_n : {64, 128, 256}) {
      Problem p = make_problem(rng, 7, 256, 512, 8, 2, true);
      MoeStage2Config cfg{p.N, p.K, p.E, p.topk, 16, tile_n, 1, out, true, true, false};
      cfg.register_epilogue = tile_n == 128;  // the stores straight from the accumulators too
      auto g = run_moe_stage2(*gpu(), cfg, p.inputs(), p.tokens);
      auto e = run_moe_stage2(*emu, cfg, p.inputs(), p.tokens);
      ASSERT_EQ(g.out.size(), e.out.size());
      size_t diff = bit_differences(g, e);
      EXPECT_EQ(diff, 0u) << "tile_n " << tile_n << (out == OutDtype::F32 ? " f32" : " bf16") << ": " << diff
                          << " of " << g.out.size() << " outputs differ from the emulator";
    }
  }
}

TEST(Stage2Gpu, SharedMainloopBitExactAgainstEmulator) {
  REQUIRE_GPU();
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  auto emu = emulator::make_emulator_device({.target = gpu()->target()});
  struct Tiles {
    int tile_m, tile_n, k_batch, warps_m;
    bool wgmma = false, wgmma_rs = false, stagger_warpgroups = true;
    bool many_rows = false;  // 75 rows per expert: full first chunks of 96-row tiles
  };
  for (Tiles t : {Tiles{32, 128, 1, 1}, Tiles{64, 128, 2, 2}, Tiles{32, 256, 1, 2}, Tiles{64, 128, 1, 4},
                  Tiles{64, 256, 1, 2}, Tiles{64, 256, 1, 1, true}, Tiles{64, 128, 2, 1, true},
                  Tiles{128, 128, 1, 2}, Tiles{128, 128, 1, 1, true}, Tiles{32, 256, 1, 1, true, true},
                  Tiles{64, 128, 2, 1, true, true}, Tiles{128, 128, 1, 1, true, true}, Tiles{32, 256, 1, 1, true, true, false},
                  Tiles{64, 256, 1, 1, true, true, false}, Tiles{128, 128, 1, 1, true, true, false},
                  Tiles{96, 128, 1, 2}, Tiles{96, 128, 1, 1, true, true}, Tiles{96, 128, 1, 1, true, true, false, true},
                  Tiles{96, 128, 2, 1, true, true, true, true}}) {
    // N 320: a partial column block.
    Problem p = t.many_rows ? make_problem(rng, 150, 320, 1024, 2, 1, true) : make_problem(rng, 45, 320, 1024, 8, 2, true);
    MoeStage2Config cfg{p.N, p.K, p.E, p.topk, t.tile_m, t.tile_n, t.k_batch, OutDtype::F32, true, true, t.k_batch > 1};
    cfg.warps_m = t.warps_m;
    cfg.shared_mainloop = true;
    cfg.wgmma = t.wgmma;
    cfg.wgmma_rs = t.wgmma_rs;
    cfg.stagger_warpgroups = t.stagger_warpgroups;
    auto g = run_moe_stage2(*gpu(), cfg, p.inputs(), p.tokens);
    auto e = run_moe_stage2(*emu, cfg, p.inputs(), p.tokens);
    ASSERT_EQ(g.out.size(), e.out.size());
    size_t diff = 0, nans = 0;
    for (size_t i = 0; i < g.out.size(); ++i) {
      nans += std::isnan(g.out[i]);
      // Split-K slices add in any order on the GPU: bit-exact only with one slice.
      if (t.k_batch == 1) diff += std::memcmp(&g.out[i], &e.out[i], 4) != 0;
      else diff += std::abs(g.out[i] - e.out[i]) > 1e-4f * (1 + std::abs(e.out[i]));
    }
    EXPECT_EQ(nans, 0u);
    EXPECT_EQ(diff, 0u) << cfg.kernel_name() << ": " << diff << " of " << g.out.size() << " outputs differ from the emulator";
  }
}

// launch_zeroed(): the zeroing kernel, then the stage-2 kernel started early (CUDA programmatic
// dependent launch), which waits for the zeroing before it touches memory. Whatever the output
// held, the result is bit for bit the emulator's plain launch from zeros (f32, topk 2, one K
// slice: the same two additions from zero in either order), for the register loop, the shared
// loop and the wgmma_rs tiles of the tables, the warp-specialized variants; a token owner (no zeroing: its kernel stores the
// sums; topk 4 of 8 experts, each block's pieces added in a fixed order) with whole and partial
// column blocks.
TEST(Stage2Gpu, ZeroedLaunchBitExactAgainstEmulator) {
  REQUIRE_GPU();
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  auto emu = emulator::make_emulator_device({.target = gpu()->target()});
  // 150 tokens on 2 experts for the sorted kernels; a decode batch (6 tokens, topk 4 of 8) for the
  // token owners, whose blocks read every expert of their token (the emulator's time grows with it).
  const Problem many_rows = make_problem(rng, 150, 320, 1024, 2, 2, true), decode = make_problem(rng, 6, 320, 1024, 8, 4, true);
  for (const char* tiles : {"tm16 tn128 kb1 u4", "tm16 tn256 kb1 u8", "tm32 tn256 kb1 sh", "tm64 tn256 wr ns", "tm96 tn128 wr ns",
                            "tm16 tn32 u6 ow", "tm16 tn128 u2 ow", "tm16 tn64 kb1 u2 ws", "tm32 tn64 kb1 u4 ws",
                            "tm64 tn256 wr ns ws", "tm64 tn128 wr ns ws", "tm96 tn128 wr ns ws"}) {
    const Problem& p = std::string(tiles).ends_with(" ow") ? decode : many_rows;
    MoeStage2Config cfg = MoeStage2Config{p.N, p.K, p.E, p.topk, 16, 128, 1, OutDtype::F32, true, true, true}.with_tiles_text(tiles);
    if ((cfg.wgmma || cfg.wgmma_rs || cfg.warp_specialized) && gpu()->target() != Target::Sm90a) continue;
    SCOPED_TRACE(cfg.kernel_name());
    std::vector<float> start = moe::random_f32_normal(rng, size_t(p.tokens) * p.N);
    std::vector<uint8_t> start_bytes(start.size() * 4);
    std::memcpy(start_bytes.data(), start.data(), start_bytes.size());
    auto g = run_moe_stage2(*gpu(), cfg, p.inputs(), p.tokens, start_bytes, /*zeroed=*/true);
    auto e = run_moe_stage2(*emu, cfg, p.inputs(), p.tokens);
    EXPECT_EQ(bit_differences(g, e), 0u) << "outputs differ from the emulator's launch from zeros";
  }
}

// The decode step's path: the device MoE sorting zeroes the (poisoned) output, and the kernel is
// launched early after it (launch_early: it starts while the sorting runs and waits for it before
// reading the sorted routing), on one stream and as a captured graph replayed twice. The result is
// bit for bit the emulator's launch on the host-sorted routing from zeros.
TEST(Stage2Gpu, EarlyLaunchAfterTheDeviceSortingBitExactAgainstEmulator) {
  REQUIRE_GPU();
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  auto emu = emulator::make_emulator_device({.target = gpu()->target()});
  Problem p = make_problem(rng, 12, 320, 1024, 8, 2, true);
  for (const char* tiles : {"tm16 tn128 kb1 u4", "tm64 tn256 wr ns", "tm16 tn64 kb1 u2 ws", "tm64 tn256 wr ns ws"}) {
    MoeStage2Config cfg = MoeStage2Config{p.N, p.K, p.E, p.topk, 16, 128, 1, OutDtype::F32, true, true, true}.with_tiles_text(tiles);
    if ((cfg.wgmma_rs || cfg.warp_specialized) && gpu()->target() != Target::Sm90a) continue;
    SCOPED_TRACE(cfg.kernel_name());
    const auto e = run_moe_stage2(*emu, cfg, p.inputs(), p.tokens);
    Device& dev = *gpu();
    const int rows = int(moe::moe_sorting_max_rows(p.tokens, p.topk, p.E, cfg.tile_m));
    const int blocks = int(moe::moe_sorting_max_blocks(p.tokens, p.topk, p.E, cfg.tile_m));
    Buffer<int32_t> ids_in(dev, std::span<const int32_t>(p.routing.topk_ids));
    Buffer<float> wts_in(dev, std::span<const float>(p.routing.topk_weights));
    Buffer<int32_t> ids(dev, size_t(rows)), experts(dev, size_t(blocks)), valid(dev, 2);
    Buffer<float> wts(dev, size_t(rows)), out(dev, size_t(p.tokens) * p.N), bias(dev, std::span<const float>(p.bias));
    Buffer<uint16_t> a(dev, std::span<const uint16_t>(p.a));
    std::vector<uint8_t> w = mxfp4::preshuffle_weights(p.w.packed, p.E, p.N, p.K);
    std::vector<uint8_t> sc = mxfp4::preshuffle_scales(p.w.scales, p.E, p.N, p.K);
    Buffer<uint8_t> dw(dev, std::span<const uint8_t>(w)), ds(dev, std::span<const uint8_t>(sc));
    MoeStage2A16W4 op(cfg);
    op.compile(dev);
    const MoeStage2Args args{out.ptr(), a.ptr(), dw.ptr(), ds.ptr(), ids.ptr(), wts.ptr(), experts.ptr(), valid.ptr(),
                             bias.ptr(), p.tokens, blocks};
    auto stream = dev.create_stream();
    auto step = [&] {
      moe_sorting_gpu(dev, ids_in.ptr(), wts_in.ptr(), p.tokens, p.topk, p.E, cfg.tile_m, ids.ptr(), wts.ptr(),
                      experts.ptr(), valid.ptr(), stream.get(), {out.ptr(), int64_t(out.bytes())});
      op.launch_early(args, stream.get());
    };
    auto graph = dev.capture(*stream, step);
    for (int round = 0; round < 3; ++round) {
      out.fill_bytes(0xFF);  // NaN poison: the sorting's zeroing must replace it
      ids.fill_bytes(0xA5);
      if (round == 0) step();
      else graph->launch(stream.get());
      stream->synchronize();
      const std::vector<float> got = out.download();
      ASSERT_EQ(got.size(), e.out.size());
      size_t diff = 0;
      for (size_t i = 0; i < got.size(); ++i) diff += std::memcmp(&got[i], &e.out[i], 4) != 0;
      EXPECT_EQ(diff, 0u) << "round " << round << ": " << diff << " of " << got.size() << " outputs differ from the emulator";
    }
  }
}

// The CUDA JIT reports no lost performance (serialized wgmmas, injected waits: C75xx) for any
// config of the built-in tables (every device's rows), any wgmma_rs tile in either warpgroup
// order, nor the wgmma tiles with both operands in shared memory: a wgmma layout change that
// makes ptxas serialize fails here, not in a benchmark.
TEST(Stage2Gpu, NoJitPerformanceAdvisories) {
  REQUIRE_GPU();
  if (gpu()->target() != Target::Sm90a) GTEST_SKIP() << "the advisories are the CUDA JIT's (sm_90a)";
  std::vector<MoeStage2Config> configs;
  for (const MoeStage2TableEntry& e : builtin_config_table().entries)
    configs.push_back(e.apply_tiles(MoeStage2Config{e.shape.model_dim, e.shape.inter_dim, e.shape.experts, e.shape.topk}));
  for (auto [tm, tn] : {std::pair{32, 128}, std::pair{32, 256}, std::pair{64, 128}, std::pair{64, 256}, std::pair{96, 128},
                        std::pair{128, 128}})
    for (int variant : {0, 1, 2}) {  // staggered, in step, warp-specialized (where its ring fits)
      MoeStage2Config c{7168, 1024, 384, 8, tm, tn, 1};
      c.unroll = 1;
      c.shared_mainloop = c.wgmma = c.wgmma_rs = true;
      c.stagger_warpgroups = variant == 0;
      c.warp_specialized = variant == 2;
      if (c.shared_bytes() <= c.max_shared_bytes()) configs.push_back(c);
    }
  for (auto [tm, tn] : {std::pair{64, 128}, std::pair{64, 256}, std::pair{128, 128}}) {  // wgmma from shared memory
    MoeStage2Config c{3072, 3072, 128, 4, tm, tn, 1};
    c.unroll = 1;
    c.shared_mainloop = c.wgmma = true;
    configs.push_back(c);
  }
  std::set<std::string> seen;
  for (const MoeStage2Config& c : configs) {
    if (!seen.insert(c.kernel_name()).second) continue;
    c.validate();
    Kernel k = compile(moe_stage2_kernel(c), *gpu());
    EXPECT_FALSE(k.info().load_log.empty()) << c.kernel_name() << ": the JIT did not run (driver cache?)";
    EXPECT_EQ(k.info().performance_advisories, std::vector<std::string>{}) << c.kernel_name();
  }
  EXPECT_GE(seen.size(), 20u);
}

// The one-multiply decode's redo on the GPU: warps that meet a scale above 2^1 (planted in two
// experts) give, bit for bit, what the emulator gives for the exact decode.
TEST(Stage2Gpu, OneMultiplyDecodeRedoMatchesTheExactDecode) {
  REQUIRE_GPU();
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  auto emu = emulator::make_emulator_device({.target = gpu()->target()});
  Problem p = make_problem(rng, 9, 256, 1024, 8, 2, true);
  for (int e : {1, 6}) moe::plant_scales(rng, p.w, p.N, e, 6, 64, 0, 129, 160);
  moe::plant_scales(rng, p.w, p.N, 3, 6, 64, 0, 0, 0);
  for (int unroll : {2, 8}) {  // two iterations of four chunks, one of eight
    MoeStage2Config cfg{p.N, p.K, p.E, p.topk, 16, 256, 1, OutDtype::F32, true, true, false};
    cfg.unroll = unroll;
    auto g = run_moe_stage2(*gpu(), cfg, p.inputs(), p.tokens);
    cfg.small_scale_decode = false;
    auto e = run_moe_stage2(*emu, cfg, p.inputs(), p.tokens);
    ASSERT_EQ(g.out.size(), e.out.size());
    size_t diff = bit_differences(g, e);
    EXPECT_EQ(diff, 0u) << "unroll " << unroll << ": " << diff << " of " << g.out.size()
                        << " outputs differ from the exact decode on the emulator";
  }
}

/// Reference rows of `tokens_to_check` only (the full reference is too slow at these shapes).
std::vector<double> sampled_reference(const Problem& p, const std::vector<int>& toks, bool doweight) {
  std::vector<double> ref(toks.size() * p.N, 0.0);
  std::vector<float> wrow(p.K);
  for (size_t i = 0; i < toks.size(); ++i) {
    int t = toks[i];
    for (int s = 0; s < p.topk; ++s) {
      int e = p.routing.topk_ids[t * p.topk + s];
      double wgt = doweight ? p.routing.topk_weights[t * p.topk + s] : 1.0;
      const uint16_t* arow = &p.a[(size_t(t) * p.topk + s) * p.K];
      for (int n = 0; n < p.N; ++n) {
        size_t row = size_t(e) * p.N + n;
        for (int k = 0; k < p.K; ++k) {
          uint8_t byte = p.w.packed[row * (p.K / 2) + k / 2];
          uint8_t code = k % 2 ? byte >> 4 : byte & 15;
          wrow[k] = mxfp4::e2m1_to_float(code) * mxfp4::e8m0_to_float(p.w.scales[row * (p.K / 32) + k / 32]);
        }
        double acc = 0;
        for (int k = 0; k < p.K; ++k) acc += double(ir::bf16_to_f32(arow[k])) * wrow[k];
        if (!p.bias.empty()) acc += p.bias[row];
        ref[i * p.N + n] += wgt * acc;
      }
    }
  }
  return ref;
}

// The persistent warp-specialized kernels with many work items per block (the problems above give
// most blocks one): the wgmma_rs ones bit for bit against their plain grids (the same decode and
// wgmma order; launch_zeroed, topk 2, one K slice: two additions from zero in either order), each
// against sampled reference rows (an output the kernel never added to stays at the zeroing's 0).
TEST(Stage2Gpu, WarpSpecializedKernelsWalkingManyItemsPerBlock) {
  REQUIRE_GPU();
  if (gpu()->target() != Target::Sm90a) GTEST_SKIP() << "the warp-specialized kernels need sm_90a";
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  const Problem p = make_problem(rng, 600, 2048, 1024, 16, 2, true);
  std::vector<int> toks;
  for (int t = 0; t < p.tokens; t += 37) toks.push_back(t);
  toks.push_back(p.tokens - 1);
  const std::vector<double> ref = sampled_reference(p, toks, true);
  const MoeStage2DeviceWeights device_weights(*gpu(), p.inputs(), p.E, p.N, p.K);
  const MoeStage2Config base{p.N, p.K, p.E, p.topk, 16, 128, 1, OutDtype::F32, true, true, true};
  const std::pair<const char*, const char*> cases[] = {
      {"tm64 tn256 wr ns ws", "tm64 tn256 wr ns"}, {"tm96 tn128 wr ns ws", "tm96 tn128 wr ns"},
      {"tm128 tn128 wr ns ws", "tm128 tn128 wr ns"}, {"tm16 tn128 kb1 u2 ws", nullptr}};
  for (const auto& [ws_tiles, plain_tiles] : cases) {
    const MoeStage2Config cfg = base.with_tiles_text(ws_tiles);
    SCOPED_TRACE(cfg.kernel_name());
    std::vector<float> poison = moe::random_f32_normal(rng, size_t(p.tokens) * p.N);
    std::vector<uint8_t> start(poison.size() * 4);
    std::memcpy(start.data(), poison.data(), start.size());
    const auto ws = run_moe_stage2(*gpu(), cfg, p.inputs(), p.tokens, start, /*zeroed=*/true, &device_weights);
    double num = 0, den = 0;
    size_t nans = 0;
    for (size_t i = 0; i < toks.size(); ++i)
      for (int n = 0; n < p.N; ++n) {
        double got = ws.out[size_t(toks[i]) * p.N + n], expect = ref[i * p.N + n];
        nans += std::isnan(got);
        num += (got - expect) * (got - expect);
        den += expect * expect;
      }
    EXPECT_EQ(nans, 0u);
    EXPECT_LT(std::sqrt(num / den), 1e-2) << "relative L2 error against the reference";
    if (!plain_tiles) continue;
    const auto plain = run_moe_stage2(*gpu(), base.with_tiles_text(plain_tiles), p.inputs(), p.tokens, start, true, &device_weights);
    EXPECT_EQ(bit_differences(ws, plain), 0u) << "outputs differ from " << plain_tiles;
  }
}

struct ModelShape {
  const char* name;
  int N, K, E, topk;
};

class Stage2GpuModel : public ::testing::TestWithParam<std::tuple<ModelShape, int>> {};

TEST_P(Stage2GpuModel, MatchesReference) {
  REQUIRE_GPU();
  const auto& [shape, tokens] = GetParam();
  testing_support::SeededRng seeded;
  std::mt19937& rng = *seeded;
  bool bias = tokens % 2 == 0;
  // The weights (0.6-1.5 GB) are drawn once per shape and process; routing, activations, bias and
  // the start values are fresh per token count.
  static std::string weights_of;
  static mxfp4::Mxfp4Matrix weights;
  if (weights_of != shape.name) {
    weights = moe::random_mxfp4_weights(rng, shape.E, shape.N, shape.K);
    weights_of = shape.name;
  }
  Problem p{tokens, shape.N, shape.K, shape.E, shape.topk, moe::random_routing(rng, tokens, shape.topk, shape.E), {}, weights, {}};
  p.a = moe::random_bf16_normal(rng, size_t(tokens) * shape.topk * shape.K);
  if (bias) p.bias = moe::random_f32_normal(rng, size_t(shape.E) * shape.N);
  MoeStage2Config base{p.N, p.K, p.E, p.topk, 16, 128, 1, OutDtype::BF16, bias, true, true};
  // The reference rows of every 16th token and the last (the same problem for every config).
  std::vector<int> toks;
  for (int t = 0; t < tokens; t += std::max(1, tokens / 16)) toks.push_back(t);
  toks.push_back(tokens - 1);
  const std::vector<double> ref = sampled_reference(p, toks, true);
  const MoeStage2DeviceWeights device_weights(*gpu(), p.inputs(), p.E, p.N, p.K);  // preshuffled and uploaded once
  for (const char* tiles : {"tm16 tn128 kb1", "tm16 tn128 kb2", "tm16 tn32 u6 ow"}) {
    const MoeStage2Config cfg = base.with_tiles_text(tiles);
    // Random start values: an element the kernel never adds to keeps its start value and fails.
    std::vector<uint16_t> start(size_t(tokens) * p.N);
    std::normal_distribution<float> nd(0.f, 1.f);
    for (auto& h : start) h = ir::f32_to_bf16(nd(rng));
    std::vector<uint8_t> bytes(start.size() * 2);
    std::memcpy(bytes.data(), start.data(), bytes.size());
    auto run = run_moe_stage2(*gpu(), cfg, p.inputs(), tokens, bytes, false, &device_weights);
    double num = 0, den = 0;
    size_t nans = 0;
    for (size_t i = 0; i < toks.size(); ++i)
      for (int n = 0; n < p.N; ++n) {
        size_t o = size_t(toks[i]) * p.N + n;
        double expect = ref[i * p.N + n] + ir::bf16_to_f32(start[o]);
        double got = run.out[o];
        nans += std::isnan(got);
        num += (got - expect) * (got - expect);
        den += expect * expect;
      }
    EXPECT_EQ(nans, 0u);
    EXPECT_LT(std::sqrt(num / den), 1e-2) << shape.name << " tokens " << tokens << " " << tiles;
    size_t all_nan = 0;
    for (float x : run.out) all_nan += std::isnan(x);
    EXPECT_EQ(all_nan, 0u);
  }
}

INSTANTIATE_TEST_SUITE_P(Models, Stage2GpuModel,
                         ::testing::Combine(::testing::Values(ModelShape{"gpt_oss", 3072, 3072, 128, 4},
                                                              ModelShape{"deepseek_r1", 7168, 1024, 384, 8}),
                                            ::testing::Values(1, 3, 16, 64, 256)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_tokens" +
                                  std::to_string(std::get<1>(info.param));
                         });

}  // namespace
