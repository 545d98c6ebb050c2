// The tilejit command line: compile, kernels, info, tune (and the kernel-specific subcommands).
#include <CLI/CLI.hpp>

#include <cstdio>

#include "dsl/error.h"
#include "tools/cli/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"tilejit: compile, inspect and run tilejit kernels"};
  app.require_subcommand(1);
  tilejit::cli::add_compile(app);
  tilejit::cli::add_kernels(app);
  tilejit::cli::add_info(app);
  tilejit::cli::add_moe_stage2(app);
  tilejit::cli::add_tune(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const tilejit::Error& e) {
    std::fprintf(stderr, "tilejit: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tilejit: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
