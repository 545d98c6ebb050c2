// The `tilejit moe-stage2` command on the emulator: random .npy inputs in, output against the FP32 reference; bad files.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "dsl/ir/numeric.h"
#include "kernels/moe/host/moe_host.h"
#include "kernels/moe/stage2/chooser.h"
#include "tests/common/cli_runner.h"
#include "tests/common/seeded_rng.h"
#include "tools/npy/npy.h"

#ifndef TILEJIT_CLI_PATH
#error "TILEJIT_CLI_PATH must name the built tilejit executable"
#endif

namespace tilejit {
namespace {

namespace fs = std::filesystem;
using testing_support::SeededRng;

using testing_support::CommandResult;

/// A scratch directory for one test.
struct TempDir : testing_support::TempDir {
  TempDir() : testing_support::TempDir("tilejit_moe_cli") {}
};

/// Runs `tilejit moe-stage2 <args>` and captures its output.
CommandResult run_cli(const std::vector<std::string>& args) {
  std::vector<std::string> all{"moe-stage2"};
  all.insert(all.end(), args.begin(), args.end());
  return testing_support::run_command(TILEJIT_CLI_PATH, all);
}

/// A random problem written as .npy files in the CLI's plain layouts.
struct Problem {
  int tokens, topk, E, N, K;
  bool bias;
  moe::Routing routing;
  std::vector<uint16_t> a;
  mxfp4::Mxfp4Matrix w;
  std::vector<float> b;

  Problem(std::mt19937& rng, int tokens_, int topk_, int E_, int N_, int K_, bool bias_, int empty_experts)
      : tokens(tokens_), topk(topk_), E(E_), N(N_), K(K_), bias(bias_) {
    routing = moe::random_routing(rng, tokens, topk, E, {empty_experts, 1.0});
    a = moe::random_bf16_normal(rng, size_t(tokens) * topk * K);
    w = moe::random_mxfp4_weights(rng, E, N, K);
    if (bias) b = moe::random_f32_normal(rng, size_t(E) * N);
  }

  /// Writes the inputs and returns the CLI arguments naming them (plus --out).
  std::vector<std::string> write(const TempDir& dir) const {
    npy::save(dir.file("a.npy"), npy::Array::from<uint16_t>(a, {int64_t(tokens) * topk, K}));
    npy::save(dir.file("ids.npy"), npy::Array::from<int32_t>(routing.topk_ids, {tokens, topk}));
    npy::save(dir.file("wts.npy"), npy::Array::from<float>(routing.topk_weights, {tokens, topk}));
    npy::save(dir.file("w.npy"), npy::Array::from<uint8_t>(w.packed, {E, N, K / 2}));
    npy::save(dir.file("ws.npy"), npy::Array::from<uint8_t>(w.scales, {E, N, K / 32}));
    std::vector<std::string> args{"--a",   dir.file("a.npy"), "--topk-ids", dir.file("ids.npy"), "--topk-weights",
                                  dir.file("wts.npy"), "--w", dir.file("w.npy"), "--w-scale", dir.file("ws.npy"),
                                  "--out", dir.file("out.npy"), "--device", "emulator"};
    if (bias) {
      npy::save(dir.file("bias.npy"), npy::Array::from<float>(b, {E, N}));
      args.insert(args.end(), {"--bias", dir.file("bias.npy")});
    }
    return args;
  }

  moe::Stage2Result reference(bool doweight) const {
    moe::Stage2Inputs in{a, w.packed, w.scales, b, routing.topk_ids, routing.topk_weights};
    return moe::moe_stage2_reference({tokens, topk, E, N, K}, in, {doweight, true, moe::OutputType::f32});
  }
};

/// Reads the CLI's output and compares it with the reference: dtype, shape, every element finite,
/// relative L2 error below `tolerance`.
void expect_output_matches(const std::string& path, bool f32, const Problem& p, const moe::Stage2Result& ref,
                           double tolerance) {
  npy::Array out = npy::load(path);
  ASSERT_EQ(out.dtype, f32 ? npy::DType::f4 : npy::DType::u2);
  ASSERT_EQ(out.shape, (std::vector<int64_t>{p.tokens, p.N}));
  std::vector<double> got(size_t(p.tokens) * p.N);
  if (f32) {
    auto v = out.values<float>();
    for (size_t i = 0; i < got.size(); ++i) got[i] = v[i];
  } else {
    auto v = out.values<uint16_t>();
    for (size_t i = 0; i < got.size(); ++i) got[i] = ir::bf16_to_f32(v[i]);
  }
  ASSERT_EQ(ref.exact.size(), got.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << "out[" << i << "] = " << got[i];
    num += (got[i] - ref.exact[i]) * (got[i] - ref.exact[i]);
    den += ref.exact[i] * ref.exact[i];
  }
  ASSERT_GT(den, 0.0);
  EXPECT_LT(std::sqrt(num / den), tolerance) << "relative L2 error";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

/// `args` with the value after `flag` replaced by `value`.
std::vector<std::string> with_arg(std::vector<std::string> args, const std::string& flag, const std::string& value) {
  for (size_t i = 0; i + 1 < args.size(); ++i)
    if (args[i] == flag) args[i + 1] = value;
  return args;
}

struct CliRun : ::testing::TestWithParam<std::tuple<std::string, std::string>> {};

// bf16 and f32 output, both emulator layouts, with bias and empty experts.
TEST_P(CliRun, MatchesReference) {
  const auto& [target, dtype] = GetParam();
  SeededRng rng;
  TempDir dir;
  Problem p(*rng, 5, 2, 8, 128, 256, true, 3);
  std::vector<std::string> args = p.write(dir);
  args.insert(args.end(), {"--target", target, "--out-dtype", dtype});
  CommandResult r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "device: emulator (" + target + ")")) << r.output;
  EXPECT_TRUE(contains(r.output, "tile_m=16 tile_n=128 k_batch=")) << r.output;
  EXPECT_TRUE(contains(r.output, "kernel time:")) << r.output;
  const bool f32 = dtype == "f32";
  expect_output_matches(dir.file("out.npy"), f32, p, p.reference(true), f32 ? 1e-4 : 1e-2);
}

INSTANTIATE_TEST_SUITE_P(Targets, CliRun,
                         ::testing::Combine(::testing::Values("sm_90a", "gfx950"), ::testing::Values("bf16", "f32")),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + std::get<1>(info.param);
                         });

// Explicit tiles, split-K and --no-weight, no bias.
TEST(CliOptions, SplitKNoWeightTiles) {
  SeededRng rng;
  TempDir dir;
  Problem p(*rng, 7, 2, 4, 64, 512, false, 0);
  std::vector<std::string> args = p.write(dir);
  args.insert(args.end(), {"--out-dtype", "f32", "--k-batch", "2", "--tile-m", "32", "--tile-n", "64", "--no-weight",
                           "--target", "gfx950"});
  CommandResult r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "tile_m=32 tile_n=64 k_batch=2 out=f32 doweight=0")) << r.output;
  EXPECT_TRUE(contains(r.output, "bias=no")) << r.output;
  expect_output_matches(dir.file("out.npy"), true, p, p.reference(false), 1e-4);
}

/// Runs with one input replaced (flag -> file) and expects a failure whose output names every part.
class CliErrors : public ::testing::Test {
 protected:
  void SetUp() override {
    problem_ = std::make_unique<Problem>(*rng_, 3, 2, 4, 64, 256, false, 0);
    args_ = problem_->write(dir_);
  }
  void expect_error(const std::string& flag, const std::string& file, std::initializer_list<std::string> parts) {
    CommandResult r = run_cli(with_arg(args_, flag, file));
    EXPECT_NE(r.status, 0) << r.output;
    for (const auto& part : parts) EXPECT_TRUE(contains(r.output, part)) << "missing '" << part << "' in: " << r.output;
    EXPECT_FALSE(fs::exists(dir_.file("out.npy"))) << "an output was written despite the error";
  }
  SeededRng rng_;
  TempDir dir_;
  std::unique_ptr<Problem> problem_;
  std::vector<std::string> args_;
};

TEST_F(CliErrors, WrongDtype) {
  std::vector<float> ids(problem_->routing.topk_ids.begin(), problem_->routing.topk_ids.end());
  npy::save(dir_.file("ids_f32.npy"), npy::Array::from<float>(ids, {problem_->tokens, problem_->topk}));
  expect_error("--topk-ids", dir_.file("ids_f32.npy"), {"--topk-ids", dir_.file("ids_f32.npy"), "dtype is float32", "expected int32"});
}

TEST_F(CliErrors, WrongDtypeActivations) {
  std::vector<float> a(problem_->a.size(), 1.0f);
  npy::save(dir_.file("a_f32.npy"), npy::Array::from<float>(a, {int64_t(problem_->tokens) * problem_->topk, problem_->K}));
  expect_error("--a", dir_.file("a_f32.npy"), {"--a", "a_f32.npy", "dtype is float32", "uint16"});
}

TEST_F(CliErrors, WrongWeightShape) {
  const auto& p = *problem_;
  // K/2 + 16 bytes per row: does not match inter_dim from --a.
  std::vector<uint8_t> w(size_t(p.E) * p.N * (p.K / 2 + 16), 0x11);
  npy::save(dir_.file("w_bad.npy"), npy::Array::from<uint8_t>(w, {p.E, p.N, p.K / 2 + 16}));
  expect_error("--w", dir_.file("w_bad.npy"),
               {"--w", "w_bad.npy", fmt::format("shape is [{}, {}, {}]", p.E, p.N, p.K / 2 + 16),
                fmt::format("inter_dim/2 = {}", p.K / 2)});
}

TEST_F(CliErrors, WrongRank) {
  const auto& p = *problem_;
  npy::save(dir_.file("ws_2d.npy"), npy::Array::from<uint8_t>(p.w.scales, {int64_t(p.E) * p.N, p.K / 32}));
  expect_error("--w-scale", dir_.file("ws_2d.npy"), {"--w-scale", "ws_2d.npy", "2 dimensions", "[experts, model_dim, inter_dim/32]"});
}

TEST_F(CliErrors, MismatchedRoutingShapes) {
  const auto& p = *problem_;
  std::vector<float> wts(size_t(p.tokens + 1) * p.topk, 0.5f);
  npy::save(dir_.file("wts_bad.npy"), npy::Array::from<float>(wts, {p.tokens + 1, p.topk}));
  expect_error("--topk-weights", dir_.file("wts_bad.npy"),
               {"--topk-weights", fmt::format("shape is [{}, {}]", p.tokens + 1, p.topk), "as --topk-ids"});
}

TEST_F(CliErrors, TruncatedFile) {
  std::ifstream in(dir_.file("a.npy"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 200u);
  std::ofstream(dir_.file("a_cut.npy"), std::ios::binary).write(bytes.data(), std::streamsize(bytes.size() - 100));
  expect_error("--a", dir_.file("a_cut.npy"), {"--a", "a_cut.npy", "truncated"});
}

TEST_F(CliErrors, ExpertIdOutOfRange) {
  const auto& p = *problem_;
  std::vector<int32_t> ids = p.routing.topk_ids;
  ids[1] = p.E;  // token 0, slot 1
  npy::save(dir_.file("ids_bad.npy"), npy::Array::from<int32_t>(ids, {p.tokens, p.topk}));
  expect_error("--topk-ids", dir_.file("ids_bad.npy"),
               {"--topk-ids", "[token 0, slot 1]", fmt::format("= {} is not an expert id in [0, {})", p.E, p.E)});
}

TEST_F(CliErrors, MissingFile) {
  expect_error("--w-scale", dir_.file("no_such.npy"), {"--w-scale", "no_such.npy", "cannot open"});
}

TEST_F(CliErrors, ShapeTheKernelCannotRun) {
  const auto& p = *problem_;
  // model_dim 48 is not a multiple of 32: consistent files, but no kernel variant.
  const int N = 48;
  mxfp4::Mxfp4Matrix w = moe::random_mxfp4_weights(*rng_, p.E, N, p.K);
  npy::save(dir_.file("w48.npy"), npy::Array::from<uint8_t>(w.packed, {p.E, N, p.K / 2}));
  npy::save(dir_.file("ws48.npy"), npy::Array::from<uint8_t>(w.scales, {p.E, N, p.K / 32}));
  CommandResult r = run_cli(with_arg(with_arg(args_, "--w", dir_.file("w48.npy")), "--w-scale", dir_.file("ws48.npy")));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "model_dim=48")) << r.output;
  EXPECT_TRUE(contains(r.output, "model_dim must be a positive multiple of 32")) << r.output;
}

TEST_F(CliErrors, BadOptionValues) {
  std::vector<std::string> args = args_;
  args.insert(args.end(), {"--tile-n", "96"});
  CommandResult r = run_cli(args);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "tile_n must be 64, 128, 256 or 512")) << r.output;
  r = run_cli(with_arg(args_, "--device", "tpu"));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--device")) << r.output;
}

// `tilejit compile moe_stage2`: the kernel of any tiles and shape, at any stage (no GPU needed).
CommandResult run_compile(const std::vector<std::string>& args) {
  std::vector<std::string> all{"compile", "moe_stage2"};
  all.insert(all.end(), args.begin(), args.end());
  return testing_support::run_command(TILEJIT_CLI_PATH, all);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(CliCompile, Stage2PtxOfRandomTiles) {
  SeededRng rng;
  struct Tiles {
    const char* spec;
    const char* instruction;
  };
  const Tiles choices[] = {{"tm16 tn128 kb4 u6", "mma.sync.aligned.m16n8k16"},
                           {"tm32 tn256 kb2 u4", "mma.sync.aligned.m16n8k16"},
                           {"tm64 tn256 wr ns", "wgmma.mma_async.sync.aligned.m64n64k16"},
                           {"tm96 tn128 wr ns", "wgmma.mma_async.sync.aligned.m64n32k16"}};
  TempDir dir;
  for (int i = 0; i < 2; ++i) {
    const Tiles& t = choices[(*rng)() % std::size(choices)];
    const std::string shape = (*rng)() % 2 ? "gpt_oss" : "deepseek_r1";
    SCOPED_TRACE(fmt::format("{} --tiles \"{}\"", shape, t.spec));
    const kernels::MoeStage2Shape s = *kernels::moe_stage2_model_shape(shape);
    const std::string name =
        kernels::MoeStage2Config{s.model_dim, s.inter_dim, s.experts, s.topk}.with_tiles_text(t.spec).kernel_name();
    const std::string out = dir.file(fmt::format("k{}.ptx", i));
    CommandResult r = run_compile({"--shape", shape, "--tiles", t.spec, "--emit", "ptx", "-o", out});
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string ptx = read_text(out);
    EXPECT_TRUE(contains(ptx, ".entry " + name + "(")) << name << "\n" << ptx.substr(0, 400);
    EXPECT_TRUE(contains(ptx, t.instruction));
  }
}

TEST(CliCompile, Stage2OnGfx950WithExplicitDims) {
  TempDir dir;
  CommandResult r = run_compile({"--n", "256", "--k", "512", "--experts", "4", "--topk", "2", "--tiles", "tm16 tn64 kb2",
                                 "--target", "gfx950", "--emit", "asm", "-o", dir.file("k.s")});
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string s = read_text(dir.file("k.s"));
  EXPECT_TRUE(contains(s, "moe_stage2_a16w4_n256_k512_e4_t2_m16n64k2"));
  EXPECT_TRUE(contains(s, "global_atomic_pk_add_bf16"));
}

TEST(CliCompile, RegisteredKernelStages) {
  TempDir dir;
  CommandResult r = testing_support::run_command(TILEJIT_CLI_PATH, {"compile", "vector_add", "--emit", "ptx", "-o", dir.file("v.ptx")});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(read_text(dir.file("v.ptx")), ".entry vector_add"));
  r = testing_support::run_command(TILEJIT_CLI_PATH, {"compile", "vector_add", "--target", "gfx950", "--emit", "ptx"});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--emit ptx needs --target sm_90a")) << r.output;
  r = testing_support::run_command(TILEJIT_CLI_PATH, {"compile", "no_such_kernel"});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "no_such_kernel")) << r.output;
}

TEST(CliCompile, Stage2Errors) {
  struct Bad {
    std::vector<std::string> args;
    const char* message;
  };
  const Bad cases[] = {
      {{"--shape", "gpt_oss"}, "moe_stage2 needs --tiles"},
      {{"--tiles", "tm64 tn256"}, "give --shape gpt_oss|deepseek_r1, or all of --n, --k, --experts and --topk"},
      {{"--shape", "gpt_oss", "--n", "256", "--tiles", "tm16 tn128"}, "exclude each other"},
      {{"--shape", "deepseek_r1", "--tiles", "tm96 tn256 wr ns"}, "more than gfx950's 160 KiB"},
      {{"--shape", "deepseek_r1", "--tiles", "tm16 tn128 zz"}, "unknown word 'zz'"},
      {{"--n", "48", "--k", "256", "--experts", "4", "--topk", "2", "--tiles", "tm16 tn64"}, "model_dim must be a positive multiple of 32"},
      // Zero is not "left out": the option itself is refused.
      {{"--n", "256", "--k", "0", "--experts", "4", "--topk", "2", "--tiles", "tm16 tn64"}, "--k: Value 0 not in range 1"},
      {{"--n", "256", "--k", "256", "--experts", "4", "--topk", "-1", "--tiles", "tm16 tn64"}, "--topk: Value -1 not in range 1"},
  };
  for (const Bad& b : cases) {
    CommandResult r = run_compile(b.args);
    EXPECT_NE(r.status, 0) << r.output;
    EXPECT_TRUE(contains(r.output, b.message)) << "missing '" << b.message << "' in: " << r.output;
  }
  CommandResult r = testing_support::run_command(TILEJIT_CLI_PATH, {"compile", "vector_add", "--tiles", "tm16 tn64"});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "are for moe_stage2 only")) << r.output;
}

}  // namespace
}  // namespace tilejit
