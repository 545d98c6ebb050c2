// The MoE stage-2 shape on the command line: --shape NAME, or --n, --k, --experts and --topk.
#pragma once
#include <CLI/CLI.hpp>

#include <string>

#include "kernels/moe/stage2/chooser.h"

namespace tilejit::cli {

struct MoeShapeArgs {
  std::string shape;
  int n = 0, k = 0, experts = 0, topk = 0;

  /// Adds --shape, --n, --k, --experts and --topk to `cmd`.
  void add_to(CLI::App* cmd);
  /// Whether any of the options was given.
  bool given() const { return !shape.empty() || n || k || experts || topk; }
  /// The shape the options give; a UserError when they are missing, mixed, or name a shape the
  /// kernel cannot run (the message says which).
  kernels::MoeStage2Shape resolve() const;
};

}  // namespace tilejit::cli
