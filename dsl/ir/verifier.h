// The IR verifier: structure, SSA scoping, types, target availability, resources, barriers.
#pragma once
#include "dsl/ir/ir.h"
#include "dsl/target.h"

namespace tilejit::ir {

/// Checks `fn` for `target`; returns normally when it is valid. Checks: operand,
/// region and attribute counts from the registry; results present exactly where an
/// op produces one; operand and result types per the IR semantics (target
/// intrinsics included); target-only ops and mma instructions of the other target;
/// every operand defined earlier in the same or an enclosing region, each value
/// defined once; barriers under lane-divergent `if` conditions or `for` bounds.
/// Throws tilejit::UserError whose message names the op's printed line, its
/// SourceLoc when known and what is wrong; tilejit::OutOfResources when the shared
/// allocations exceed the target's max_shared_bytes.
void verify(const Function& fn, Target target);

}  // namespace tilejit::ir
