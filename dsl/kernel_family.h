// Kernels defined per configuration: each configuration's kernel is defined (and registered) once.
#pragma once
#include <functional>
#include <string>

#include "dsl/kernel.h"

namespace tilejit {

/// The kernel registered under `name` by an earlier call, else `define()`'s result (kept for
/// later calls). Thread-safe; `define` runs at most once per name.
KernelDef define_once(const std::string& name, const std::function<KernelDef()>& define);

}  // namespace tilejit
