// The DSL in one include: values, operators, control flow, memory and kernels.
#pragma once
#include "dsl/control.h"
#include "dsl/kernel.h"
#include "dsl/ops.h"
#include "dsl/value.h"

namespace tilejit {
using dsl::Arg;
using dsl::Bool;
using dsl::Float;
using dsl::Int;
using dsl::Long;
using dsl::Ptr;
using dsl::SharedPtr;
using dsl::Val;
using dsl::Value;
using dsl::Var;
}  // namespace tilejit
