// The examples' kernels, defined once and linked into the examples, the CLI and the tests.
#pragma once
#include "dsl/tilejit.h"

namespace tilejit::examples {

/// c[i] = a[i] + b[i] with 16-byte accesses (four floats per thread).
extern const KernelDef vector_add;
/// y = silu(x) * g in bf16 (computed in f32, rounded once).
extern const KernelDef silu_mul;
/// Softmax of each row, one workgroup of kSoftmaxThreads per row, shared-memory reductions.
extern const KernelDef row_softmax;
inline constexpr int kSoftmaxThreads = 256;

}  // namespace tilejit::examples
