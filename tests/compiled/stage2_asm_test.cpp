// Every stage-2 configuration the tests and the chooser use, compiled for gfx950 (the only
// check gfx950 code gets besides the emulator) and sm_90a: the right instructions, no scratch,
// LDS within 160 KiB. The resource report is printed.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <regex>

#include "backend/llvm/compile.h"
#include "dsl/ir/verifier.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/moe/stage2/kernel.h"

using namespace tilejit;
using namespace tilejit::kernels;

namespace {

size_t count(const std::string& text, const char* re) {
  std::regex r(re);
  return size_t(std::distance(std::sregex_iterator(text.begin(), text.end(), r), std::sregex_iterator()));
}

long field(const std::string& text, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(text, m, std::regex(name + R"(:\s*(\d+))"))) return -1;
  return std::stol(m[1]);
}

struct Variant {
  int tile_m, tile_n, k_batch;
  OutDtype out;
};

class Stage2Compiled : public ::testing::TestWithParam<Variant> {};

TEST_P(Stage2Compiled, Gfx950AssemblyAndResources) {
  const Variant& v = GetParam();
  MoeStage2Config cfg{3072, 3072, 128, 4, v.tile_m, v.tile_n, v.k_batch, v.out, true, true, true};
  ir::Function fn = moe_stage2_kernel(cfg).trace(Target::Gfx950);
  ir::verify(fn, Target::Gfx950);
  backend::CompileResult r = backend::compile(fn, Target::Gfx950);
  const int waves = 4, n_tiles = v.tile_n / waves / 16, m_tiles = v.tile_m / 16;
  const int unroll = cfg.unroll_for(cfg.slice_k() / kStage2ChunkK);
  // Per 128-K chunk: 4 MFMA steps per (m-tile, n-tile); 4 conversions per 16-byte weight load.
  // The loop body holds `unroll` chunks; LLVM may unroll a short loop further, never partially.
  size_t mfma = count(r.assembly, R"(v_mfma_f32_16x16x32_bf16)"), per_mfma = size_t(4 * m_tiles * n_tiles * unroll);
  size_t cvt = count(r.assembly, R"(v_cvt_scalef32_pk_bf16_fp4)"), per_cvt = size_t(16 * n_tiles * unroll);
  EXPECT_TRUE(mfma >= per_mfma && mfma % per_mfma == 0) << mfma << " MFMAs, expected a multiple of " << per_mfma;
  EXPECT_TRUE(cvt >= per_cvt && cvt % per_cvt == 0) << cvt << " conversions, expected a multiple of " << per_cvt;
  EXPECT_GE(count(r.assembly, v.out == OutDtype::BF16 ? R"(global_atomic_pk_add_bf16)" : R"(global_atomic_add_f32)"), 1u);
  EXPECT_EQ(count(r.assembly, R"(global_atomic_cmpswap)"), 0u) << "atomics must be native";
  EXPECT_EQ(field(r.assembly, "private_segment_fixed_size"), 0) << "scratch";
  EXPECT_EQ(count(r.assembly, R"(scratch_(load|store))"), 0u);
  long lds = field(r.assembly, "group_segment_fixed_size");
  EXPECT_EQ(lds, long(v.tile_m) * v.tile_n * 4);
  EXPECT_LE(lds, 163840);
  std::printf("tile_m %d tile_n %d k_batch %d %s: %s\n", v.tile_m, v.tile_n, v.k_batch,
              v.out == OutDtype::BF16 ? "bf16" : "f32", r.resources_json.c_str());
}

TEST_P(Stage2Compiled, Sm90aPtx) {
  const Variant& v = GetParam();
  MoeStage2Config cfg{3072, 3072, 128, 4, v.tile_m, v.tile_n, v.k_batch, v.out, true, true, true};
  ir::Function fn = moe_stage2_kernel(cfg).trace(Target::Sm90a);
  ir::verify(fn, Target::Sm90a);
  backend::CompileResult r = backend::compile(fn, Target::Sm90a);
  std::string ptx(r.code.binary.begin(), r.code.binary.end());
  const int n_tiles = v.tile_n / 8 / 8, m_tiles = v.tile_m / 16;
  const int unroll = cfg.unroll_for(cfg.slice_k() / kStage2ChunkK);
  size_t mma = count(ptx, R"(mma\.sync\.aligned\.m16n8k16\.row\.col\.f32\.bf16\.bf16\.f32)");
  // The main loop's `unroll` chunks (LLVM may unroll a short loop further, never partially) and the
  // one-chunk loop of the exact redo (small_scale_decode), entered on one wave-wide max.
  size_t per_chunk = size_t(8 * m_tiles * n_tiles), per_mma = per_chunk * size_t(unroll);
  EXPECT_TRUE(mma >= per_mma + per_chunk && (mma - per_chunk) % per_mma == 0)
      << mma << " mma.sync, expected a multiple of " << per_mma << " plus " << per_chunk;
  EXPECT_EQ(count(ptx, R"(redux\.sync\.max\.u32)"), 1u);
  EXPECT_EQ(count(ptx, R"(\.minnctapersm 2)"), v.tile_m == 16 ? 1u : 0u) << "the occupancy hint of tile_m 16";
  EXPECT_GE(count(ptx, v.out == OutDtype::BF16 ? R"(red\.global\.add\.noftz\.bf16x2)" : R"(atom\.global\.add\.f32)"), 1u);
  EXPECT_EQ(count(ptx, R"(atom\.[a-z.]*cas)"), 0u) << "atomics must be native";
  EXPECT_EQ(count(ptx, R"(\.local)"), 0u) << "local memory";
}

// The shared-memory main loop: operands through LDS / shared memory (ds_read_b128 / ldmatrix),
// activation rows copied in (cp.async on sm_90a), the weights decoded by the target's path.
TEST(Stage2Compiled, SharedMainloopOnBothTargets) {
  for (auto [tm, tn, wm] : {std::tuple{64, 128, 2}, std::tuple{32, 256, 1}, std::tuple{64, 256, 2}}) {
    MoeStage2Config cfg{3072, 3072, 128, 4, tm, tn, 1, OutDtype::BF16, true, true, true};
    cfg.warps_m = wm;
    cfg.shared_mainloop = true;
    SCOPED_TRACE(cfg.kernel_name());
    backend::CompileResult g = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
    EXPECT_GE(count(g.assembly, R"(v_mfma_f32_16x16x32_bf16)"), 1u);
    EXPECT_GE(count(g.assembly, R"(ds_read_b128)"), 1u);
    EXPECT_GE(count(g.assembly, R"(v_cvt_scalef32_pk_bf16_fp4)"), 1u);
    EXPECT_EQ(field(g.assembly, "private_segment_fixed_size"), 0) << "scratch";
    // Four A stages, two B stages of 64 K, and the f32 epilogue tile.
    EXPECT_EQ(field(g.assembly, "group_segment_fixed_size"), 4L * tm * 64 * 2 + 2L * tn * 64 * 2 + 4L * tm * tn);
    backend::CompileResult n = backend::compile(moe_stage2_kernel(cfg).trace(Target::Sm90a), Target::Sm90a);
    std::string ptx(n.code.binary.begin(), n.code.binary.end());
    EXPECT_GE(count(ptx, R"(ldmatrix\.sync\.aligned)"), 1u);
    EXPECT_GE(count(ptx, R"(cp\.async\.ca\.shared\.global|cp\.async\.cg\.shared\.global)"), 1u);
    EXPECT_GE(count(ptx, R"(mma\.sync\.aligned\.m16n8k16)"), 1u);
    EXPECT_EQ(count(ptx, R"(\.local)"), 0u) << "local memory";
  }
}

// The token owner: MFMA / mma.sync with the target's FP4 decode, plain stores (no atomics), the
// token's rows and the waves' sums in LDS, no scratch or local memory, on both models' shapes; the
// sm_90a exact redo behind one wave-wide max. The gfx950 resource report is printed.
TEST(Stage2Compiled, TokenOwnerOnBothTargets) {
  for (auto [N, K, E, topk] : {std::tuple{3072, 3072, 128, 4}, std::tuple{7168, 1024, 384, 8}})
    for (const char* tiles : {"tm16 tn16 u4 ow", "tm16 tn32 u2 ow", "tm16 tn64 u2 ow"}) {
      MoeStage2Config cfg = MoeStage2Config{N, K, E, topk, 16, 128, 1, OutDtype::BF16, true, true, true}.with_tiles_text(tiles);
      SCOPED_TRACE(cfg.kernel_name());
      backend::CompileResult g = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
      EXPECT_GE(count(g.assembly, R"(v_mfma_f32_16x16x32_bf16)"), 1u);
      EXPECT_GE(count(g.assembly, R"(v_cvt_scalef32_pk_bf16_fp4)"), 1u);
      EXPECT_EQ(count(g.assembly, R"(global_atomic)"), 0u) << "an owner stores";
      EXPECT_GE(count(g.assembly, R"(global_store)"), 1u);
      EXPECT_EQ(field(g.assembly, "private_segment_fixed_size"), 0) << "scratch";
      EXPECT_EQ(count(g.assembly, R"(scratch_(load|store))"), 0u);
      // The token's topk rows of K bf16, then 4 waves' f32 column sums.
      EXPECT_EQ(field(g.assembly, "group_segment_fixed_size"), long(topk) * K * 2 + 4L * cfg.tile_n * 4);
      std::printf("%s %s gfx950: %s\n", N == 3072 ? "gpt_oss" : "deepseek_r1", tiles, g.resources_json.c_str());
      backend::CompileResult n = backend::compile(moe_stage2_kernel(cfg).trace(Target::Sm90a), Target::Sm90a);
      std::string ptx(n.code.binary.begin(), n.code.binary.end());
      EXPECT_GE(count(ptx, R"(mma\.sync\.aligned\.m16n8k16)"), 1u);
      EXPECT_EQ(count(ptx, R"(atom\.|red\.global)"), 0u) << "an owner stores";
      EXPECT_EQ(count(ptx, R"(redux\.sync\.max\.u32)"), 1u) << "one wave-wide max before the exact redo";
      EXPECT_EQ(count(ptx, R"(\.local)"), 0u) << "local memory";
    }
}

/// The sm_90a PTX of `cfg` (checked free of local memory) after checking that gfx950 compiles the
/// same tiles as the shared main loop (MFMA, no scratch).
std::string wgmma_loop_ptx(const MoeStage2Config& cfg) {
  backend::CompileResult g = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
  EXPECT_GE(count(g.assembly, R"(v_mfma_f32_16x16x32_bf16)"), 1u);
  EXPECT_EQ(field(g.assembly, "private_segment_fixed_size"), 0) << "scratch";
  backend::CompileResult n = backend::compile(moe_stage2_kernel(cfg).trace(Target::Sm90a), Target::Sm90a);
  std::string ptx(n.code.binary.begin(), n.code.binary.end());
  EXPECT_EQ(count(ptx, R"(\.local)"), 0u) << "local memory";
  return ptx;
}

// wgmma: sm_90a multiplies with four m64nNk16 wgmmas per 64-K step (N = tile_n / 2 with 64 rows,
// tile_n with 128) from swizzled tiles (no ldmatrix, no mma.sync), publishing its shared writes to
// the async proxy first; gfx950 compiles the same tiles as the shared main loop.
TEST(Stage2Compiled, WgmmaMainloopOnSm90aSharedMainloopOnGfx950) {
  for (auto [tm, tn] : {std::pair{64, 128}, std::pair{64, 256}, std::pair{128, 128}}) {
    MoeStage2Config cfg{3072, 3072, 128, 4, tm, tn, 1, OutDtype::BF16, true, true, true};
    cfg.shared_mainloop = true;
    cfg.wgmma = true;
    SCOPED_TRACE(cfg.kernel_name());
    const std::string ptx = wgmma_loop_ptx(cfg);
    const std::string wgmma = "wgmma\\.mma_async\\.sync\\.aligned\\.m64n" + std::to_string(tm == 128 ? tn : tn / 2) + "k16\\.f32\\.bf16\\.bf16";
    // The loop is unrolled four times (48 steps): four steps of four wgmmas each.
    EXPECT_EQ(count(ptx, wgmma.c_str()), 16u);
    EXPECT_EQ(count(ptx, R"(wgmma\.fence\.sync\.aligned)"), 4u);
    EXPECT_EQ(count(ptx, R"(wgmma\.commit_group\.sync\.aligned)"), 4u);
    EXPECT_EQ(count(ptx, R"(wgmma\.wait_group\.sync\.aligned\s+0;)"), 4u);
    EXPECT_EQ(count(ptx, R"(fence\.proxy\.async\.shared::cta)"), 4u);
    EXPECT_EQ(count(ptx, R"(ldmatrix|mma\.sync)"), 0u);
    EXPECT_GE(count(ptx, R"(cp\.async\.cg\.shared\.global)"), 1u);
  }
}

// wgmma_rs: sm_90a feeds wgmma the weights from registers ({4 registers} as A) and the activation
// rows from the swizzled tile, in chunks of 64 rows (N; 96-row tiles: 64 and 32; a second chunk
// in a path of its own, never behind a branch between the wgmmas), weights and scales staged by
// cp.async.cg, the activations by register stores (no ldmatrix / mma.sync), two steps per loop
// iteration, and asks for two blocks per SM
// (.minnctapersm 2); gfx950 compiles the same tiles as the shared main loop. With
// stagger_warpgroups each step's wgmmas appear twice: before the step's barrier (warpgroup 1) and
// after it (warpgroup 0); one barrier per step either way.
TEST(Stage2Compiled, WgmmaRsMainloopOnSm90aSharedMainloopOnGfx950) {
  for (bool stagger : {true, false})
  for (auto [tm, tn] : {std::pair{32, 256}, std::pair{64, 256}, std::pair{96, 128}, std::pair{128, 128}}) {
    MoeStage2Config cfg{3072, 3072, 128, 4, tm, tn, 1, OutDtype::BF16, true, true, true};
    cfg.shared_mainloop = cfg.wgmma = cfg.wgmma_rs = true;
    cfg.stagger_warpgroups = stagger;
    SCOPED_TRACE(cfg.kernel_name());
    const std::string ptx = wgmma_loop_ptx(cfg);
    const int tiles = tn / 128, copies = stagger ? 2 : 1, paths = tm > 64 ? 2 : 1;
    // Rows (wgmma N) -> wgmma groups per step that multiply a chunk of that many rows: with two
    // chunks, the path with both and the path with the first only.
    std::map<int, int> chunks;
    for (int r = 0; r < tm; r += 64) chunks[std::min(64, tm - r)] += r == 0 ? paths : 1;
    for (auto [n, count_n] : chunks) {
      const std::string wgmma = "wgmma\\.mma_async\\.sync\\.aligned\\.m64n" + std::to_string(n) +
                                "k16\\.f32\\.bf16\\.bf16 \\{[^}]*\\}, \\{%r\\d+, %r\\d+, %r\\d+, %r\\d+\\}, %rd";
      // Two steps per iteration, four k16 steps of every m64 tile and chunk each.
      EXPECT_EQ(count(ptx, wgmma.c_str()), size_t(copies * 2 * 4 * tiles * count_n)) << "N " << n;
    }
    EXPECT_EQ(count(ptx, R"(wgmma\.fence\.sync\.aligned)"), size_t(copies * 2 * paths));
    EXPECT_EQ(count(ptx, R"(wgmma\.commit_group\.sync\.aligned)"), size_t(copies * 2 * paths));
    // No branch between a fence and its commit (ptxas would inject waits between the wgmmas).
    for (size_t at = ptx.find("wgmma.fence"); at != std::string::npos; at = ptx.find("wgmma.fence", at + 1)) {
      const size_t commit = ptx.find("wgmma.commit_group", at);
      ASSERT_NE(commit, std::string::npos);
      EXPECT_EQ(count(ptx.substr(at, commit - at), R"(\bbra(\.uni)?\s)"), 0u);
    }
    EXPECT_EQ(count(ptx, R"(bar\.sync|barrier\.sync)"), 3u);  // the main loop's two and the prologue's
    EXPECT_EQ(count(ptx, R"(ldmatrix|mma\.sync|cp\.async\.ca)"), 0u);
    // The activations pass through registers in Split order: per copied step and pass four stores
    // of `run` pairs each (the prologue's three steps, then one per step and warpgroup role; tile_m
    // / 32 chunks per thread in runs of the largest power of two dividing it: 96 rows, 3 passes of 1).
    const int cpt = tm / 32, run = cpt & -cpt, passes = cpt / run;
    const std::string store = run == 4 ? R"(st\.shared\.v4\.b32)" : run == 2 ? R"(st\.shared\.v4\.b16)" : R"(st\.shared\.v2\.b16)";
    EXPECT_EQ(count(ptx, store.c_str()), size_t(4 * passes * (3 + 2 * copies)));
    EXPECT_EQ(count(ptx, R"(st\.shared)"), size_t(4 * passes * (3 + 2 * copies)));
    EXPECT_GE(count(ptx, R"(cp\.async\.cg\.shared\.global)"), 3u);
    EXPECT_EQ(count(ptx, R"(\.minnctapersm 2)"), 1u);
  }
}

// register_epilogue: sm_90a sends column pairs from the accumulators (no shared tile, no barrier);
// gfx950 keeps the shared tile (its C layout has no column pairs in a lane).
TEST(Stage2Compiled, RegisterEpilogueSkipsTheSharedTileOnSm90a) {
  MoeStage2Config cfg{3072, 3072, 128, 4, 16, 256, 6, OutDtype::BF16, true, true, true};
  cfg.unroll = 4;
  cfg.register_epilogue = true;
  cfg.shared_activations = false;
  backend::CompileResult n = backend::compile(moe_stage2_kernel(cfg).trace(Target::Sm90a), Target::Sm90a);
  std::string ptx(n.code.binary.begin(), n.code.binary.end());
  EXPECT_EQ(count(ptx, R"(bar\.sync)"), 0u);
  EXPECT_EQ(count(ptx, R"(\.shared)"), 0u);
  EXPECT_GE(count(ptx, R"(red\.global\.add\.noftz\.bf16x2)"), 1u);
  backend::CompileResult g = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
  EXPECT_EQ(field(g.assembly, "group_segment_fixed_size"), 16L * 256 * 4);
  EXPECT_GE(count(g.assembly, R"(global_atomic_pk_add_bf16)"), 1u);
}

// shared_activations: sm_90a stages the block's activations once (one barrier) and the main loop
// reads them with 16-byte shared loads at constant offsets, no permutes; gfx950 is unchanged.
TEST(Stage2Compiled, SharedActivationsAreStagedOncePerBlockOnSm90a) {
  MoeStage2Config cfg{3072, 3072, 128, 4, 16, 256, 3, OutDtype::BF16, true, true, true};
  cfg.unroll = 8;
  ASSERT_TRUE(cfg.uses_shared_activations());
  backend::CompileResult n = backend::compile(moe_stage2_kernel(cfg).trace(Target::Sm90a), Target::Sm90a);
  std::string ptx(n.code.binary.begin(), n.code.binary.end());
  EXPECT_EQ(count(ptx, R"(bar\.sync)"), 1u);
  // 8 chunks x 4 word groups x 2 row halves in the main loop, and the same for the exact redo.
  EXPECT_GE(count(ptx, R"(ld\.shared\.v4\.b32\s+\{[^}]*\}, \[%rd[0-9]+\+[0-9]+\])"), 8u * 4 * 2 - 1) << "constant offsets";
  EXPECT_GE(count(ptx, R"(ld\.shared\.v4\.b32)"), 8u * 4 * 2);
  EXPECT_EQ(count(ptx, R"(st\.shared\.v4\.b32)"), 16u * 8 * 16 / 256);
  EXPECT_EQ(count(ptx, R"(\.local)"), 0u) << "local memory";
  cfg.shared_activations = false;
  backend::CompileResult g = backend::compile(moe_stage2_kernel(cfg).trace(Target::Sm90a), Target::Sm90a);
  std::string gptx(g.code.binary.begin(), g.code.binary.end());
  EXPECT_EQ(count(gptx, R"(ld\.shared)"), 0u);
  backend::CompileResult a_global = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
  cfg.shared_activations = true;
  backend::CompileResult a = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
  // gfx950 loads its activations from global memory either way: only the epilogue tile is shared.
  EXPECT_EQ(count(a.assembly, R"(ds_read)"), count(a_global.assembly, R"(ds_read)"));
  EXPECT_EQ(field(a.assembly, "group_segment_fixed_size"), 16L * 256 * 4);
}

// Whole-slice unrolls (every weight of a block requested at once) stay out of scratch on gfx950.
TEST(Stage2Compiled, WholeSliceUnrollsOnGfx950) {
  for (auto [tn, kb, u] : {std::tuple{256, 4, 6}, std::tuple{128, 8, 3}, std::tuple{256, 3, 8}}) {
    MoeStage2Config cfg{3072, 3072, 128, 4, 16, tn, kb, OutDtype::BF16, true, true, true};
    cfg.unroll = u;
    ASSERT_EQ(cfg.unroll_for(cfg.slice_k() / kStage2ChunkK), u);
    backend::CompileResult r = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
    EXPECT_EQ(field(r.assembly, "private_segment_fixed_size"), 0) << cfg.kernel_name();
    // 16 conversions per 16-byte weight load: every chunk of the slice decoded.
    EXPECT_GE(count(r.assembly, R"(v_cvt_scalef32_pk_bf16_fp4)"), size_t(16 * (tn / 64) * u)) << cfg.kernel_name();
    std::printf("%s: %s\n", cfg.kernel_name().c_str(), r.resources_json.c_str());
  }
}

// Every configuration the built-in table (the startup chooser) can pick, with the resource report
// (docs/performance.md lists it): no scratch and LDS within gfx950's 160 KiB.
TEST(Stage2Compiled, EveryBuiltinTableConfigOnGfx950) {
  const MoeStage2ConfigTable& table = builtin_config_table();
  ASSERT_FALSE(table.entries.empty());
  for (const MoeStage2TableEntry& e : table.entries) {
    MoeStage2Config cfg = e.apply_tiles({e.shape.model_dim, e.shape.inter_dim, e.shape.experts, e.shape.topk});
    backend::CompileResult r = backend::compile(moe_stage2_kernel(cfg).trace(Target::Gfx950), Target::Gfx950);
    EXPECT_EQ(field(r.assembly, "private_segment_fixed_size"), 0) << cfg.kernel_name();
    EXPECT_EQ(count(r.assembly, R"(scratch_(load|store))"), 0u) << cfg.kernel_name();
    EXPECT_LE(field(r.assembly, "group_segment_fixed_size"), 163840) << cfg.kernel_name();
    std::printf("table entry (N %d, K %d, tokens <= %d) %s: %s\n", e.shape.model_dim, e.shape.inter_dim, e.max_tokens,
                cfg.kernel_name().c_str(), r.resources_json.c_str());
  }
}

// sm_90a compiles at O3 through a reduced pipeline (backend/nvptx/sm90a.cpp) that was cut down
// while the table's PTX stayed byte-identical: every distinct config of the built-in tables must
// still give LLVM's full O3 pipeline's PTX (an LLVM upgrade that changes this fails here).
TEST(Stage2Compiled, ReducedPipelineKeepsTheTablePtx) {
  std::set<std::string> seen;
  for (const MoeStage2TableEntry& e : builtin_config_table().entries) {
    MoeStage2Config cfg = e.apply_tiles({e.shape.model_dim, e.shape.inter_dim, e.shape.experts, e.shape.topk});
    if (!seen.insert(cfg.kernel_name()).second) continue;
    ir::Function fn = moe_stage2_kernel(cfg).trace(Target::Sm90a);
    backend::CompileOptions reduced, full;
    reduced.keep_llvm_ir = full.keep_llvm_ir = false;
    full.default_pipeline = true;
    const backend::CompileResult a = backend::compile(fn, Target::Sm90a, reduced);
    const backend::CompileResult b = backend::compile(fn, Target::Sm90a, full);
    EXPECT_EQ(a.assembly, b.assembly) << cfg.kernel_name() << ": the reduced pipeline's PTX differs from O3's";
    std::printf("%s: optimisation %.1f ms reduced, %.1f ms full O3\n", cfg.kernel_name().c_str(), a.opt_ms, b.opt_ms);
  }
  EXPECT_GE(seen.size(), 5u);
}

std::vector<Variant> variants() {
  std::vector<Variant> v;
  for (int tm : {16, 32})
    for (int tn : {64, 128, 256})
      for (int kb : {1, 2, 4}) v.push_back({tm, tn, kb, OutDtype::BF16});
  v.push_back({16, 128, 1, OutDtype::F32});
  v.push_back({32, 256, 2, OutDtype::F32});
  for (int tn : {64, 128}) v.push_back({64, tn, 1, OutDtype::BF16});
  v.push_back({16, 512, 1, OutDtype::BF16});
  return v;
}

INSTANTIATE_TEST_SUITE_P(Configs, Stage2Compiled, ::testing::ValuesIn(variants()), [](const auto& info) {
  const Variant& v = info.param;
  return "m" + std::to_string(v.tile_m) + "n" + std::to_string(v.tile_n) + "k" + std::to_string(v.k_batch) +
         (v.out == OutDtype::BF16 ? "_bf16" : "_f32");
});

}  // namespace
