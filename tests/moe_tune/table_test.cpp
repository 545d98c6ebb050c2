// The stage-2 config table: JSON round trips, strict parsing (each malformed input names its field),
// files, merging, and the built-in table.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "kernels/moe/stage2/chooser.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::kernels {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;
using json = nlohmann::json;

/// A random valid row.
MoeStage2TableEntry random_entry(std::mt19937& rng) {
  static const int kN[] = {64, 96, 128, 3072, 7168}, kK[] = {256, 512, 1024, 3072};
  MoeStage2TableEntry e;
  e.device = uniform(rng, 0, 2) == 0 ? "default" : fmt::format("GPU{}", uniform(rng, 0, 999));
  e.shape = {kN[uniform(rng, 0, 4)], kK[uniform(rng, 0, 3)], int(uniform(rng, 4, 400)), 0};
  e.shape.topk = int(uniform(rng, 1, std::min(e.shape.experts, 8)));
  e.max_tokens = int(uniform(rng, 1, 100000));
  e.tile_m = uniform(rng, 0, 4) == 0 ? 96 : 16 << uniform(rng, 0, 3);
  e.tile_n = e.tile_m > 64 ? 128 : 64 << uniform(rng, 0, 2);  // 96 or 128 rows: the shared main loop
  const int chunks = e.shape.inter_dim / 128;
  do e.k_batch = 1 << uniform(rng, 0, 4);
  while (chunks % e.k_batch);
  e.unroll = 1 << uniform(rng, 0, 2);
  e.warps_m = e.tile_m == 32 && uniform(rng, 0, 1) ? 2 : 1;
  e.shared_mainloop = e.tile_m >= 32 && e.tile_n >= 128 && uniform(rng, 0, 1);
  if (e.tile_m > 64 || e.tile_m * e.tile_n > 8192) e.shared_mainloop = true;  // too large for the register main loop
  e.wgmma_rs = e.shared_mainloop && e.warps_m == 1 && uniform(rng, 0, 1);  // any shared tile
  e.wgmma = e.wgmma_rs || (e.shared_mainloop && (e.tile_m == 64 || (e.tile_m == 128 && e.tile_n == 128)) && uniform(rng, 0, 1));
  e.stagger_warpgroups = !e.wgmma_rs || uniform(rng, 0, 1);
  // Warp-specialized: the register main loop's (even unroll, N a multiple of tile_n) or wgmma_rs
  // 64-row tiles in step.
  e.warp_specialized = uniform(rng, 0, 3) == 0 &&
                       (e.shared_mainloop ? e.wgmma_rs && !e.stagger_warpgroups
                                          : e.unroll % 2 == 0 && (chunks / e.k_batch) % e.unroll == 0 &&
                                                e.shape.model_dim % e.tile_n == 0);
  if (e.warp_specialized) {  // its ring may not fit shared memory
    try {
      e.apply_tiles({e.shape.model_dim, e.shape.inter_dim, e.shape.experts, e.shape.topk}).validate();
    } catch (const std::invalid_argument&) {
      e.warp_specialized = false;
    }
  }
  if (uniform(rng, 0, 4) == 0) {  // a token owner
    e.token_owner = true;
    e.tile_m = 16;
    e.tile_n = 16 << uniform(rng, 0, 3);
    e.k_batch = e.warps_m = 1;
    e.shared_mainloop = e.wgmma = e.wgmma_rs = e.warp_specialized = false;
    e.stagger_warpgroups = true;
  }
  if (uniform(rng, 0, 1)) e.median_us = double(uniform(rng, 1, 1000000)) / 100;
  e.source = e.median_us ? "tuned" : "heuristic";
  if (uniform(rng, 0, 1)) e.device_name = fmt::format("Card {}", uniform(rng, 0, 99));
  return e;
}

void expect_same(const MoeStage2TableEntry& a, const MoeStage2TableEntry& b) {
  EXPECT_EQ(a.device, b.device);
  EXPECT_EQ(a.shape, b.shape);
  EXPECT_EQ(a.max_tokens, b.max_tokens);
  EXPECT_EQ(a.tile_m, b.tile_m);
  EXPECT_EQ(a.tile_n, b.tile_n);
  EXPECT_EQ(a.k_batch, b.k_batch);
  EXPECT_EQ(a.warps_m, b.warps_m);
  EXPECT_EQ(a.shared_mainloop, b.shared_mainloop);
  EXPECT_EQ(a.wgmma, b.wgmma);
  EXPECT_EQ(a.wgmma_rs, b.wgmma_rs);
  EXPECT_EQ(a.stagger_warpgroups, b.stagger_warpgroups);
  EXPECT_EQ(a.token_owner, b.token_owner);
  EXPECT_EQ(a.warp_specialized, b.warp_specialized);
  EXPECT_EQ(a.unroll, b.unroll);
  EXPECT_EQ(a.median_us.has_value(), b.median_us.has_value());
  if (a.median_us && b.median_us) EXPECT_NEAR(*a.median_us, *b.median_us, 0.0051);
  EXPECT_EQ(a.source, b.source);
  EXPECT_EQ(a.device_name, b.device_name);
}

/// The JSON of a table with one valid row, as an object to break.
json valid_table() {
  return json::parse(R"({"format": "tilejit-moe-stage2-configs", "version": 1, "entries": [
    {"device": "H100", "model_dim": 3072, "inter_dim": 3072, "experts": 128, "topk": 4, "max_tokens": 64,
     "tile_m": 16, "tile_n": 128, "k_batch": 2, "unroll": 2, "median_us": 12.5, "source": "tuned"}]})");
}

TEST(ConfigTable, RoundTripsRandomTables) {
  SeededRng rng;
  for (int round = 0; round < 20; ++round) {
    MoeStage2ConfigTable t;
    const int n = int(uniform(*rng, 0, 30));
    while (int(t.entries.size()) < n) {
      MoeStage2TableEntry e = random_entry(*rng);
      bool dup = false;
      for (const auto& o : t.entries)
        dup |= o.device == e.device && o.shape == e.shape && o.max_tokens == e.max_tokens;
      if (!dup) t.entries.push_back(e);
    }
    const std::string text = config_table_json(t);
    MoeStage2ConfigTable back = parse_config_table(text, "mem.json");
    EXPECT_EQ(back.origin, "mem.json");
    ASSERT_EQ(back.entries.size(), t.entries.size()) << text;
    // The writer sorts; every row must come back once with all its fields.
    for (const MoeStage2TableEntry& e : t.entries) {
      int found = 0;
      for (const MoeStage2TableEntry& b : back.entries)
        if (b.device == e.device && b.shape == e.shape && b.max_tokens == e.max_tokens) {
          ++found;
          expect_same(b, e);
        }
      EXPECT_EQ(found, 1) << text;
    }
    // Written again, the text is the same (stable order).
    EXPECT_EQ(config_table_json(back), text);
  }
}

TEST(ConfigTable, ParsesHandWrittenTable) {
  MoeStage2ConfigTable t = parse_config_table(valid_table().dump(), "t.json");
  ASSERT_EQ(t.entries.size(), 1u);
  const MoeStage2TableEntry& e = t.entries[0];
  EXPECT_EQ(e.device, "H100");
  EXPECT_EQ(e.shape, (MoeStage2Shape{3072, 3072, 128, 4}));
  EXPECT_EQ(e.max_tokens, 64);
  EXPECT_EQ(e.tile_m, 16);
  EXPECT_EQ(e.tile_n, 128);
  EXPECT_EQ(e.k_batch, 2);
  EXPECT_EQ(e.unroll, 2);
  ASSERT_TRUE(e.median_us.has_value());
  EXPECT_DOUBLE_EQ(*e.median_us, 12.5);
  EXPECT_EQ(e.source, "tuned");
  EXPECT_TRUE(e.device_name.empty());
  EXPECT_TRUE(parse_config_table(R"({"format":"tilejit-moe-stage2-configs","version":1,"entries":[]})", "e.json")
                  .entries.empty());
}

/// Each malformed row: the message names the file, the entry index and the field.
TEST(ConfigTable, MalformedEntryNamesTheField) {
  struct Bad {
    const char* field;
    json value;  // null: remove the field
    const char* says;
  };
  const Bad cases[] = {
      {"device", nullptr, "missing"},          {"device", 5, "string"},
      {"device", "", "empty"},                 {"model_dim", nullptr, "missing"},
      {"model_dim", 100, "multiple of 32"},    {"model_dim", "3072", "integer"},
      {"model_dim", 3072.5, "integer"},        {"model_dim", true, "integer"},
      {"inter_dim", 384, "multiple of 256"},   {"inter_dim", 0, "["},
      {"experts", 0, "["},                     {"topk", 129, "["},
      {"topk", -1, "["},                       {"max_tokens", 0, "["},
      {"max_tokens", 1 << 24, "["},            {"tile_m", 8, "one of 16, 32, 64"},
      {"tile_m", 24, "one of 16, 32, 64"},         {"tile_n", 96, "one of 64, 128, 256, 512"},
      {"tile_n", nullptr, "missing"},          {"k_batch", 5, "whole slices"},
      {"k_batch", 48, "["},                    {"k_batch", 0, "["},
      {"unroll", 5, "one of 1, 2, 3, 4, 6, 8"},         {"median_us", "fast", "number"},
      {"median_us", -2.0, "positive"},         {"median_us", 0, "positive"},
      {"source", "guess", "tuned"},            {"source", nullptr, "missing"},
      {"device_name", 7, "string"},            {"colour", "red", "not a field"},
      {"warps_m", 3, "one of 1, 2, 4"},        {"shared_mainloop", 1, "true or false"},
      {"wgmma", "yes", "true or false"},       {"wgmma_rs", 1, "true or false"},
      {"stagger_warpgroups", 0, "true or false"}, {"stagger_warpgroups", false, "needs wgmma_rs"},
      {"token_owner", 1, "true or false"},     {"token_owner", true, "needs tile_m 16, k_batch 1"},
      {"warp_specialized", 1, "true or false"},
  };
  for (const Bad& b : cases) {
    SCOPED_TRACE(std::string(b.field) + " = " + b.value.dump());
    json j = valid_table();
    // A valid first row, the broken one at index 1.
    json row = j["entries"][0];
    row["max_tokens"] = 128;
    if (b.value.is_null()) row.erase(b.field);
    else row[b.field] = b.value;
    j["entries"].push_back(row);
    expect_throw_with<std::invalid_argument>([&] { parse_config_table(j.dump(), "bad.json"); },
                                             {"bad.json", "entry 1", std::string("'") + b.field + "'", b.says});
  }
}

TEST(ConfigTable, RowsTheKernelRejectsNameTheConfig) {
  for (auto [field, value, says] : {std::tuple<const char*, json, const char*>{"warps_m", 2, "warps_m must be"},
                                    {"shared_mainloop", true, "shared_mainloop needs"},
                                    {"wgmma", true, "wgmma needs shared_mainloop"},
                                    {"wgmma_rs", true, "wgmma_rs needs wgmma"}}) {
    json j = valid_table();  // tile_m 16: one row group, too few rows for the shared main loop
    j["entries"][0][field] = value;
    expect_throw_with<std::invalid_argument>([&] { parse_config_table(j.dump(), "bad.json"); },
                                             {"bad.json", "entry 0", "'config'", says});
  }
  json j = valid_table();
  j["entries"][0]["tile_m"] = 32;
  j["entries"][0]["warps_m"] = 2;
  j["entries"][0]["shared_mainloop"] = true;
  const MoeStage2TableEntry e = parse_config_table(j.dump(), "ok.json").entries.at(0);
  EXPECT_EQ(e.warps_m, 2);
  EXPECT_TRUE(e.shared_mainloop);
  j["entries"][0]["tile_m"] = 64;
  j["entries"][0]["tile_n"] = 256;
  j["entries"][0]["warps_m"] = 1;
  j["entries"][0]["wgmma"] = true;
  EXPECT_TRUE(parse_config_table(j.dump(), "ok.json").entries.at(0).wgmma);
  j["entries"][0]["wgmma_rs"] = true;
  EXPECT_TRUE(parse_config_table(j.dump(), "ok.json").entries.at(0).wgmma_rs);
  EXPECT_TRUE(parse_config_table(j.dump(), "ok.json").entries.at(0).stagger_warpgroups);
  j["entries"][0]["stagger_warpgroups"] = false;
  const MoeStage2TableEntry in_step = parse_config_table(j.dump(), "ok.json").entries.at(0);
  EXPECT_FALSE(in_step.stagger_warpgroups);
  EXPECT_FALSE(in_step.apply_tiles({64 * 4, 512, 8, 2}).stagger_warpgroups);
  j["entries"][0]["warp_specialized"] = true;
  const MoeStage2TableEntry ws = parse_config_table(j.dump(), "ok.json").entries.at(0);
  EXPECT_TRUE(ws.warp_specialized);
  EXPECT_TRUE(ws.apply_tiles({64 * 4, 512, 8, 2}).warp_specialized);
}

TEST(ConfigTable, MalformedTableNamesTheField) {
  auto expect_bad = [](const std::string& text, std::initializer_list<std::string> parts) {
    SCOPED_TRACE(text);
    expect_throw_with<std::invalid_argument>([&] { parse_config_table(text, "top.json"); }, parts);
  };
  expect_bad("{\"format\": ", {"top.json", "not valid JSON"});
  expect_bad("", {"top.json", "not valid JSON"});
  expect_bad("[1, 2]", {"top.json", "JSON object"});
  expect_bad(R"({"version": 1, "entries": []})", {"top.json", "'format'", "missing"});
  expect_bad(R"({"format": "other", "version": 1, "entries": []})", {"'format'", "tilejit-moe-stage2-configs"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "entries": []})", {"'version'", "missing"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "version": 2, "entries": []})", {"'version'", "must be 1"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "version": 1})", {"'entries'", "missing"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "version": 1, "entries": {}})", {"'entries'", "array"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "version": 1, "entries": [], "extra": 1})",
             {"'extra'", "not a field"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "version": 1, "comment": 3, "entries": []})",
             {"'comment'", "string"});
  expect_bad(R"({"format": "tilejit-moe-stage2-configs", "version": 1, "entries": [7]})",
             {"entry 0", "object"});
  // A config each field allows but the kernel does not: store mode is not in a table, so the
  // cross-field check is k_batch against inter_dim.
  json j = valid_table();
  j["entries"][0]["inter_dim"] = 256;
  j["entries"][0]["k_batch"] = 4;
  expect_bad(j.dump(), {"entry 0", "'k_batch'"});
  // Duplicate keys: device compared without case.
  j = valid_table();
  json row = j["entries"][0];
  row["device"] = "h100";
  row["tile_n"] = 64;
  j["entries"].push_back(row);
  expect_bad(j.dump(), {"entry 1", "duplicates entry 0"});
}

TEST(ConfigTable, LoadsFilesAndNamesMissingOnes) {
  SeededRng rng;
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / fmt::format("tilejit_moe_tune_table_{}_{}", ::getpid(), rng.seed());
  fs::create_directories(dir);
  MoeStage2ConfigTable t;
  t.entries = {random_entry(*rng)};
  const std::string path = (dir / "t.json").string();
  std::ofstream(path) << config_table_json(t);
  MoeStage2ConfigTable back = load_config_table(path);
  EXPECT_EQ(back.origin, path);
  ASSERT_EQ(back.entries.size(), 1u);
  expect_same(back.entries[0], t.entries[0]);
  std::ofstream(path) << "{ not json";
  expect_throw_with<std::invalid_argument>([&] { load_config_table(path); }, {path, "not valid JSON"});
  expect_throw_with<std::invalid_argument>([&] { load_config_table((dir / "none.json").string()); },
                                           {"none.json", "cannot open"});
  fs::remove_all(dir);
}

TEST(ConfigTable, MergeReplacesSameKeysAndKeepsOthers) {
  SeededRng rng;
  MoeStage2ConfigTable base, update;
  for (int i = 0; i < 6; ++i) {
    MoeStage2TableEntry e = random_entry(*rng);
    e.device = "Card";
    e.shape = {128, 512, 8, 2};
    e.max_tokens = 1 << i;  // 1..32
    e.k_batch = 1;
    base.entries.push_back(e);
  }
  for (int i = 3; i < 9; ++i) {  // 8..256: three replace, three are new
    MoeStage2TableEntry e = base.entries[0];
    e.device = i % 2 ? "CARD" : "Card";  // the same device, other case
    e.max_tokens = 1 << i;
    e.tile_m = 16, e.tile_n = 256, e.warps_m = 1, e.shared_mainloop = e.wgmma = e.wgmma_rs = e.token_owner = false;  // a valid row
    e.stagger_warpgroups = true;
    update.entries.push_back(e);
  }
  MoeStage2ConfigTable m = merge_config_tables(base, update);
  ASSERT_EQ(m.entries.size(), 9u);
  for (int i = 0; i < 9; ++i) {
    int found = 0;
    for (const auto& e : m.entries)
      if (e.max_tokens == 1 << i) {
        ++found;
        EXPECT_EQ(e.tile_n, i < 3 ? base.entries[size_t(i)].tile_n : 256) << "bucket " << (1 << i);
      }
    EXPECT_EQ(found, 1) << "bucket " << (1 << i);
  }
  EXPECT_NO_THROW(parse_config_table(config_table_json(m), "merged"));  // no duplicate keys
}

TEST(ConfigTable, BuiltInTableHoldsBothModelsOnH100) {
  const MoeStage2ConfigTable& t = builtin_config_table();
  EXPECT_EQ(t.origin, "built-in");
  for (const char* model : {"gpt_oss", "deepseek_r1"}) {
    MoeStage2Shape shape = *moe_stage2_model_shape(model);
    std::vector<int> buckets;
    for (const auto& e : t.entries)
      if (e.shape == shape && e.device == "H100") buckets.push_back(e.max_tokens);
    std::sort(buckets.begin(), buckets.end());
    EXPECT_EQ(buckets, (std::vector<int>{1, 4, 8, 16, 32, 64, 128, 256, 1024, 4096})) << model;
  }
  // Rows marked "heuristic" hold what the heuristic picks on an H100 (132 SMs) at the bucket bound.
  for (const auto& e : t.entries) {
    if (e.source != "heuristic" || e.device != "H100") continue;
    MoeStage2Config h = heuristic_moe_stage2(e.shape, e.max_tokens, 132);
    EXPECT_EQ(e.tile_m, h.tile_m) << e.max_tokens;
    EXPECT_EQ(e.tile_n, h.tile_n) << e.max_tokens;
    EXPECT_EQ(e.k_batch, h.k_batch) << e.max_tokens;
    EXPECT_EQ(e.unroll, h.unroll) << e.max_tokens;
  }
  EXPECT_FALSE(moe_stage2_model_shape("llama").has_value());
}

}  // namespace
}  // namespace tilejit::kernels
