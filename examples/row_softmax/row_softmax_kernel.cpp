// The row_softmax example's kernel (linked into the example, the CLI and the tests).
#include <cmath>

#include "examples/kernels.h"

namespace tilejit::examples {

using namespace dsl;

namespace {
// Tree reduction over kSoftmaxThreads partial values in shared memory; every thread gets the result.
Value block_reduce(SharedPtr<float> scratch, Value mine, bool is_max) {
  Value t = thread_id();
  scratch[t] = mine;
  barrier();
  for (int stride = kSoftmaxThreads / 2; stride > 0; stride /= 2) {
    if_(t < stride, [&] {
      Value a = scratch[t], b = scratch[t + stride];
      scratch[t] = is_max ? max(a, b) : Value(a + b);
    });
    barrier();
  }
  Value r = scratch[0];
  barrier();  // everyone has read scratch[0] before it is reused
  return r;
}

}  // namespace

const KernelDef row_softmax = kernel("row_softmax", [](Ptr<float> x, Ptr<float> y, Int cols) {
  auto scratch = shared_array<float>(kSoftmaxThreads);
  Value row = block_id();
  Value t = thread_id();
  Ptr<float> xr = x + row * cols, yr = y + row * cols;
  Var<float> m = -INFINITY;
  for_range(t, cols, kSoftmaxThreads, [&](Value c) { m = max(m, xr[c]); });
  Value row_max = block_reduce(scratch, m, true);
  Var<float> s = 0.0f;
  constexpr float kLog2e = 1.4426950408889634f;
  for_range(t, cols, kSoftmaxThreads, [&](Value c) { s += exp2((xr[c] - row_max) * kLog2e); });
  Value inv = Value(Arg(1.0f) / block_reduce(scratch, s, false));
  for_range(t, cols, kSoftmaxThreads, [&](Value c) { yr[c] = exp2((xr[c] - row_max) * kLog2e) * inv; });
}, {.block = {kSoftmaxThreads, 1, 1}, .param_names = {"x", "y", "cols"}});

}  // namespace tilejit::examples
