// Plain C++ GEMM references, MXFP4 dequantisation and comparisons for the GEMM tests.
#include "tests/gemm/reference.h"

#include <bit>
#include <cmath>
#include <limits>

namespace tilejit::gemm_test {

float bf16_value(uint16_t bits) { return std::bit_cast<float>(uint32_t(bits) << 16); }

std::vector<uint16_t> random_bf16(std::mt19937& rng, size_t count) {
  std::normal_distribution<float> nd(0.f, 1.f);
  std::vector<uint16_t> out(count);
  for (auto& x : out) {
    uint32_t u = std::bit_cast<uint32_t>(nd(rng));
    u += 0x7FFF + ((u >> 16) & 1);  // round to nearest even (finite inputs)
    x = uint16_t(u >> 16);
  }
  return out;
}

double e2m1_value(int code) {
  static const double mag[8] = {0, 0.5, 1, 1.5, 2, 3, 4, 6};
  return (code & 8) ? -mag[code & 7] : mag[code & 7];
}

std::vector<double> dequantize(const std::vector<uint8_t>& packed, const std::vector<uint8_t>& scales, int N, int K) {
  std::vector<double> w(size_t(N) * K);
  for (int n = 0; n < N; ++n)
    for (int k = 0; k < K; ++k) {
      uint8_t byte = packed[size_t(n) * (K / 2) + k / 2];
      int code = (k % 2 == 0) ? (byte & 0xF) : (byte >> 4);
      uint8_t s = scales[size_t(n) * (K / 32) + k / 32];
      w[size_t(n) * K + k] = s == 255 ? std::numeric_limits<double>::quiet_NaN() : std::ldexp(e2m1_value(code), int(s) - 127);
    }
  return w;
}

void gemm_reference(const std::vector<double>& a, const std::vector<double>& b, int M, int N, int K,
                    std::vector<double>& c, std::vector<double>& abs_sum) {
  c.assign(size_t(M) * N, 0.0);
  abs_sum.assign(size_t(M) * N, 0.0);
  for (int m = 0; m < M; ++m)
    for (int n = 0; n < N; ++n) {
      double s = 0, s_abs = 0;
      for (int k = 0; k < K; ++k) {
        double p = a[size_t(m) * K + k] * b[size_t(n) * K + k];
        s += p;
        s_abs += std::fabs(p);
      }
      c[size_t(m) * N + n] = s;
      abs_sum[size_t(m) * N + n] = s_abs;
    }
}

Comparison compare(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& abs_sum,
                   int N, double rel, double acc) {
  Comparison r;
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    double g = got[i], e = ref[i];
    if (!std::isfinite(g)) {
      ++r.non_finite;
      if (r.first_bad.empty())
        r.first_bad = "C[" + std::to_string(i / size_t(N)) + "][" + std::to_string(i % size_t(N)) + "] = " + std::to_string(g);
      continue;
    }
    num += (g - e) * (g - e);
    den += e * e;
    if (std::fabs(g - e) > rel * std::fabs(e) + acc * abs_sum[i]) {
      ++r.over_bound;
      if (r.first_bad.empty())
        r.first_bad = "C[" + std::to_string(i / size_t(N)) + "][" + std::to_string(i % size_t(N)) + "] = " +
                      std::to_string(g) + ", expected " + std::to_string(e);
    }
  }
  r.rel_l2 = std::sqrt(num / den);
  return r;
}

}  // namespace tilejit::gemm_test
