// GEMM configuration checks, names and the wave split of a block tile.
#include "kernels/gemm/config.h"

#include <fmt/format.h>

#include <algorithm>
#include <algorithm>
#include <stdexcept>

namespace tilejit::kernels {

namespace {

const char* out_name(GemmOut o) { return o == GemmOut::F32 ? "f32" : "bf16"; }

bool one_of(int v, std::initializer_list<int> allowed) {
  for (int a : allowed)
    if (v == a) return true;
  return false;
}

/// The two targets' MMA geometry: waves per block, MMA columns, 16-byte A loads per 16-row tile.
struct TargetShape {
  const char* name;
  int waves, mma_n, a_loads, lanes;
};
constexpr TargetShape kTargets[] = {{"gfx950", 4, 16, 1, 64}, {"sm_90a", 8, 8, 2, 32}};

/// Estimated 32-bit registers per lane: the accumulators, the MMA operands held at once (gfx950:
/// every k-step one wave takes from a stage; sm_90a: two k-steps, double-buffered), and on
/// gfx950 the next stage's chunks held in registers.
int estimated_registers(const WaveSplit& s, int tile_m, int tile_n, int tile_k, int k_groups, const TargetShape& t) {
  const bool amd = t.lanes == 64;
  const int mma_k = amd ? 32 : 16;
  int acc = s.rows * s.cols / t.lanes;
  const int a_regs = 4, b_regs = amd ? 4 : 2;  // 32-bit registers per A / B operand
  // gfx950 reads every k-step of a stage at once; sm_90a double-buffers one k-step ahead.
  const int steps = tile_k / mma_k / k_groups;
  int fragments = (s.m_tiles * a_regs + s.n_tiles * b_regs) * (amd ? steps : std::min(steps, 2));
  int in_flight = amd ? (tile_m + tile_n) * tile_k * 2 / 4 / kGemmThreads : 0;
  return acc + fragments + in_flight;
}

constexpr int kMaxRegisters = 200;  // ptxas gave 198-228 for the 200-estimate plans, no spills

/// Bytes of shared memory one pipeline stage of A and B takes.
int stage_bytes(int tile_m, int tile_n, int tile_k) { return (tile_m + tile_n) * tile_k * 2; }

constexpr int kMaxShared[] = {163840, 232448};  // gfx950 LDS, sm_90 dynamic shared memory per block

}  // namespace

WaveSplit gemm_wave_split(int tile_m, int tile_n, int waves, int mma_n, int a_loads_per_mtile) {
  WaveSplit best;
  double best_score = -1;
  for (int wm = 1; wm <= waves; ++wm) {
    if (waves % wm) continue;
    int wn = waves / wm;
    if (tile_m % (16 * wm) || tile_n % (mma_n * wn)) continue;
    WaveSplit s{wm, wn, tile_m / wm, tile_n / wn, tile_m / wm / 16, tile_n / wn / mma_n};
    double score = double(s.m_tiles * s.n_tiles) / double(s.m_tiles * a_loads_per_mtile + s.n_tiles);
    if (score > best_score) best = s, best_score = score;
  }
  return best;
}

void BF16GemmConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("BF16GemmConfig: " + m); };
  if (!one_of(tile_m, {16, 32, 64, 128})) fail(fmt::format("tile_m must be 16, 32, 64 or 128, got {}", tile_m));
  if (!one_of(tile_n, {32, 64, 128, 256})) fail(fmt::format("tile_n must be 32, 64, 128 or 256, got {}", tile_n));
  if (!one_of(tile_k, {32, 64, 128})) fail(fmt::format("tile_k must be 32, 64 or 128, got {}", tile_k));
  if (tile_m * tile_n < 1024 || tile_m * tile_n > 32768)
    fail(fmt::format("tile_m * tile_n must be in [1024, 32768] (256 threads of MMA tiles), got {}x{}", tile_m, tile_n));
  if (out != GemmOut::F32 && out != GemmOut::BF16) fail("out must be GemmOut::F32 or GemmOut::BF16");
  if (stages != 0 && (stages < 2 || stages > 8)) fail(fmt::format("stages must be 0 (per target) or 2..8, got {}", stages));
  for (const TargetShape& t : kTargets) {
    const bool amd = t.lanes == 64;
    WaveSplit s = gemm_wave_split(tile_m, tile_n, t.waves, t.mma_n, t.a_loads);
    if (!s.wm) fail(fmt::format("tile_m x tile_n = {}x{} does not split over the {} waves of {}", tile_m, tile_n, t.waves, t.name));
    BF16GemmPlan plan = bf16_gemm_plan(*this, amd);
    if (!plan.k_groups)
      fail(fmt::format("tile_m x tile_n x tile_k = {}x{}x{} needs about {} registers per lane on {} (at most {})", tile_m,
                       tile_n, tile_k, estimated_registers(s, tile_m, tile_n, tile_k, 1, t), t.name, kMaxRegisters));
    int shared = bf16_gemm_stages(*this, amd) * stage_bytes(tile_m, tile_n, tile_k) +
                 (plan.k_groups - 1) * tile_m * tile_n * 4;  // partial sums of the other K groups
    if (shared > kMaxShared[amd ? 0 : 1])
      fail(fmt::format("stages x (tile_m + tile_n) x tile_k needs {} bytes of shared memory on {} (at most {})", shared,
                       t.name, kMaxShared[amd ? 0 : 1]));
  }
}

BF16GemmPlan bf16_gemm_plan(const BF16GemmConfig& config, bool gfx950) {
  const TargetShape& t = kTargets[gfx950 ? 0 : 1];
  const int steps = config.tile_k / (gfx950 ? 32 : 16);
  BF16GemmPlan best;
  double best_score = -1;
  for (int groups : {1, 2}) {
    if (t.waves % groups || steps % groups) continue;
    WaveSplit s = gemm_wave_split(config.tile_m, config.tile_n, t.waves / groups, t.mma_n, t.a_loads);
    if (!s.wm) continue;
    int regs = estimated_registers(s, config.tile_m, config.tile_n, config.tile_k, groups, t);
    if (regs > kMaxRegisters) continue;
    // MMAs per 16-byte operand load (shared-memory traffic per MMA); ties keep fewer groups.
    double score = double(s.m_tiles * s.n_tiles) / double(s.m_tiles * t.a_loads + s.n_tiles);
    if (score > best_score * 1.0001) best = {s, groups, regs}, best_score = score;
  }
  return best;
}

int bf16_gemm_stages(const BF16GemmConfig& config, bool gfx950) {
  if (gfx950) return 2;
  if (config.stages) return config.stages;
  int fit = 98304 / stage_bytes(config.tile_m, config.tile_n, config.tile_k);
  return fit < 2 ? 2 : fit > 4 ? 4 : fit;
}

std::string BF16GemmConfig::kernel_name() const {
  std::string name = fmt::format("gemm_bf16_m{}n{}k{}_{}", tile_m, tile_n, tile_k, out_name(out));
  return stages ? fmt::format("{}_s{}", name, stages) : name;
}

void A16W4GemmConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("A16W4GemmConfig: " + m); };
  if (!one_of(tile_m, {16, 32})) fail(fmt::format("tile_m must be 16 or 32, got {}", tile_m));
  if (!one_of(tile_n, {32, 64, 128, 256})) fail(fmt::format("tile_n must be 32, 64, 128 or 256, got {}", tile_n));
  if (out != GemmOut::F32 && out != GemmOut::BF16) fail("out must be GemmOut::F32 or GemmOut::BF16");
  if (!one_of(k_split, {1, 2, 4, 8})) fail(fmt::format("k_split must be 1, 2, 4 or 8, got {}", k_split));
  if (!one_of(unroll, {1, 2, 4})) fail(fmt::format("unroll must be 1, 2 or 4, got {}", unroll));
  for (const TargetShape& t : kTargets) {
    const int group_waves = t.waves / std::min(k_split, t.waves);
    const int shared = (t.waves / group_waves - 1) * tile_m * tile_n * 4;
    if (shared > kMaxShared[t.lanes == 64 ? 0 : 1])
      fail(fmt::format("k_split {} x tile_m x tile_n = {}x{} parks {} bytes of partial sums in shared memory on {} (at most {})",
                       k_split, tile_m, tile_n, shared, t.name, kMaxShared[t.lanes == 64 ? 0 : 1]));
    if (tile_n % (group_waves * t.mma_n))
      fail(fmt::format("tile_n {} with k_split {} leaves the {} waves of a group of {} no whole {}-column MMA tiles",
                       tile_n, k_split, group_waves, t.name, t.mma_n));
  }
}

std::string A16W4GemmConfig::kernel_name() const {
  std::string name = fmt::format("gemm_a16w4_m{}n{}_{}", tile_m, tile_n, out_name(out));
  if (k_split != 1) name += fmt::format("_ks{}", k_split);
  if (unroll != 1) name += fmt::format("_u{}", unroll);
  return name;
}

BF16GemmConfig bf16_gemm_choose(int M, int N, int K, int compute_units, GemmOut out) {
  (void)K;  // any K works with tile_k 32 (the API needs K % 32 == 0)
  BF16GemmConfig cfg;
  cfg.out = out;
  const int64_t wide = ((int64_t(M) + 127) / 128) * ((int64_t(N) + 255) / 256);
  if (wide >= int64_t(compute_units)) cfg.tile_n = 256;
  return cfg;
}

A16W4GemmConfig a16w4_gemm_choose(int M, int N, int K, int compute_units, GemmOut out) {
  A16W4GemmConfig cfg;
  cfg.out = out;
  cfg.tile_m = M > 16 ? 32 : 16;
  const int64_t row_blocks = (int64_t(M) + cfg.tile_m - 1) / cfg.tile_m;
  auto blocks = [&](int tile_n) { return row_blocks * ((int64_t(N) + tile_n - 1) / tile_n); };
  // Enough blocks for every compute unit twice over with tile_n 128 (or too little K to split):
  // the plain tiling.
  if (blocks(128) >= 2 * int64_t(compute_units) || K < 1024) return cfg;
  // Otherwise the widest tile_n that still gives a block per compute unit (at least 32), and
  // as many K groups as keep 4 MMA columns tiles per warp on sm_90a (H100: M = 1 and 16 at
  // N = K = 4096 ran 2.4x faster with tile_n 32 and 8 groups than with the plain tiling).
  cfg.tile_n = 32;
  for (int tn : {128, 64})
    if (blocks(tn) >= int64_t(compute_units)) {
      cfg.tile_n = tn;
      break;
    }
  cfg.k_split = 256 / cfg.tile_n;
  return cfg;
}

}  // namespace tilejit::kernels
