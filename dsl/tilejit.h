// The DSL in one include: values, operators, control flow, memory and kernels.
#pragma once
#include "dsl/control.h"
#include "dsl/kernel.h"
#include "dsl/ops.h"
#include "dsl/value.h"

namespace tilejit {
// Kernel code reads best with the DSL's names in scope: `using namespace tilejit;` brings them.
using namespace dsl;
}  // namespace tilejit
