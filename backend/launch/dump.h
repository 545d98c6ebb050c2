// TILEJIT_DUMP: writes the IR, LLVM IR and assembly of every kernel a program compiles.
#pragma once
#include <string>

#include "backend/runtime/cache.h"
#include "dsl/ir/ir.h"

namespace tilejit {

/// Whether TILEJIT_DUMP asks for anything.
bool dump_requested();
/// Whether TILEJIT_DUMP lists `item` (ir, llvm or asm). Compiles keep the optimised LLVM IR only
/// when it lists llvm (printing it costs a few ms per big kernel), and cache it under their own key.
bool dump_wants(const std::string& item);

/// Writes what TILEJIT_DUMP (a comma list of ir, llvm, asm) asks for into TILEJIT_DUMP_DIR
/// (default ./tilejit-dump) as <kernel>.<hash8>.{ir,ll,s}. No-op when TILEJIT_DUMP is unset.
void dump_kernel(const ir::Function& fn, const std::string& ir_text, const CompiledEntry* entry);

}  // namespace tilejit
