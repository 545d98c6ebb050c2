// GEMM configuration checks, names and the wave split of a block tile.
#include "kernels/gemm/config.h"

#include <fmt/format.h>

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

/// Estimated 32-bit registers per lane: accumulators plus two stages of A and B operands.
int estimated_registers(const WaveSplit& s, int tile_k, int lanes) {
  int acc = s.rows * s.cols / lanes;
  int operands = (s.rows + s.cols) * tile_k * 2 / 4 / lanes;
  return acc + 2 * operands;
}

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
  if (tile_m * tile_n < 1024 || tile_m * tile_n > 16384)
    fail(fmt::format("tile_m * tile_n must be in [1024, 16384] (256 threads of MMA tiles), got {}x{}", tile_m, tile_n));
  if (out != GemmOut::F32 && out != GemmOut::BF16) fail("out must be GemmOut::F32 or GemmOut::BF16");
  for (const TargetShape& t : kTargets) {
    WaveSplit s = gemm_wave_split(tile_m, tile_n, t.waves, t.mma_n, t.a_loads);
    if (!s.wm) fail(fmt::format("tile_m x tile_n = {}x{} does not split over the {} waves of {}", tile_m, tile_n, t.waves, t.name));
    int regs = estimated_registers(s, tile_k, t.lanes);
    if (regs > 168)
      fail(fmt::format("tile_m x tile_n x tile_k = {}x{}x{} needs about {} registers per lane on {} (at most 168)", tile_m,
                       tile_n, tile_k, regs, t.name));
  }
}

std::string BF16GemmConfig::kernel_name() const {
  return fmt::format("gemm_bf16_m{}n{}k{}_{}", tile_m, tile_n, tile_k, out_name(out));
}

void A16W4GemmConfig::validate() const {
  auto fail = [](const std::string& m) { throw std::invalid_argument("A16W4GemmConfig: " + m); };
  if (!one_of(tile_m, {16, 32})) fail(fmt::format("tile_m must be 16 or 32, got {}", tile_m));
  if (!one_of(tile_n, {64, 128, 256})) fail(fmt::format("tile_n must be 64, 128 or 256, got {}", tile_n));
  if (out != GemmOut::F32 && out != GemmOut::BF16) fail("out must be GemmOut::F32 or GemmOut::BF16");
}

std::string A16W4GemmConfig::kernel_name() const {
  return fmt::format("gemm_a16w4_m{}n{}_{}", tile_m, tile_n, out_name(out));
}

}  // namespace tilejit::kernels
