// The MoE stage-2 tuner behind `tilejit tune moe-stage2`: times candidate configs per token count
// on a device and makes the config table the chooser reads.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "kernels/moe/stage2/chooser.h"

namespace tilejit::cli {

/// What to tune and how to measure.
struct MoeStage2TuneOptions {
  kernels::MoeStage2Shape shape;
  std::vector<int> tokens;  ///< token counts; each becomes a bucket upper bound of the table
  int reps = 30;            ///< timed launches per candidate (median)
  int warmup = 3;           ///< untimed launches per candidate before timing
  bool quick = false;       ///< tile_n 128 (64 when N < 128) and unroll 2 only
  bool check = true;        ///< run each candidate once more and compare its output with the heuristic's
  bool wgmma = true;        ///< include the wgmma candidates (sm_90a; the shared main loop elsewhere)
  bool shared_only = false; ///< only the shared main loop candidates (with and without wgmma)
  std::string device_key;   ///< the table rows' "device" (empty: the full device name)
  /// The table the result will be merged into (--merge): where it has a row for this device key,
  /// shape and token count, that row's config is measured too, so that a run over fewer candidates
  /// (shared_only, !wgmma, quick) never replaces a row by a config slower in the same run.
  std::optional<kernels::MoeStage2ConfigTable> incumbent;
  uint32_t seed = 1;        ///< random inputs (routing, activations, weights)
  /// Bytes written to a scratch buffer before every timed launch so the L2 is cold; -1: by device
  /// kind (256 MiB CUDA, 512 MiB HIP, none on the emulator).
  int64_t flush_bytes = -1;
  /// Progress lines (empty: silent).
  std::function<void(const std::string&)> progress;
};

/// One timed candidate at one token count.
struct MoeStage2TuneMeasurement {
  int tokens = 0;
  kernels::MoeStage2Config config;
  double median_us = 0;
  double min_us = 0;
  bool heuristic = false;  ///< the heuristic's choice for this token count
  bool incumbent = false;  ///< the config of the row of options.incumbent this token count replaces
  bool failed = false;     ///< its output disagreed with the heuristic's (excluded from the choice)
  double rel_error = 0;    ///< relative L2 difference from the heuristic's output (when checked)
};

/// Everything one tuning run measured.
struct MoeStage2TuneResult {
  std::string device_name;
  std::vector<MoeStage2TuneMeasurement> measurements;
  /// Per token count (in the order of options.tokens after sorting): index of the best and of the heuristic measurement.
  std::vector<size_t> best, heuristic;
  kernels::MoeStage2ConfigTable table;  ///< one "tuned" row per token count
};

/// The candidate configs for a shape (default epilogue): tile_m {16, 32, 64, 128} x tile_n {64, 128,
/// 256, 512} x k_batch dividing K/128 (up to 24) x unroll {1, 2, 4} x warps_m for the register main
/// loop (tile_m <= 64, at most 8192 tile elements; 16-row tiles also unroll whole slices of 3, 6 or
/// 8 chunks), the shared main loop for tile_m >= 32, tile_n >= 128, k_batch <= 4 within gfx950's
/// LDS, and with tile_m 64 and tile_n 128 or 256, or 128 x 128, and warps_m 1 the same with wgmma,
/// and every warps_m 1 shared tile with wgmma_rs. tile_n values that only add
/// empty columns (tile_n / 2 >= N) are left out, and configs that compile to the same kernel
/// (unroll capped by the slice) appear once. Token owners (timed up to 16 tokens): tile_n 16, 32
/// and 64 with unroll 2, 4 and 6, where the token's rows fit shared memory. `quick`: tile_n 128
/// (64 when N < 128), unroll 2 and the register main loop, and the owners tn16 u4 and tn32 u2.
std::vector<kernels::MoeStage2Config> moe_stage2_tune_candidates(const kernels::MoeStage2Shape& shape, bool quick);

/// Compiles every candidate (in parallel) and times each at every token count; see MoeStage2TuneOptions.
/// Throws std::invalid_argument for bad options (no tokens, a token count outside [1, 2^24), reps < 1,
/// filters that leave no candidate).
MoeStage2TuneResult tune_moe_stage2(Device& device, const MoeStage2TuneOptions& options);


/// The summary table: per token count the best config and time, the heuristic's, and the speedup.
std::string moe_stage2_tune_report(const MoeStage2TuneResult& result);

/// Every measurement as JSON text (for --results).
std::string moe_stage2_tune_results_json(const MoeStage2TuneResult& result);

}  // namespace tilejit::cli
