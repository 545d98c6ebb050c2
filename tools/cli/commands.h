// Subcommands of the tilejit command line; each adds itself to the app.
#pragma once
#include <CLI/CLI.hpp>

namespace tilejit::cli {

/// tilejit compile <kernel> --target gfx950|sm_90a --emit ir|llvm|asm|hsaco|ptx [-o FILE]
void add_compile(CLI::App& app);
/// tilejit kernels: the registered kernels, the name first on each line.
void add_kernels(CLI::App& app);
/// tilejit info: devices found and the cache location.
void add_info(CLI::App& app);
/// tilejit moe-stage2 --a A --topk-ids I --topk-weights W --w W4 --w-scale S [--bias B] --out OUT [options]
void add_moe_stage2(CLI::App& app);

}  // namespace tilejit::cli
