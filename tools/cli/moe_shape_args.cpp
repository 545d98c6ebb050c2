// MoeShapeArgs: the shape options shared by `tilejit tune moe-stage2` and `tilejit compile moe_stage2`.
#include "tools/cli/moe_shape_args.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dsl/error.h"

namespace tilejit::cli {

void MoeShapeArgs::add_to(CLI::App* cmd) {
  cmd->add_option("--shape", shape, "a model shape")->check(CLI::IsMember({"gpt_oss", "deepseek_r1"}));
  // Positive (0 stands for "not given" in resolve()), and within what a config table accepts.
  cmd->add_option("--n", n, "model_dim N (with --k, --experts, --topk instead of --shape)")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--k", k, "inter_dim K")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--experts", experts, "experts E")->check(CLI::Range(1, 1 << 20));
  cmd->add_option("--topk", topk, "experts per token")->check(CLI::Range(1, 255));
}

kernels::MoeStage2Shape MoeShapeArgs::resolve() const {
  kernels::MoeStage2Shape s;
  if (!shape.empty()) {
    if (n || k || experts || topk) throw UserError("--shape and --n/--k/--experts/--topk exclude each other");
    s = *kernels::moe_stage2_model_shape(shape);  // CLI11 checked the name
  } else {
    if (!n || !k || !experts || !topk) throw UserError("give --shape gpt_oss|deepseek_r1, or all of --n, --k, --experts and --topk");
    s = {n, k, experts, topk};
  }
  try {
    kernels::MoeStage2Config probe{s.model_dim, s.inter_dim, s.experts, s.topk};
    probe.validate();
  } catch (const std::invalid_argument& e) {
    throw UserError(fmt::format("the shape cannot run: {}", e.what()));
  }
  return s;
}

}  // namespace tilejit::cli
