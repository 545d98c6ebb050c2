// `tilejit tune moe-stage2` on the emulator at a tiny shape (runs the built executable): the table
// it writes, --merge, bad options, and `tilejit moe-stage2` using the table through TILEJIT_MOE_CONFIGS.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

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
using testing_support::uniform;

using testing_support::CommandResult;

/// A scratch directory for one test.
struct TempDir : testing_support::TempDir {
  TempDir() : testing_support::TempDir("tilejit_moe_tune_cli") {}
};

/// Runs `[env] tilejit <args>` and captures its output.
CommandResult run_cli(const std::vector<std::string>& args, const std::string& env = "") {
  return testing_support::run_command(TILEJIT_CLI_PATH, args, env);
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

const kernels::MoeStage2Shape kShape{64, 256, 4, 2};

std::vector<std::string> tune_args(const std::string& tokens, const std::string& out) {
  return {"tune", "moe-stage2", "--device", "emulator", "--n", "64", "--k", "256", "--experts", "4", "--topk", "2",
          "--tokens", tokens, "--reps", "2", "--warmup", "0", "--device-key", "emulator", "--out", out};
}

TEST(TuneCli, WritesATableMergesAndTheRunCommandUsesIt) {
  SeededRng rng;
  TempDir dir;
  const int t1 = int(uniform(*rng, 1, 3)), t2 = int(uniform(*rng, 4, 8)), t3 = int(uniform(*rng, 9, 12));
  std::vector<std::string> args = tune_args(fmt::format("{},{}", t2, t1), dir.file("t.json"));
  args.insert(args.end(), {"--results", dir.file("r.json"), "--seed", std::to_string(rng.seed())});
  CommandResult r = run_cli(args);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "speedup")) << r.output;
  EXPECT_TRUE(contains(r.output, "compiled")) << r.output;
  EXPECT_TRUE(contains(r.output, "wrote " + dir.file("t.json"))) << r.output;

  kernels::MoeStage2ConfigTable t = kernels::load_config_table(dir.file("t.json"));
  ASSERT_EQ(t.entries.size(), 2u);
  nlohmann::json results = nlohmann::json::parse(std::ifstream(dir.file("r.json")));
  for (const kernels::MoeStage2TableEntry& e : t.entries) {
    EXPECT_EQ(e.device, "emulator");
    EXPECT_EQ(e.shape, kShape);
    EXPECT_EQ(e.source, "tuned");
    EXPECT_TRUE(e.max_tokens == t1 || e.max_tokens == t2) << e.max_tokens;
    ASSERT_TRUE(e.median_us.has_value());
    // The row is the fastest measurement of its token count in the results file.
    double best = 1e300;
    nlohmann::json best_row;
    for (const auto& m : results["measurements"])
      if (m["tokens"] == e.max_tokens && m["median_us"].get<double>() < best) {
        best = m["median_us"].get<double>();
        best_row = m;
      }
    ASSERT_FALSE(best_row.is_null());
    EXPECT_TRUE(best_row["best"].get<bool>());
    EXPECT_EQ(best_row["tile_m"], e.tile_m);
    EXPECT_EQ(best_row["tile_n"], e.tile_n);
    EXPECT_EQ(best_row["k_batch"], e.k_batch);
    EXPECT_EQ(best_row["unroll"], e.unroll);
    EXPECT_NEAR(*e.median_us, best, 0.0051);
  }

  // --merge: a third bucket joins the two.
  std::vector<std::string> more = tune_args(std::to_string(t3), dir.file("t2.json"));
  more.insert(more.end(), {"--merge", dir.file("t.json")});
  r = run_cli(more);
  ASSERT_EQ(r.status, 0) << r.output;
  kernels::MoeStage2ConfigTable merged = kernels::load_config_table(dir.file("t2.json"));
  ASSERT_EQ(merged.entries.size(), 3u);
  for (const auto& e : t.entries) {
    int same = 0;
    for (const auto& m : merged.entries)
      same += m.max_tokens == e.max_tokens && m.tile_m == e.tile_m && m.tile_n == e.tile_n && m.k_batch == e.k_batch;
    EXPECT_EQ(same, 1) << "bucket " << e.max_tokens << " changed by the merge";
  }

  // tilejit moe-stage2 with TILEJIT_MOE_CONFIGS: the config comes from the table's row for the bucket.
  const int tokens = int(uniform(*rng, t1 + 1, t2));
  moe::Routing routing = moe::random_routing(*rng, tokens, kShape.topk, kShape.experts);
  std::vector<uint16_t> a = moe::random_bf16_normal(*rng, size_t(tokens) * kShape.topk * kShape.inter_dim);
  mxfp4::Mxfp4Matrix w = moe::random_mxfp4_weights(*rng, kShape.experts, kShape.model_dim, kShape.inter_dim);
  const int64_t T = tokens, K = kShape.inter_dim, N = kShape.model_dim, E = kShape.experts, k = kShape.topk;
  npy::save(dir.file("a.npy"), npy::Array::from<uint16_t>(a, {T * k, K}));
  npy::save(dir.file("ids.npy"), npy::Array::from<int32_t>(routing.topk_ids, {T, k}));
  npy::save(dir.file("wts.npy"), npy::Array::from<float>(routing.topk_weights, {T, k}));
  npy::save(dir.file("w.npy"), npy::Array::from<uint8_t>(w.packed, {E, N, K / 2}));
  npy::save(dir.file("ws.npy"), npy::Array::from<uint8_t>(w.scales, {E, N, K / 32}));
  r = run_cli({"moe-stage2", "--a", dir.file("a.npy"), "--topk-ids", dir.file("ids.npy"), "--topk-weights",
               dir.file("wts.npy"), "--w", dir.file("w.npy"), "--w-scale", dir.file("ws.npy"), "--out-dtype", "f32",
               "--out", dir.file("out.npy"), "--device", "emulator"},
              "TILEJIT_MOE_CONFIGS='" + dir.file("t2.json") + "'");
  ASSERT_EQ(r.status, 0) << r.output;
  int row = -1;
  for (size_t i = 0; i < merged.entries.size(); ++i)
    if (merged.entries[i].max_tokens == t2) row = int(i);
  ASSERT_GE(row, 0);
  const auto& e = merged.entries[size_t(row)];
  EXPECT_TRUE(contains(r.output, fmt::format("config from: {} entry {}", dir.file("t2.json"), row))) << r.output;
  EXPECT_TRUE(contains(r.output, fmt::format("tile_m={} tile_n={} k_batch={}", e.tile_m, e.tile_n, e.k_batch)))
      << r.output;
  moe::Stage2Inputs in{a, w.packed, w.scales, {}, routing.topk_ids, routing.topk_weights};
  moe::Stage2Result ref = moe::moe_stage2_reference({T, k, E, N, K}, in, {true, true, moe::OutputType::f32});
  std::vector<float> got = npy::load(dir.file("out.npy")).values<float>();
  ASSERT_EQ(got.size(), ref.exact.size());
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_TRUE(std::isfinite(got[i])) << i;
    num += (got[i] - ref.exact[i]) * (got[i] - ref.exact[i]);
    den += ref.exact[i] * ref.exact[i];
  }
  EXPECT_LT(std::sqrt(num / den), 1e-4);

  // A broken TILEJIT_MOE_CONFIGS is an error naming the variable and the file.
  std::ofstream(dir.file("broken.json")) << "{\"format\": 1";
  r = run_cli({"moe-stage2", "--a", dir.file("a.npy"), "--topk-ids", dir.file("ids.npy"), "--topk-weights",
               dir.file("wts.npy"), "--w", dir.file("w.npy"), "--w-scale", dir.file("ws.npy"), "--out",
               dir.file("out2.npy"), "--device", "emulator"},
              "TILEJIT_MOE_CONFIGS='" + dir.file("broken.json") + "'");
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "TILEJIT_MOE_CONFIGS")) << r.output;
  EXPECT_TRUE(contains(r.output, "broken.json")) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("out2.npy")));
}

TEST(TuneCli, BadOptions) {
  TempDir dir;
  // A broken table to merge fails before measuring and writes nothing.
  std::ofstream(dir.file("bad.json")) << "{\"format\": \"tilejit-moe-stage2-configs\", \"version\": 1, \"entries\": [{}]}";
  std::vector<std::string> args = tune_args("1", dir.file("out.json"));
  args.insert(args.end(), {"--merge", dir.file("bad.json")});
  CommandResult r = run_cli(args);
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--merge")) << r.output;
  EXPECT_TRUE(contains(r.output, "entry 0")) << r.output;
  EXPECT_TRUE(contains(r.output, "'device'")) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("out.json")));

  r = run_cli({"tune", "moe-stage2", "--device", "emulator", "--tokens", "1", "--out", dir.file("o.json")});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--shape")) << r.output;
  r = run_cli({"tune", "moe-stage2", "--shape", "gpt_oss", "--n", "64", "--out", dir.file("o.json")});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "exclude")) << r.output;
  r = run_cli({"tune", "moe-stage2", "--shape", "llama", "--out", dir.file("o.json")});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "--shape")) << r.output;
  r = run_cli({"tune", "moe-stage2", "--device", "emulator", "--n", "100", "--k", "256", "--experts", "4", "--topk",
               "2", "--out", dir.file("o.json")});
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "model_dim")) << r.output;
  r = run_cli(tune_args("0,2", dir.file("o.json")));
  EXPECT_NE(r.status, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "token counts")) << r.output;
  EXPECT_FALSE(fs::exists(dir.file("o.json")));
}

}  // namespace
}  // namespace tilejit
