// The vector_add example's kernel (linked into the example, the CLI and the tests).
#include "examples/kernels.h"

namespace tilejit::examples {

using namespace dsl;

const KernelDef vector_add = kernel("vector_add", [](Ptr<float> a, Ptr<float> b, Ptr<float> c, Int n) {
  Value i = (block_id() * block_dim() + thread_id()) * 4;
  if_(i + 4 <= n, [&] {
    store(c + i, load(a + i, 4) + load(b + i, 4));
  }, [&] {
    for_range(i, n, [&](Value j) { c[j] = a[j] + b[j]; });
  });
}, {.param_names = {"a", "b", "c", "n"}});

}  // namespace tilejit::examples
