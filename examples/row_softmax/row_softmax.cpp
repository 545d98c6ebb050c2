// Row softmax with shared memory and barriers: one workgroup per row, checked against C++.
#include "dsl/tilejit.h"
#include "examples/common/example.h"
#include "examples/kernels.h"

using namespace tilejit;

using tilejit::examples::kSoftmaxThreads;

static std::vector<float> run(Device& dev, const std::vector<float>& x, int rows, int cols) {
  Buffer<float> dx(dev, x), dy(dev, x.size());
  dy.fill_bytes(0xFF);
  compile(examples::row_softmax, dev).launch({uint32_t(rows)}, {kSoftmaxThreads}, dx, dy, cols);
  return dy.download();
}

int main() {
  Device& dev = default_device();
  std::printf("row_softmax on %s\n", dev.name().c_str());
  unsigned seed = example::fresh_seed();
  int rows = 67, cols = 1000;
  auto x = example::random_floats(size_t(rows) * cols, -6, 6, seed);
  auto y = run(dev, x, rows, cols);
  size_t bad = 0;
  double max_err = 0;
  for (int r = 0; r < rows; ++r) {
    double m = -INFINITY, s = 0;
    for (int c = 0; c < cols; ++c) m = std::max(m, double(x[size_t(r) * cols + c]));
    for (int c = 0; c < cols; ++c) s += std::exp(double(x[size_t(r) * cols + c]) - m);
    for (int c = 0; c < cols; ++c) {
      double ref = std::exp(double(x[size_t(r) * cols + c]) - m) / s;
      double err = std::fabs(y[size_t(r) * cols + c] - ref) / ref;
      max_err = std::max(max_err, err);
      bad += !(err < 1e-5);
    }
  }
  if (auto emu = example::emulator_twin(dev)) {
    auto ye = run(*emu, x, rows, cols);
    double diff = 0;
    for (size_t i = 0; i < y.size(); ++i) diff = std::max(diff, double(std::fabs(y[i] - ye[i]) / ye[i]));
    std::printf("GPU vs emulator: max relative difference %.3g (exp2 approximation)\n", diff);
    bad += !(diff < 1e-5);
  }
  return example::report("row_softmax", bad, y.size(), max_err);
}
