// Test reference: the MMA-Sim dot-product models ported line by line in double arithmetic, as the Python computes them.
#pragma once
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

namespace tilejit::matrix::test {

// These follow microsoft/MMA-Sim mmasim/simulator/functions.py (extract_significand_exponent,
// fused_sum, nv_fused_dot_add, amd_fused_dot_add). Every step is exact in double for bf16
// inputs: products have 16 significant bits, and the aligned sums stay below 40 bits.

/// double -> f32 as torch.tensor(x, dtype=float32) does: RNE, and ±Inf past the largest finite value.
inline float to_f32(double x) {
  if (std::isfinite(x) && std::fabs(x) >= std::ldexp(1.0, 128) - std::ldexp(1.0, 103))
    return x > 0 ? std::numeric_limits<float>::infinity() : -std::numeric_limits<float>::infinity();
  return float(x);
}

/// extract_significand_exponent: x = s·2^e with 1 <= |s| < 2, subnormals at min_exp with |s| < 1,
/// zero at exponent -999.
inline std::pair<double, int> sig_exp(double x, int min_exp) {
  int e = 0;
  double s = std::frexp(x, &e);
  s *= 2;
  e -= 1;
  if (e < min_exp) {
    s = std::ldexp(s, e - min_exp);
    e = min_exp;
  }
  if (s == 0.0) e = -999;
  return {s, e};
}

/// Python's int(math.trunc(v)) / math.floor(v) as a double: never -0.
inline double py_trunc(double v) { return std::trunc(v) + 0.0; }
inline double py_floor(double v) { return std::floor(v) + 0.0; }

/// fused_sum: align to the largest exponent, truncate each term toward zero to F fractional bits, add.
inline std::pair<double, int> fused_sum(const std::vector<double>& s, const std::vector<int>& e, int F) {
  const int max_e = *std::max_element(e.begin(), e.end());
  double sum = 0.0;
  for (size_t i = 0; i < s.size(); ++i) sum += py_trunc(std::ldexp(s[i], F + e[i] - max_e)) * std::ldexp(1.0, -F);
  return {sum, max_e};
}

/// nv_fused_dot_add(a, b, c, 25, "f32") for Hopper; a and b are bf16 values.
inline float mmasim_hopper(const std::vector<float>& a, const std::vector<float>& b, float c) {
  double fp64_sum = 0.0;
  for (size_t i = 0; i < a.size(); ++i) fp64_sum += double(a[i]) * double(b[i]);
  fp64_sum += double(c);
  if (std::isnan(fp64_sum)) return std::bit_cast<float>(0x7FFFFFFFu);
  if (std::isinf(fp64_sum)) return to_f32(fp64_sum);
  std::vector<double> s;
  std::vector<int> e;
  auto [sc, ec] = sig_exp(c, -126);
  s.push_back(sc);
  e.push_back(ec);
  for (size_t i = 0; i < a.size(); ++i) {
    auto [sa, ea] = sig_exp(a[i], -126);
    auto [sb, eb] = sig_exp(b[i], -126);
    s.push_back(sa * sb);
    e.push_back(ea + eb);
  }
  auto [sum, max_e] = fused_sum(s, e, 25);
  auto [s2, e2] = sig_exp(std::ldexp(sum, max_e), -126);
  s2 = py_trunc(std::ldexp(s2, 23)) * std::ldexp(1.0, -23);  // RZ
  return to_f32(std::ldexp(s2, e2));
}

/// One group of amd_fused_dot_add(a, b, c, 24) (bf16, CDNA3); returns the new accumulator.
inline float mmasim_cdna3_group(const float* a, const float* b, int n, float c) {
  double fp64_sum = 0.0;
  for (int i = 0; i < n; ++i) fp64_sum += double(a[i]) * double(b[i]);
  fp64_sum += double(c);
  if (std::isnan(fp64_sum) || std::isinf(fp64_sum)) return to_f32(fp64_sum);
  std::vector<double> s;
  std::vector<int> e;
  bool p_inf = false, n_inf = false;
  for (int i = 0; i < n; ++i) {
    const double p = double(a[i]) * double(b[i]);
    if (p >= std::ldexp(1.0, 128)) {
      p_inf = true;
    } else if (p <= -std::ldexp(1.0, 128)) {
      n_inf = true;
    } else {
      auto [sa, ea] = sig_exp(a[i], -126);
      auto [sb, eb] = sig_exp(b[i], -126);
      s.push_back(sa * sb);
      e.push_back(ea + eb);
    }
  }
  if (p_inf && n_inf) return std::numeric_limits<float>::quiet_NaN();
  if (p_inf) return std::numeric_limits<float>::infinity();
  if (n_inf) return -std::numeric_limits<float>::infinity();
  auto [sc, ec] = sig_exp(c, -126);
  auto [sum, eg] = fused_sum(s, e, 24);
  const int max_e = std::max(eg, ec);
  const double s31 = py_floor(std::ldexp(sum, 31 + eg - max_e)) * std::ldexp(1.0, -31);
  const double c24 = py_floor(std::ldexp(sc, 24 + ec - max_e)) * std::ldexp(1.0, -24);
  return to_f32(std::ldexp(s31 + c24, max_e));  // RNE
}

/// The CDNA3 bf16 MFMA dot product: groups of min(8, K) in K order.
inline float mmasim_cdna3(const std::vector<float>& a, const std::vector<float>& b, float c) {
  const int k = int(a.size()), g = std::min(8, k);
  float acc = c;
  for (int i = 0; i < k; i += g) acc = mmasim_cdna3_group(&a[i], &b[i], g, acc);
  return acc;
}

}  // namespace tilejit::matrix::test
