// Compiles IR for a GPU target through LLVM 22 (the only LLVM-facing entry point).
#pragma once
#include <string>

#include "backend/runtime/device.h"
#include "dsl/ir/ir.h"
#include "dsl/target.h"

namespace tilejit::backend {

/// How to compile.
struct CompileOptions {
  int opt_level = 3;  ///< 0..3: the LLVM pass pipeline (O0..O3) and code generation level
  /// Print the optimised LLVM IR into CompileResult::llvm_ir (3-6 ms for a big kernel).
  bool keep_llvm_ir = true;
  /// LLVM's default pipeline of opt_level even where the target has its own (sm_90a at O3: a
  /// reduced O3, see backend/nvptx/sm90a.cpp); tests compare the two.
  bool default_pipeline = false;
};

/// What a compile produced, stage by stage (each stage's text is kept for dumps).
struct CompileResult {
  CompiledCode code;        // HSACO bytes (gfx950) or PTX text (sm_90a)
  std::string llvm_ir;      // optimised LLVM IR (empty without CompileOptions::keep_llvm_ir)
  std::string assembly;     // gfx950: disassembly + resource report; sm_90a: the PTX
  std::string resources_json;  // gfx950: VGPR/AGPR/SGPR/LDS/scratch/occupancy
  /// Stage times: lowering (with the target machine set-up), the O3 pipeline, code
  /// generation, and on gfx950 the lld link plus reading the report and disassembling.
  double lower_ms = 0, opt_ms = 0, codegen_ms = 0, link_ms = 0;
};

/// Lowers, optimises and compiles `fn` for `target`. Throws InternalError when
/// LLVM rejects the module (the message carries LLVM's diagnostic), and
/// OutOfResources when the kernel's shared memory exceeds the target's limit.
/// Thread-safe: concurrent compiles each use their own LLVMContext.
CompileResult compile(const ir::Function& fn, Target target, const CompileOptions& options = {});

/// The LLVM version string compiled in (part of the cache key), e.g. "22.1.8".
std::string llvm_version();

}  // namespace tilejit::backend
