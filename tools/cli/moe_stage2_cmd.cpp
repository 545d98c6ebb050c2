// tilejit moe-stage2: runs the MoE stage-2 A16W4 kernel on .npy inputs and writes the output as .npy.
#include <fmt/format.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "backend/emulator/emulator.h"
#include "backend/runtime/select.h"
#include "dsl/error.h"
#include "kernels/moe/stage2/api.h"
#include "kernels/moe/stage2/chooser.h"
#include "tools/cli/commands.h"
#include "tools/npy/npy.h"

namespace tilejit::cli {

namespace {

struct Stage2CliArgs {
  std::string a, topk_ids, topk_weights, w, w_scale, bias, out;
  std::string out_dtype = "bf16";
  int k_batch = 0;  // 0: chosen from the problem
  int tile_m = 0;   // 0: chosen (with tile_n and k_batch) from the config table
  int tile_n = 0;   // 0: chosen from model_dim
  bool no_weight = false;
  std::string device = "auto";
  std::string target;  // empty: TILEJIT_EMULATOR_TARGET (default sm_90a)
};

std::string dtype_text(npy::DType d) {
  switch (d) {
    case npy::DType::u1: return "uint8 ('|u1')";
    case npy::DType::u2: return "uint16 ('<u2')";
    case npy::DType::i4: return "int32 ('<i4')";
    case npy::DType::f4: return "float32 ('<f4')";
    case npy::DType::f2: return "float16 ('<f2')";
  }
  return "unknown";
}

std::string shape_text(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

/// One input file: loaded, with its dtype and rank checked against what the flag expects.
struct Input {
  std::string flag, path, expected;  // expected: "uint16 (bf16 bits) [tokens*topk, inter_dim]" etc.
  npy::Array array;

  [[noreturn]] void fail(const std::string& what) const {
    throw UserError(fmt::format("{} {}: {}; expected {}", flag, path, what, expected));
  }
  int64_t dim(size_t i) const { return array.shape[i]; }
};

Input load_input(const std::string& flag, const std::string& path, npy::DType dtype, size_t rank,
                 const std::string& expected) {
  Input in{flag, path, expected, {}};
  try {
    in.array = npy::load(path);
  } catch (const npy::NpyError& e) {
    throw UserError(fmt::format("{}: {}; expected {}", flag, e.what(), expected));
  }
  if (in.array.dtype != dtype) in.fail(fmt::format("dtype is {}", dtype_text(in.array.dtype)));
  if (in.array.shape.size() != rank) in.fail(fmt::format("shape {} has {} dimensions", shape_text(in.array.shape), in.array.shape.size()));
  return in;
}

std::unique_ptr<Device> open_cli_device(const std::string& spec, const std::optional<Target>& target) {
  if (spec == "emulator") {
    emulator::Options o;
    o.target = target ? *target : emulator_target_from_env();
    return emulator::make_emulator_device(o);
  }
  std::unique_ptr<Device> dev = open_device(spec);
  if (target && dev->kind() == DeviceKind::Emulator) {  // auto fell back to the emulator
    emulator::Options o;
    o.target = *target;
    return emulator::make_emulator_device(o);
  }
  if (target && dev->target() != *target)
    throw UserError(fmt::format("--target {} does not match the device ({} runs {}); --target picks the emulator's layout",
                                target_info(*target).name, dev->name(), target_info(dev->target()).name));
  return dev;
}

/// k_batch when not given: split K (up to 4 ways) while the grid has fewer blocks than the device has compute units.
int choose_k_batch(const kernels::MoeStage2Config& cfg, const std::vector<int32_t>& topk_ids, const Device& device) {
  std::vector<int64_t> count(size_t(cfg.experts), 0);
  for (int32_t e : topk_ids) ++count[size_t(e)];
  int64_t blocks = 0;
  for (int64_t c : count) blocks += (c + cfg.tile_m - 1) / cfg.tile_m;
  const int64_t grid = blocks * ((cfg.model_dim + cfg.tile_n - 1) / cfg.tile_n);
  int k = 1;
  while (k < 4 && grid * k < int64_t(device.compute_units()) && cfg.inter_dim % (2 * k * kernels::kStage2ChunkK) == 0)
    k *= 2;
  return k;
}

void run_moe_stage2_cmd(const Stage2CliArgs& o) {
  std::optional<Target> target;
  if (!o.target.empty()) {
    target = parse_target(o.target);
    if (!target) throw UserError(fmt::format("--target {}: expected gfx950 or sm_90a", o.target));
  }

  // Inputs, shapes inferred and cross-checked.
  Input ids = load_input("--topk-ids", o.topk_ids, npy::DType::i4, 2, "int32 [tokens, topk]");
  const int64_t tokens = ids.dim(0), topk = ids.dim(1);
  if (tokens < 1 || topk < 1) ids.fail(fmt::format("shape {} is empty", shape_text(ids.array.shape)));
  Input wts = load_input("--topk-weights", o.topk_weights, npy::DType::f4, 2,
                         fmt::format("float32 [tokens, topk] = [{}, {}] (as --topk-ids)", tokens, topk));
  if (wts.array.shape != ids.array.shape) wts.fail(fmt::format("shape is {}", shape_text(wts.array.shape)));
  Input a = load_input("--a", o.a, npy::DType::u2, 2,
                       fmt::format("uint16 (bf16 bits) [tokens*topk, inter_dim] with tokens*topk = {}", tokens * topk));
  const int64_t K = a.dim(1);
  if (a.dim(0) != tokens * topk || K < 1) a.fail(fmt::format("shape is {}", shape_text(a.array.shape)));
  Input w = load_input("--w", o.w, npy::DType::u1, 3,
                       fmt::format("uint8 MXFP4 [experts, model_dim, inter_dim/2] with inter_dim/2 = {} (from --a)", K / 2));
  const int64_t E = w.dim(0), N = w.dim(1);
  if (E < 1 || N < 1 || w.dim(2) * 2 != K) w.fail(fmt::format("shape is {}", shape_text(w.array.shape)));
  Input ws = load_input("--w-scale", o.w_scale, npy::DType::u1, 3,
                        fmt::format("uint8 E8M0 [experts, model_dim, inter_dim/32] = [{}, {}, {}]", E, N, K / 32));
  if (K % 32 || ws.dim(0) != E || ws.dim(1) != N || ws.dim(2) != K / 32)
    ws.fail(fmt::format("shape is {}", shape_text(ws.array.shape)));
  std::optional<Input> bias;
  if (!o.bias.empty()) {
    bias = load_input("--bias", o.bias, npy::DType::f4, 2, fmt::format("float32 [experts, model_dim] = [{}, {}]", E, N));
    if (bias->dim(0) != E || bias->dim(1) != N) bias->fail(fmt::format("shape is {}", shape_text(bias->array.shape)));
  }
  const std::vector<int32_t> topk_ids = ids.array.values<int32_t>();
  for (int64_t i = 0; i < tokens * topk; ++i)
    if (topk_ids[size_t(i)] < 0 || topk_ids[size_t(i)] >= E)
      ids.fail(fmt::format("entry [token {}, slot {}] = {} is not an expert id in [0, {}) (experts from --w)", i / topk,
                           i % topk, topk_ids[size_t(i)], E));
  if (tokens >= (int64_t(1) << 24)) ids.fail(fmt::format("{} tokens is more than the kernel's 2^24-1", tokens));

  std::unique_ptr<Device> device = open_cli_device(o.device, target);

  kernels::MoeStage2Config cfg;
  cfg.model_dim = int(N);
  cfg.inter_dim = int(K);
  cfg.experts = int(E);
  cfg.topk = int(topk);
  cfg.tile_m = o.tile_m ? o.tile_m : 16;
  cfg.tile_n = o.tile_n ? o.tile_n : (N >= 128 ? 128 : 64);
  cfg.out_dtype = o.out_dtype == "f32" ? kernels::OutDtype::F32 : kernels::OutDtype::BF16;
  cfg.has_bias = bias.has_value();
  cfg.doweight = !o.no_weight;
  cfg.accumulate = true;
  cfg.k_batch = 1;
  std::string source = "given";
  const bool choose = !o.tile_m && !o.tile_n && !o.k_batch;  // nothing given: the config table (or its heuristic)
  // A bad TILEJIT_MOE_CONFIGS file is its own error, not a shape problem.
  const kernels::MoeStage2ConfigTable* table = choose ? &kernels::default_config_table() : nullptr;
  try {
    cfg.validate();  // shape problems first, with k_batch 1
    if (choose) {
      kernels::MoeStage2Epilogue epilogue{cfg.out_dtype, cfg.has_bias, cfg.doweight, cfg.accumulate};
      kernels::MoeStage2Choice choice =
          kernels::choose_moe_stage2(*table, {int(N), int(K), int(E), int(topk)}, int(tokens),
                                     device->name(), device->compute_units(), epilogue);
      cfg = choice.config;
      source = choice.reason;
    } else {
      cfg.k_batch = o.k_batch ? o.k_batch : choose_k_batch(cfg, topk_ids, *device);
    }
    cfg.validate();
  } catch (const std::invalid_argument& e) {
    throw UserError(fmt::format("the inputs give tokens={} topk={} experts={} model_dim={} inter_dim={}, which the "
                                "kernel cannot run: {}",
                                tokens, topk, E, N, K, e.what()));
  }

  fmt::print(stderr, "tilejit moe-stage2: device: {} ({}): {}\n", device_kind_name(device->kind()),
             target_info(device->target()).name, device->name());
  fmt::print(stderr, "tilejit moe-stage2: problem: tokens={} topk={} experts={} model_dim={} inter_dim={} bias={}\n",
             tokens, topk, E, N, K, cfg.has_bias ? "yes" : "no");
  fmt::print(stderr, "tilejit moe-stage2: config: tile_m={} tile_n={} k_batch={} out={} doweight={} (kernel {})\n",
             cfg.tile_m, cfg.tile_n, cfg.k_batch, o.out_dtype, cfg.doweight ? 1 : 0, cfg.kernel_name());
  fmt::print(stderr, "tilejit moe-stage2: config from: {}\n", source);

  const std::vector<uint16_t> a_v = a.array.values<uint16_t>();
  const std::vector<float> w_v = wts.array.values<float>();
  const std::vector<float> bias_v = bias ? bias->array.values<float>() : std::vector<float>{};
  moe::Stage2Inputs in{a_v, w.array.data, ws.array.data, bias_v, topk_ids, w_v};
  kernels::MoeStage2Run run = kernels::run_moe_stage2(*device, cfg, in, int(tokens));

  fmt::print(stderr, "tilejit moe-stage2: compile: trace {:.1f} ms, LLVM {:.1f} ms, load {:.1f} ms{}\n",
             run.compile.trace_ms, run.compile.compile_ms, run.compile.load_ms,
             run.compile.memory_hit      ? " (memory cache hit)"
             : run.compile.trace_skipped ? " (disk cache hit, not traced)"
             : run.compile.disk_hit      ? " (disk cache hit)"
                                         : "");
  fmt::print(stderr, "tilejit moe-stage2: kernel time: {:.3f} ms\n", run.kernel_ms);

  const std::vector<int64_t> out_shape{tokens, N};
  npy::Array out = cfg.out_dtype == kernels::OutDtype::F32
                       ? npy::Array::from<float>(run.out, out_shape)
                       : npy::Array::from<uint16_t>(run.out_bf16, out_shape);
  npy::save(o.out, out);
  fmt::print(stderr, "tilejit moe-stage2: wrote {} {} {}\n", o.out, shape_text(out_shape),
             cfg.out_dtype == kernels::OutDtype::F32 ? "float32" : "uint16 (bf16 bits)");
}

}  // namespace

void add_moe_stage2(CLI::App& app) {
  auto o = std::make_shared<Stage2CliArgs>();
  auto* cmd = app.add_subcommand(
      "moe-stage2", "Run the MoE stage-2 A16W4 kernel (bf16 activations x MXFP4 weights) on .npy inputs");
  cmd->add_option("--a", o->a, "activations: uint16 bf16 bits [tokens*topk, inter_dim], row t*topk + s")->required();
  cmd->add_option("--topk-ids", o->topk_ids, "routed experts: int32 [tokens, topk]")->required();
  cmd->add_option("--topk-weights", o->topk_weights, "routing weights: float32 [tokens, topk]")->required();
  cmd->add_option("--w", o->w, "weights: uint8 MXFP4 [E, model_dim, inter_dim/2], row-major, low nibble = even k")
      ->required();
  cmd->add_option("--w-scale", o->w_scale, "scales: uint8 E8M0 [E, model_dim, inter_dim/32]")->required();
  cmd->add_option("--bias", o->bias, "optional bias: float32 [E, model_dim]");
  cmd->add_option("--out-dtype", o->out_dtype, "output type")->check(CLI::IsMember({"bf16", "f32"}))->capture_default_str();
  cmd->add_option("--k-batch", o->k_batch, "split-K slices (default: from the config table, or from the grid size when --tile-m or --tile-n is given)");
  cmd->add_option("--tile-m", o->tile_m,
                  "rows per block (16, 32 or 64; 96 or 128 only from a config table row with the shared main loop). "
                  "Without --tile-m, --tile-n and --k-batch all three come from the "
                  "config table (TILEJIT_MOE_CONFIGS or the built-in one; its heuristic for shapes it lacks)");
  cmd->add_option("--tile-n", o->tile_n, "columns per block (64, 128, 256 or 512; default: from the config table)");
  cmd->add_flag("--no-weight", o->no_weight, "do not multiply by the routing weights");
  cmd->add_option("--device", o->device, "device")
      ->check(CLI::IsMember({"auto", "emulator", "cuda", "hip"}))
      ->capture_default_str();
  cmd->add_option("--target", o->target,
                  "the emulator's lane layout: gfx950 or sm_90a (default: TILEJIT_EMULATOR_TARGET, else sm_90a)")
      ->check(CLI::IsMember({"gfx950", "sm_90a"}));
  cmd->add_option("--out", o->out, "output .npy: uint16 bf16 bits or float32 [tokens, model_dim]")->required();
  cmd->callback([o] { run_moe_stage2_cmd(*o); });
}

}  // namespace tilejit::cli
