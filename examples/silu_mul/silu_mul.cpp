// A fused element-wise expression in bf16: y = silu(x) * g, checked against plain C++.
#include <cstring>

#include "dsl/ir/numeric.h"
#include "dsl/tilejit.h"
#include "examples/common/example.h"
#include "examples/kernels.h"

using namespace tilejit;
using tilejit::dsl::bf16;

// silu(x) = x / (1 + e^-x), computed in f32 from bf16 inputs, rounded once to bf16.

static std::vector<uint16_t> run(Device& dev, const std::vector<uint16_t>& x, const std::vector<uint16_t>& g) {
  int n = int(x.size());
  Buffer<uint16_t> dx(dev, x), dg(dev, g), dy(dev, x.size());
  dy.fill_bytes(0xFF);
  compile(examples::silu_mul, dev).launch({uint32_t((n + 255) / 256)}, {256}, dx, dg, dy, n);
  return dy.download();
}

int main() {
  using tilejit::ir::bf16_to_f32;
  using tilejit::ir::f32_to_bf16;
  Device& dev = default_device();
  std::printf("silu_mul on %s\n", dev.name().c_str());
  unsigned seed = example::fresh_seed();
  size_t n = 65537;
  auto xf = example::random_floats(n, -8, 8, seed), gf = example::random_floats(n, -4, 4, seed + 1);
  std::vector<uint16_t> x(n), g(n);
  for (size_t i = 0; i < n; ++i) x[i] = f32_to_bf16(xf[i]), g[i] = f32_to_bf16(gf[i]);
  auto y = run(dev, x, g);
  size_t bad = 0;
  double max_err = 0;
  for (size_t i = 0; i < n; ++i) {
    double xv = bf16_to_f32(x[i]), gv = bf16_to_f32(g[i]);
    double ref = xv / (1.0 + std::exp(-xv)) * gv;
    double got = bf16_to_f32(y[i]);
    double err = std::fabs(got - ref);
    // bf16 keeps 8 significant bits: allow one ulp of the result plus exp2's approximation.
    double tol = std::fabs(ref) * (1.0 / 128) + 1e-30;
    max_err = std::max(max_err, err / (std::fabs(ref) + 1e-30));
    bad += !(err <= tol);
  }
  if (auto emu = example::emulator_twin(dev)) {
    auto ye = run(*emu, x, g);
    size_t diff = 0;
    for (size_t i = 0; i < n; ++i) diff += y[i] != ye[i];
    // exp2 is approximate on GPUs: a result may differ from the emulator's by one bf16 ulp.
    std::printf("GPU vs emulator: %zu of %zu differ (exp2 approximation)\n", diff, n);
  }
  return example::report("silu_mul", bad, n, max_err);
}
