// The part of a kernel's IR that launching it needs, as a small function of its own.
#pragma once
#include "dsl/ir/ir.h"

namespace tilejit::ir {

/// A function with `fn`'s name, parameters, block size, occupancy hint and shared-memory size,
/// whose body holds only the parameter ops and one shared allocation of fn.shared_bytes() bytes.
/// Its printed text is what the kernel cache keeps for a kernel loaded without tracing it
/// (compile() with KernelOptions::trace_key): a device loads and launches from it alone.
Function launch_stub(const Function& fn);

}  // namespace tilejit::ir
