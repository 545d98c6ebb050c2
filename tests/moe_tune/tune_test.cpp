// The stage-2 tuner as a library on the emulator: the candidate set, one tuning run at a tiny shape,
// and the table it makes read back by the chooser.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <nlohmann/json.hpp>
#include <tuple>

#include "backend/emulator/emulator.h"
#include "tests/common/seeded_rng.h"
#include "tools/cli/tune_moe_stage2.h"

namespace tilejit::cli {
namespace {

using kernels::MoeStage2Config;
using kernels::MoeStage2Shape;
using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;
// tile_m, tile_n, k_batch, unroll used (token owners: asked for), warps_m, shared, wgmma, wgmma_rs,
// stagger_warpgroups, token_owner, warp_specialized
using Tiles = std::tuple<int, int, int, int, int, bool, bool, bool, bool, bool, bool>;


/// The candidate grid recomputed independently.
std::set<Tiles> expected_candidates(const MoeStage2Shape& s, bool quick) {
  std::set<Tiles> out;
  const int chunks = s.inter_dim / 128;
  for (int tm : {16, 32, 64, 96, 128})
    for (int tn : {64, 128, 256, 512}) {
      if (quick && tn != (s.model_dim >= 128 ? 128 : 64)) continue;
      if (tn != 64 && tn / 2 >= s.model_dim) continue;
      for (int kb : {1, 2, 3, 4, 6, 8, 12, 16, 24}) {
        if (chunks % kb) continue;
        for (int u : {1, 2, 4}) {
          if (quick && u != 2) continue;
          int slice = chunks / kb, used = 1;  // the largest of u, 2, 1 that divides the slice
          for (int c : {4, 2})
            if (c <= u && slice % c == 0) { used = c; break; }
          for (int wm : {1, 2, 4})
            if (tm / 16 % wm == 0 && (!quick || wm == 1)) {
              if (tm <= 64 && tm * tn <= 8192) out.insert({tm, tn, kb, used, wm, false, false, false, true, false, false});
              if (!quick && tm == 16 && (slice == 3 || slice == 6 || slice == 8))
                out.insert({tm, tn, kb, slice, wm, false, false, false, true, false, false});
              // Shared main loop: LDS = epilogue tile + 4 A stages + 2 B stages of 64 K bf16.
              const int lds = tm * tn * 4 + (4 * tm + 2 * tn) * 128;
              if (!quick && tm >= 32 && tn >= 128 && kb <= 4 && lds <= 160 * 1024) {
                out.insert({tm, tn, kb, 1, wm, true, false, false, true, false, false});
                if (((tm == 64 && tn <= 256) || (tm == 128 && tn == 128)) && wm == 1)
                  out.insert({tm, tn, kb, 1, wm, true, true, false, true, false, false});  // wgmma
                if (wm == 1)
                  for (bool stagger : {true, false}) out.insert({tm, tn, kb, 1, wm, true, true, true, stagger, false, false});  // wgmma_rs
                if (wm == 1 && 8 * (tm * 128 + tn * 36) + 8 * 16 <= 227 * 1024)  // warp-specialized: an 8-stage ring
                  out.insert({tm, tn, kb, 1, wm, true, true, true, false, false, true});
              }
            }
        }
      }
    }
  // Token owners where the token's rows and 8 waves' column sums fit 160 KiB of shared memory.
  for (int tn : {16, 32, 64})
    for (int u : {2, 4, 6})
      if ((!quick || (tn == 16 && u == 4) || (tn == 32 && u == 2)) && s.topk * s.inter_dim * 2 + 8 * tn * 4 <= 160 * 1024)
        out.insert({16, tn, 1, u, 1, false, false, false, true, true, false});
  return out;
}

TEST(TuneCandidates, CoverTheGridOnce) {
  SeededRng rng;
  for (int probe = 0; probe < 40; ++probe) {
    MoeStage2Shape s{int(32 * uniform(*rng, 1, 120)), int(256 * uniform(*rng, 1, 16)), int(uniform(*rng, 1, 256)), 1};
    s.topk = int(uniform(*rng, 1, std::min(s.experts, 8)));
    for (bool quick : {false, true}) {
      SCOPED_TRACE(fmt::format("N={} K={} quick={}", s.model_dim, s.inter_dim, quick));
      std::vector<MoeStage2Config> got = moe_stage2_tune_candidates(s, quick);
      std::set<Tiles> got_set;
      std::set<std::string> names;
      for (const MoeStage2Config& c : got) {
        EXPECT_NO_THROW(c.validate());
        EXPECT_EQ(c.model_dim, s.model_dim);
        EXPECT_EQ(c.inter_dim, s.inter_dim);
        EXPECT_EQ(c.experts, s.experts);
        EXPECT_EQ(c.topk, s.topk);
        got_set.insert({c.tile_m, c.tile_n, c.k_batch, c.token_owner ? c.unroll : c.unroll_for(c.slice_k() / 128), c.warps_m,
                        c.shared_mainloop, c.wgmma, c.wgmma_rs, c.stagger_warpgroups, c.token_owner, c.warp_specialized});
        EXPECT_TRUE(names.insert(c.kernel_name()).second) << "twice: " << c.kernel_name();
      }
      EXPECT_EQ(got_set, expected_candidates(s, quick));
      EXPECT_EQ(got.size(), got_set.size());
    }
  }
}

// --shared-only / --no-wgmma: the measured set is the filtered grid plus the heuristic's config.
TEST(Tune, SharedOnlyAndNoWgmmaFilterTheCandidates) {
  SeededRng rng;
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a});
  MoeStage2TuneOptions o;
  o.shape = {256, 256, 4, 2};
  o.tokens = {int(uniform(*rng, 20, 40))};
  o.reps = 1;
  o.warmup = 0;
  o.check = false;
  o.seed = rng.seed();
  o.shared_only = true;
  o.wgmma = uniform(*rng, 0, 1) == 1;
  SCOPED_TRACE(fmt::format("wgmma {}", o.wgmma));
  MoeStage2TuneResult r = tune_moe_stage2(*dev, o);
  std::set<std::string> want, got;
  for (const MoeStage2Config& c : moe_stage2_tune_candidates(o.shape, false))
    if (c.shared_mainloop && (o.wgmma || !c.wgmma)) want.insert(c.kernel_name());
  ASSERT_FALSE(want.empty());
  size_t tm128 = 0;
  for (const MoeStage2TuneMeasurement& m : r.measurements) {
    EXPECT_GT(m.median_us, 0.0);
    if (m.heuristic && !m.config.shared_mainloop) continue;  // always measured, the speedup's reference
    got.insert(m.config.kernel_name());
    tm128 += m.config.tile_m == 128;
  }
  EXPECT_EQ(got, want);
  EXPECT_GT(tm128, 0u) << "128-row tiles are candidates of the shared main loop";
}

// With a table to merge into, the config of the row a token count would replace is measured too
// (flagged incumbent), even when the filters leave it out: a --shared-only run competes with the
// register-loop row it may replace. Other keys' rows are not measured.
TEST(Tune, TheRowAMergeReplacesIsMeasuredToo) {
  SeededRng rng;
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a});
  MoeStage2TuneOptions o;
  o.shape = {256, 256, 4, 2};
  const int tokens = int(uniform(*rng, 20, 40));
  o.tokens = {tokens};
  o.reps = 1;
  o.warmup = 0;
  o.check = false;
  o.seed = rng.seed();
  o.shared_only = true;
  o.device_key = "Card";
  kernels::MoeStage2ConfigTable table;
  kernels::MoeStage2TableEntry row;
  row.device = "card";  // keys match ignoring case, as in the merge
  row.shape = o.shape;
  row.max_tokens = tokens;
  row.tile_m = 16;
  row.tile_n = 64;
  row.k_batch = 2;
  row.unroll = 1;  // a register-loop config: not a --shared-only candidate, not the heuristic's
  kernels::MoeStage2TableEntry other = row;
  other.device = "Other";
  other.tile_n = 128;
  table.entries = {row, other};
  o.incumbent = table;
  const std::string want = row.apply_tiles({256, 256, 4, 2}).kernel_name();
  ASSERT_NE(want, kernels::heuristic_moe_stage2(o.shape, tokens, dev->compute_units()).kernel_name());
  MoeStage2TuneResult r = tune_moe_stage2(*dev, o);
  size_t flagged = 0, measured = 0;
  for (const MoeStage2TuneMeasurement& m : r.measurements) {
    flagged += m.incumbent;
    if (m.config.kernel_name() == want) {
      ++measured;
      EXPECT_TRUE(m.incumbent);
    }
    if (m.config.kernel_name() == other.apply_tiles({256, 256, 4, 2}).kernel_name())
      EXPECT_TRUE(m.heuristic) << "another device's row was measured";
  }
  EXPECT_EQ(measured, 1u);
  EXPECT_EQ(flagged, 1u);
}

TEST(Tune, SharedOnlyWithoutSharedCandidatesIsAnError) {
  auto dev = emulator::make_emulator_device({.target = Target::Sm90a});
  MoeStage2TuneOptions o;
  o.tokens = {8};
  o.shared_only = true;
  o.shape = {256, 256, 4, 2};
  o.quick = true;  // the register main loop only
  expect_throw_with<std::invalid_argument>([&] { tune_moe_stage2(*dev, o); }, {"no candidate configs", "--quick"});
  o.shape = {64, 256, 4, 2};  // too narrow for tile_n 128
  o.quick = false;
  expect_throw_with<std::invalid_argument>([&] { tune_moe_stage2(*dev, o); }, {"no candidate configs", "N=64"});
}

TEST(Tune, TinyShapeOnTheEmulatorMakesATableTheChooserReads) {
  SeededRng rng;
  auto dev = emulator::make_emulator_device({.target = uniform(*rng, 0, 1) ? Target::Sm90a : Target::Gfx950});
  MoeStage2TuneOptions o;
  o.shape = {64, 256, 4, 2};
  const int t1 = int(uniform(*rng, 1, 3)), t2 = int(uniform(*rng, 4, 9));
  o.tokens = {t2, t1};
  o.reps = 2;
  o.warmup = 1;
  o.seed = rng.seed();
  o.device_key = "emulator";
  std::vector<std::string> lines;
  o.progress = [&](const std::string& l) { lines.push_back(l); };
  MoeStage2TuneResult r = tune_moe_stage2(*dev, o);

  EXPECT_EQ(r.device_name, dev->name());
  const size_t per_tokens = moe_stage2_tune_candidates(o.shape, false).size();
  ASSERT_EQ(r.measurements.size(), 2 * per_tokens);
  ASSERT_EQ(r.best.size(), 2u);
  ASSERT_EQ(r.heuristic.size(), 2u);
  ASSERT_EQ(r.table.entries.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const int tokens = i == 0 ? t1 : t2;
    // Every candidate agrees with the heuristic's output and has a time.
    size_t n = 0;
    double best_us = 1e300;
    for (const MoeStage2TuneMeasurement& m : r.measurements) {
      if (m.tokens != tokens) continue;
      ++n;
      EXPECT_FALSE(m.failed) << m.config.tiles_text() << " rel " << m.rel_error;
      EXPECT_LT(m.rel_error, 2e-2);
      EXPECT_GT(m.median_us, 0.0);
      EXPECT_LE(m.min_us, m.median_us);
      best_us = std::min(best_us, m.median_us);
    }
    EXPECT_EQ(n, per_tokens);
    const MoeStage2TuneMeasurement& best = r.measurements[r.best[i]];
    const MoeStage2TuneMeasurement& h = r.measurements[r.heuristic[i]];
    EXPECT_EQ(best.tokens, tokens);
    EXPECT_EQ(best.median_us, best_us);
    EXPECT_TRUE(h.heuristic);
    EXPECT_EQ(h.config.kernel_name(), kernels::heuristic_moe_stage2(o.shape, tokens, dev->compute_units()).kernel_name());
    const kernels::MoeStage2TableEntry& e = r.table.entries[i];
    EXPECT_EQ(e.device, "emulator");
    EXPECT_EQ(e.device_name, dev->name());
    EXPECT_EQ(e.shape, o.shape);
    EXPECT_EQ(e.max_tokens, tokens);
    EXPECT_EQ(e.source, "tuned");
    EXPECT_EQ(e.apply_tiles(best.config).kernel_name(), best.config.kernel_name());
    EXPECT_EQ(std::tie(e.tile_m, e.tile_n, e.k_batch, e.unroll, e.warps_m, e.shared_mainloop, e.wgmma, e.wgmma_rs),
              std::tie(best.config.tile_m, best.config.tile_n, best.config.k_batch, best.config.unroll,
                       best.config.warps_m, best.config.shared_mainloop, best.config.wgmma, best.config.wgmma_rs));
  }
  EXPECT_FALSE(lines.empty());
  const std::string report = moe_stage2_tune_report(r);
  EXPECT_NE(report.find("speedup"), std::string::npos) << report;
  EXPECT_NE(report.find(r.measurements[r.best[0]].config.tiles_text()), std::string::npos) << report;

  // Written and read back, the chooser serves each bucket with the tuned tiles.
  kernels::MoeStage2ConfigTable back = kernels::parse_config_table(kernels::config_table_json(r.table), "tuned.json");
  for (int tokens = 1; tokens <= t2 + 3; ++tokens) {
    kernels::MoeStage2Choice c = kernels::choose_moe_stage2(back, o.shape, tokens, dev->name(), dev->compute_units());
    ASSERT_TRUE(c.from_table) << c.reason;
    const MoeStage2TuneMeasurement& best = r.measurements[r.best[tokens <= t1 ? 0 : 1]];
    EXPECT_EQ(c.config.kernel_name(), best.config.kernel_name()) << "tokens " << tokens;
  }
  EXPECT_NO_THROW(nlohmann::json::parse(moe_stage2_tune_results_json(r)));
}

TEST(Tune, RejectsBadOptions) {
  auto dev = emulator::make_emulator_device();
  MoeStage2TuneOptions o;
  o.shape = {64, 256, 4, 2};
  o.reps = 1;
  expect_throw_with<std::invalid_argument>([&] { tune_moe_stage2(*dev, o); }, {"no token counts"});
  o.tokens = {0, 3};
  expect_throw_with<std::invalid_argument>([&] { tune_moe_stage2(*dev, o); }, {"token counts", "got 0"});
  o.tokens = {1 << 24};
  expect_throw_with<std::invalid_argument>([&] { tune_moe_stage2(*dev, o); }, {"token counts"});
  o.tokens = {1};
  o.reps = 0;
  expect_throw_with<std::invalid_argument>([&] { tune_moe_stage2(*dev, o); }, {"reps"});
}

}  // namespace
}  // namespace tilejit::cli
