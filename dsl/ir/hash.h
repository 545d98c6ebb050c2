// Stable hashes of IR text: the key of the kernel cache.
#pragma once
#include <string>
#include <string_view>

#include "dsl/ir/ir.h"

namespace tilejit::ir {

/// XXH3-128 of `text` as 32 lowercase hex digits (high 64 bits first).
std::string hash_text(std::string_view text);

/// hash_text(print(fn)): the canonical text without locations, so it does not
/// depend on internal value ids or source locations.
std::string stable_hash(const Function& fn);

}  // namespace tilejit::ir
