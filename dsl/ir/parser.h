// Reads the IR text form that printer.h writes back into a Function.
#pragma once
#include <string_view>

#include "dsl/ir/ir.h"

namespace tilejit::ir {

/// Parses one function in the printer's text form; print(parse(print(f))) == print(f).
/// Value %N becomes ValueId N; `// file:line` comments become the ops' SourceLocs.
/// The result is not verified (see verifier.h). Throws tilejit::UserError naming
/// line:column and what was expected when the text is malformed.
Function parse(std::string_view text);

}  // namespace tilejit::ir
