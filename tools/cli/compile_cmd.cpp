// tilejit compile (registered kernels and the MoE stage-2 kernel of any config) and tilejit kernels.
#include <fmt/format.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "backend/llvm/compile.h"
#include "dsl/ir/printer.h"
#include "dsl/ir/verifier.h"
#include "dsl/kernel.h"
#include "kernels/moe/stage2/kernel.h"
#include "tools/cli/commands.h"
#include "tools/cli/moe_shape_args.h"

namespace tilejit::cli {

namespace {
struct CompileArgs {
  std::string kernel, target = "sm_90a", emit = "ir", output;
  MoeShapeArgs shape;  // moe_stage2 only
  std::string tiles;   // moe_stage2 only
};

constexpr const char* kStage2Name = "moe_stage2";

/// The kernel to compile: a registered one, or the MoE stage-2 kernel of --shape with --tiles
/// (MoeStage2Config::with_tiles_text; bf16 output, routing weights, atomic accumulation).
KernelDef kernel_to_compile(const CompileArgs& a) {
  if (a.kernel != kStage2Name) {
    if (a.shape.given() || !a.tiles.empty())
      throw UserError(fmt::format("--shape, --n/--k/--experts/--topk and --tiles are for {} only", kStage2Name));
    return find_kernel(a.kernel);
  }
  if (a.tiles.empty()) throw UserError(fmt::format("{} needs --tiles, e.g. --tiles \"tm64 tn256 wr ns\"", kStage2Name));
  const kernels::MoeStage2Shape s = a.shape.resolve();
  try {
    kernels::MoeStage2Config base{s.model_dim, s.inter_dim, s.experts, s.topk};
    return kernels::moe_stage2_kernel(base.with_tiles_text(a.tiles));
  } catch (const std::invalid_argument& e) {
    throw UserError(fmt::format("--tiles: {}", e.what()));
  }
}

void write_output(const std::string& path, const std::string& bytes, bool binary) {
  if (path.empty() || path == "-") {
    if (binary && isatty(fileno(stdout)))
      throw UserError("refusing to write a binary code object to a terminal; use -o FILE");
    std::fwrite(bytes.data(), 1, bytes.size(), stdout);
    return;
  }
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw RuntimeError("cannot write " + path);
}

void run_compile(const CompileArgs& a) {
  auto target = parse_target(a.target);
  if (!target) throw UserError("unknown target '" + a.target + "' (gfx950 or sm_90a)");
  KernelDef def = kernel_to_compile(a);
  ir::Function fn = def.trace(*target);
  ir::verify(fn, *target);
  if (a.emit == "ir") return write_output(a.output, ir::print(fn), false);
  if ((a.emit == "hsaco" && *target != Target::Gfx950) || (a.emit == "ptx" && *target != Target::Sm90a))
    throw UserError("--emit " + a.emit + " needs --target " + (a.emit == "ptx" ? "sm_90a" : "gfx950"));
  backend::CompileResult r = backend::compile(fn, *target);
  if (a.emit == "llvm") return write_output(a.output, r.llvm_ir, false);
  if (a.emit == "asm") return write_output(a.output, r.assembly, false);
  const auto& bin = r.code.binary;
  write_output(a.output, std::string(bin.begin(), bin.end()), a.emit == "hsaco");
}
}  // namespace

void add_compile(CLI::App& app) {
  auto args = std::make_shared<CompileArgs>();
  auto* cmd = app.add_subcommand("compile", "Trace a registered kernel, or the MoE stage-2 kernel of any config, and print or "
                                             "write one stage of its compilation");
  cmd->add_option("kernel", args->kernel, "kernel name (see `tilejit kernels`), or moe_stage2 with --tiles and a shape")->required();
  args->shape.add_to(cmd);
  cmd->add_option("--tiles", args->tiles, "moe_stage2: the tiles, e.g. \"tm96 tn128 wr ns\" (tmN tnN [kbN] [uN] [wmN] [sh|wg|wr] [ns] [ow])");
  cmd->add_option("--target", args->target, "gfx950 or sm_90a")->capture_default_str();
  cmd->add_option("--emit", args->emit, "ir, llvm, asm, hsaco (gfx950) or ptx (sm_90a)")
      ->check(CLI::IsMember({"ir", "llvm", "asm", "hsaco", "ptx"}))
      ->capture_default_str();
  cmd->add_option("-o,--output", args->output, "output file (default: standard output)");
  cmd->callback([args] { run_compile(*args); });
}

void add_kernels(CLI::App& app) {
  auto* cmd = app.add_subcommand("kernels", "List the registered kernels: name, signature, where defined");
  cmd->callback([] {
    for (const KernelDef& k : registered_kernels())
      std::printf("%s  %s  %s\n", k.name().c_str(), k.signature().c_str(), k.defined_at().c_str());
  });
}

}  // namespace tilejit::cli
