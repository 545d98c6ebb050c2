// Subcommands of the tilejit command line; each adds itself to the app.
#pragma once
#include <CLI/CLI.hpp>

namespace tilejit::cli {

/// tilejit compile <kernel> --target gfx950|sm_90a --emit ir|llvm|asm|hsaco|ptx [-o FILE]; kernel moe_stage2
/// with --tiles SPEC and --shape NAME (or --n/--k/--experts/--topk).
void add_compile(CLI::App& app);
/// tilejit kernels: the registered kernels, the name first on each line.
void add_kernels(CLI::App& app);
/// tilejit info: devices found and the cache location.
void add_info(CLI::App& app);
/// tilejit moe-stage2 --a A --topk-ids I --topk-weights W --w W4 --w-scale S [--bias B] --out OUT [options]
void add_moe_stage2(CLI::App& app);
/// tilejit tune moe-stage2 (--shape S | --n N --k K --experts E --topk T) --tokens 1,4,... --out TABLE [--merge OLD]
void add_tune(CLI::App& app);

}  // namespace tilejit::cli
