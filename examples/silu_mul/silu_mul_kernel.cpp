// The silu_mul example's kernel (linked into the example, the CLI and the tests).
#include "examples/kernels.h"

namespace tilejit::examples {

using namespace dsl;

const KernelDef silu_mul = kernel("silu_mul", [](Ptr<bf16> x, Ptr<bf16> g, Ptr<bf16> y, Int n) {
  Value i = block_id() * block_dim() + thread_id();
  if_(i < n, [&] {
    Value xf = cast<float>(x[i]);
    Value e = exp2(xf * -1.4426950408889634f);
    Value silu = xf / (e + 1.0f);
    y[i] = cast<dsl::bf16>(silu * cast<float>(g[i]));
  });
}, {.param_names = {"x", "g", "y", "n"}});

}  // namespace tilejit::examples
