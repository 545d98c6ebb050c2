// tilejit tune moe-stage2: times the stage-2 candidate configs on the device and writes the config table.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <optional>

#include "backend/runtime/select.h"
#include "dsl/error.h"
#include "tools/cli/commands.h"
#include "tools/cli/moe_shape_args.h"
#include "tools/cli/tune_moe_stage2.h"

namespace tilejit::cli {

namespace {

struct TuneCliArgs {
  MoeShapeArgs shape;
  std::vector<int> tokens{1, 4, 8, 16, 32, 64, 128, 256, 1024, 4096};
  int reps = 30, warmup = 3;
  bool quick = false, no_check = false, no_wgmma = false, shared_only = false;
  std::string out, merge, results, device_key, device;
  uint32_t seed = 1;
  int64_t flush_mib = -1;
};

void write_file(const std::string& path, const std::string& text) {
  std::ofstream f(path, std::ios::binary);
  f << text;
  f.close();
  if (!f) throw UserError(fmt::format("cannot write {}", path));
}

void run_tune_moe_stage2(const TuneCliArgs& a) {
  MoeStage2TuneOptions o;
  o.shape = a.shape.resolve();
  // Read the table to merge first: a bad file fails before the (long) measurement.
  std::optional<kernels::MoeStage2ConfigTable> merge_base;
  if (!a.merge.empty()) {
    try {
      merge_base = kernels::load_config_table(a.merge);
    } catch (const std::invalid_argument& e) {
      throw UserError(fmt::format("--merge: {}", e.what()));
    }
  }
  o.tokens = a.tokens;
  o.reps = a.reps;
  o.warmup = a.warmup;
  o.quick = a.quick;
  o.check = !a.no_check;
  o.wgmma = !a.no_wgmma;
  o.shared_only = a.shared_only;
  o.device_key = a.device_key;
  o.incumbent = merge_base;
  o.seed = a.seed;
  o.flush_bytes = a.flush_mib < 0 ? -1 : a.flush_mib << 20;
  o.progress = [](const std::string& line) {
    std::fprintf(stderr, "tilejit tune: %s\n", line.c_str());
    std::fflush(stderr);
  };

  std::unique_ptr<Device> owned;
  if (!a.device.empty()) owned = open_device(a.device);
  Device& dev = owned ? *owned : default_device();
  MoeStage2TuneResult r;
  try {
    r = tune_moe_stage2(dev, o);
  } catch (const std::invalid_argument& e) {
    throw UserError(e.what());
  }
  std::fputs(moe_stage2_tune_report(r).c_str(), stdout);

  kernels::MoeStage2ConfigTable table = merge_base ? kernels::merge_config_tables(*merge_base, r.table) : r.table;
  write_file(a.out, kernels::config_table_json(table));
  std::fprintf(stderr, "tilejit tune: wrote %s (%zu entries%s)\n", a.out.c_str(), table.entries.size(),
               merge_base ? fmt::format(", merged into {}", a.merge).c_str() : "");
  if (!a.results.empty()) {
    write_file(a.results, moe_stage2_tune_results_json(r));
    std::fprintf(stderr, "tilejit tune: wrote %s\n", a.results.c_str());
  }
}

}  // namespace

void add_tune(CLI::App& app) {
  auto* tune = app.add_subcommand("tune", "Measure kernel configs on the device and write config tables");
  tune->require_subcommand(1);
  auto a = std::make_shared<TuneCliArgs>();
  auto* cmd = tune->add_subcommand(
      "moe-stage2", "Time every MoE stage-2 candidate config per token count (cold L2, output zeroing included, "
                    "median of --reps) and write the table the chooser reads");
  a->shape.add_to(cmd);
  cmd->add_option("--tokens", a->tokens, "token counts, comma separated: the table's bucket upper bounds")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--reps", a->reps, "timed launches per candidate (median)")->check(CLI::PositiveNumber)->capture_default_str();
  cmd->add_option("--warmup", a->warmup, "untimed launches per candidate")->check(CLI::NonNegativeNumber)->capture_default_str();
  cmd->add_flag("--quick", a->quick, "tile_n 128 and unroll 2 only (tile_m and k_batch still swept)");
  cmd->add_flag("--no-check", a->no_check, "skip comparing each candidate's output with the heuristic's");
  cmd->add_flag("--no-wgmma", a->no_wgmma, "leave out the wgmma candidates");
  cmd->add_flag("--shared-only", a->shared_only, "only the shared main loop candidates (many tokens per expert)");
  cmd->add_option("--out", a->out, "the table to write (JSON)")->required();
  cmd->add_option("--merge", a->merge, "an existing table: its rows are kept unless measured again");
  cmd->add_option("--results", a->results, "also write every measurement (JSON)");
  cmd->add_option("--device-key", a->device_key,
                  "the rows' device match string, e.g. H100 (default: the full device name)");
  cmd->add_option("--device", a->device, "auto | emulator | cuda | hip (default: TILEJIT_DEVICE)")
      ->check(CLI::IsMember({"auto", "emulator", "cuda", "hip"}));
  cmd->add_option("--seed", a->seed, "seed of the random inputs")->capture_default_str();
  cmd->add_option("--flush-mib", a->flush_mib,
                  "MiB written before each timed launch to cool the L2 (default: 256 CUDA, 512 HIP, 0 emulator)");
  cmd->callback([a] { run_tune_moe_stage2(*a); });
}

}  // namespace tilejit::cli
