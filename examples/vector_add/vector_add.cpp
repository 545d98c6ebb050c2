// Vector add with 16-byte accesses: c = a + b, checked against plain C++.
#include "dsl/tilejit.h"
#include "examples/common/example.h"
#include "examples/kernels.h"

using namespace tilejit;

// Each thread adds four consecutive floats (one 16-byte load per operand); the tail
// of n % 4 elements is handled one element at a time by the last thread block.

static std::vector<float> run(Device& dev, const std::vector<float>& a, const std::vector<float>& b) {
  int n = int(a.size());
  Buffer<float> da(dev, a), db(dev, b), dc(dev, a.size());
  dc.fill_bytes(0xFF);  // poison: NaN everywhere
  Kernel k = compile(examples::vector_add, dev);
  uint32_t threads = 256, blocks = uint32_t((n + 4 * threads - 1) / (4 * threads));
  k.launch({blocks}, {threads}, da, db, dc, n);
  return dc.download();
}

int main() {
  Device& dev = default_device();
  std::printf("vector_add on %s\n", dev.name().c_str());
  unsigned seed = example::fresh_seed();
  size_t n = 100003;  // not a multiple of 4: exercises the tail
  auto a = example::random_floats(n, -10, 10, seed), b = example::random_floats(n, -10, 10, seed + 1);
  auto c = run(dev, a, b);
  size_t bad = 0;
  for (size_t i = 0; i < n; ++i) bad += !(c[i] == a[i] + b[i]);  // exact: one IEEE add
  if (auto emu = example::emulator_twin(dev)) {
    auto ce = run(*emu, a, b);
    for (size_t i = 0; i < n; ++i) bad += std::memcmp(&c[i], &ce[i], 4) != 0;
  }
  return example::report("vector_add", bad, n, 0.0);
}
