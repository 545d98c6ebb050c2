// Choosing MoE stage-2 configs per (device, shape, token bucket) from a JSON table, and compiling
// the configs one model needs in parallel at startup.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/moe/stage2/api.h"
#include "kernels/moe/stage2/config.h"

namespace tilejit::kernels {

/// The model shape of a stage-2 kernel: what a config table is keyed by (besides device and tokens).
struct MoeStage2Shape {
  int model_dim = 0;  ///< N
  int inter_dim = 0;  ///< K
  int experts = 0;    ///< E
  int topk = 0;
  bool operator==(const MoeStage2Shape&) const = default;
};

/// The epilogue options of a config: chosen by the model, not by the table.
struct MoeStage2Epilogue {
  OutDtype out_dtype = OutDtype::BF16;
  bool has_bias = false;
  bool doweight = true;
  bool accumulate = true;
};

/// The known model shapes: "gpt_oss" (N=3072 K=3072 E=128 topk=4) and "deepseek_r1"
/// (N=7168 K=1024 E=384 topk=8); std::nullopt for another name.
std::optional<MoeStage2Shape> moe_stage2_model_shape(std::string_view name);

/// One row of a config table: for `device` and the shape, token counts up to `max_tokens`
/// (and above the next smaller bucket) use these tiles.
struct MoeStage2TableEntry {
  std::string device = "default";  ///< matched as a case-insensitive substring of Device::name(); "default": any device
  MoeStage2Shape shape;
  int max_tokens = 0;  ///< the bucket's upper bound (inclusive)
  int tile_m = 16;
  int tile_n = 128;
  int k_batch = 1;
  int unroll = 2;
  int warps_m = 1;  ///< optional in the JSON (1 when absent)
  bool shared_mainloop = false;  ///< optional in the JSON (false when absent)
  bool wgmma = false;            ///< optional in the JSON (false when absent); needs shared_mainloop
  bool wgmma_rs = false;         ///< optional in the JSON (false when absent); needs wgmma
  bool stagger_warpgroups = true;  ///< optional in the JSON (true when absent); false needs wgmma_rs
  bool token_owner = false;        ///< optional in the JSON (false when absent); tile_n 16, 32, 64 or 128 then
  bool warp_specialized = false;   ///< optional in the JSON (false when absent); MoeStage2Config::warp_specialized
  std::optional<double> median_us;  ///< the tuner's measured median (absent for heuristic rows)
  std::string source = "tuned";     ///< "tuned" (measured by `tilejit tune moe-stage2`) or "heuristic"
  std::string device_name;          ///< the full name of the device the row was measured on (informational)

  /// `base` (shape and epilogue) with this row's tiles: tile_m, tile_n, k_batch, unroll, warps_m,
  /// shared_mainloop, wgmma, wgmma_rs, stagger_warpgroups, token_owner, warp_specialized. Not validated.
  MoeStage2Config apply_tiles(MoeStage2Config base) const;
  /// The reverse: this row's tiles from `config`.
  void take_tiles(const MoeStage2Config& config);
};

/// A config table: the rows and where they came from (for messages).
struct MoeStage2ConfigTable {
  std::string origin;  ///< the file path, or "built-in"
  std::vector<MoeStage2TableEntry> entries;
};

/// Parses a table from JSON text. Strict: unknown fields, wrong types, out-of-range values, configs the
/// kernel rejects and duplicate keys are errors. Throws std::invalid_argument whose message starts with
/// `origin` and names the entry index and the field, e.g. "t.json: entry 3: field 'tile_n': ...".
MoeStage2ConfigTable parse_config_table(std::string_view json_text, const std::string& origin);

/// Reads and parses a table file; a missing or unreadable file is std::invalid_argument naming the path.
MoeStage2ConfigTable load_config_table(const std::string& path);

/// The table compiled into the library (kernels/moe/stage2/configs/builtin.json).
const MoeStage2ConfigTable& builtin_config_table();

/// The table the process uses: the file named by TILEJIT_MOE_CONFIGS when set (loaded once; an
/// error in it throws on every call), else the built-in one.
const MoeStage2ConfigTable& default_config_table();

/// The table as JSON text (the format parse_config_table reads), entries sorted by device, shape, bucket.
std::string config_table_json(const MoeStage2ConfigTable& table);

/// Whether two rows are for the same device (ignoring ASCII case), shape and max_tokens: the rows
/// a merge replaces.
bool same_table_row(const MoeStage2TableEntry& a, const MoeStage2TableEntry& b);

/// `base` with every row of `update` added; an update row replaces a base row with the same
/// device, shape and max_tokens (same_table_row).
MoeStage2ConfigTable merge_config_tables(const MoeStage2ConfigTable& base, const MoeStage2ConfigTable& update);

/// The heuristic used where a table has no row (what the H100 and H200 tables have in common):
/// with at most 16 routed rows per active expert (tokens * topk <= 16 * min(tokens * topk, E)),
/// tile_m 16, k_batch the smallest divisor of K / 128 that leaves slices of at most 4 chunks, and
/// unroll 4; with more, tile_m 32 (16 with tile_n 512), k_batch 1 and unroll 2. tile_n 256 for N >= 512, else 128 for
/// N >= 128, else 64. `tile_n` / `unroll` other than 0 replace the choice; without accumulation
/// k_batch is 1. `compute_units` is not used (kept for callers and a future grid-size rule).
MoeStage2Config heuristic_moe_stage2(const MoeStage2Shape& shape, int tokens, uint32_t compute_units,
                                     const MoeStage2Epilogue& epilogue = {}, int tile_n = 0, int unroll = 0);

/// A chosen config and why.
struct MoeStage2Choice {
  MoeStage2Config config;
  bool from_table = false;  ///< false: the heuristic
  int entry_index = -1;     ///< the table row used, or -1
  std::string reason;       ///< e.g. "built-in entry 7 (device 'H100', tokens <= 64, tuned)" or "heuristic: ..."
};

/// Picks the config for `tokens` tokens of `shape` on a device named `device_name`: among the rows
/// of the shape whose device matches (the longest matching device string wins; "default" rows only
/// when no named device matches), the row of the smallest bucket >= tokens, or the largest bucket
/// when tokens exceed them all; the heuristic when no row matches. Throws std::invalid_argument
/// when the shape or tokens (< 1) cannot run.
MoeStage2Choice choose_moe_stage2(const MoeStage2ConfigTable& table, const MoeStage2Shape& shape, int tokens,
                                  const std::string& device_name, uint32_t compute_units,
                                  const MoeStage2Epilogue& epilogue = {});

/// Options of the parallel startup compile.
struct MoeStage2PrecompileOptions {
  unsigned threads = 0;  ///< at most this many compile threads (0: hardware concurrency)
  /// Called once per distinct config when its compile ends (from the compiling thread, never
  /// concurrently), with a line like "compiled 2/5 moe_stage2_... in 812.0 ms"; empty: silent.
  std::function<void(const std::string&)> progress;
};

/// The compiled stage-2 kernels of one model, one per token bucket (buckets sharing a config
/// share one kernel).
class MoeStage2KernelSet {
 public:
  /// The kernel for `tokens`: that of the smallest bucket >= tokens, or of the largest bucket when
  /// tokens exceed them all (any config runs any token count). Throws std::invalid_argument when tokens < 1.
  const MoeStage2A16W4& for_tokens(int tokens) const;
  /// The choice made for `tokens` (same bucket rule as for_tokens).
  const MoeStage2Choice& choice_for_tokens(int tokens) const;
  /// The token buckets, ascending and distinct.
  const std::vector<int>& buckets() const { return buckets_; }
  /// The distinct compiled kernels.
  const std::vector<MoeStage2A16W4>& kernels() const { return kernels_; }
  /// Threads the compile used.
  unsigned compile_threads() const { return threads_; }
  /// Wall time of the whole parallel compile.
  double compile_ms() const { return compile_ms_; }

 private:
  friend MoeStage2KernelSet precompile_moe_stage2(Device&, const MoeStage2Shape&, const MoeStage2Epilogue&,
                                                  std::vector<int>, const MoeStage2ConfigTable&,
                                                  const MoeStage2PrecompileOptions&);
  size_t bucket_index(int tokens) const;
  std::vector<int> buckets_;
  std::vector<MoeStage2Choice> choices_;  // per bucket
  std::vector<size_t> kernel_of_bucket_;  // index into kernels_
  std::vector<MoeStage2A16W4> kernels_;
  unsigned threads_ = 0;
  double compile_ms_ = 0;
};

/// Chooses the config of every token bucket from `table` (device name and compute units from
/// `device`), and compiles the distinct ones on up to min(distinct, threads) threads. The first
/// compile error is rethrown after all threads ended. Throws std::invalid_argument for an empty
/// bucket list or a bucket < 1.
MoeStage2KernelSet precompile_moe_stage2(Device& device, const MoeStage2Shape& shape, const MoeStage2Epilogue& epilogue,
                                         std::vector<int> token_buckets, const MoeStage2ConfigTable& table,
                                         const MoeStage2PrecompileOptions& options = {});

/// Compiles `kernels` for `device` on up to `threads` threads (0: hardware concurrency), reporting
/// through `progress` as MoeStage2PrecompileOptions does; returns the number of threads used.
unsigned compile_moe_stage2_parallel(Device& device, std::vector<MoeStage2A16W4>& kernels,
                                     const MoeStage2PrecompileOptions& options = {});

}  // namespace tilejit::kernels
