// Plain C++ references and random inputs for the GEMM tests (no tilejit code involved).
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace tilejit::gemm_test {

/// bf16 bits -> float (exact).
float bf16_value(uint16_t bits);
/// `count` bf16 values (bits) drawn from N(0, 1) and rounded to nearest even.
std::vector<uint16_t> random_bf16(std::mt19937& rng, size_t count);

/// E2M1 code -> value (0, 0.5, 1, 1.5, 2, 3, 4, 6 and their negatives for codes 8..15).
double e2m1_value(int code);
/// Row-major [N, K] weights from packed [N, K/2] codes (low nibble = even K) and [N, K/32] E8M0
/// scales: code value x 2^(scale - 127), scale 255 -> NaN.
std::vector<double> dequantize(const std::vector<uint8_t>& packed, const std::vector<uint8_t>& scales, int N, int K);

/// C[M,N] = sum_k A[m,k] * B[n,k] in double; `abs_sum` gets sum_k |A[m,k] * B[n,k]| (error scale).
void gemm_reference(const std::vector<double>& a, const std::vector<double>& b, int M, int N, int K,
                    std::vector<double>& c, std::vector<double>& abs_sum);

/// How a computed C compares with the reference.
struct Comparison {
  double rel_l2 = 0;         ///< ||got - ref|| / ||ref||
  size_t non_finite = 0;     ///< NaN or Inf elements (unwritten elements keep the NaN poison)
  size_t over_bound = 0;     ///< elements with |got - ref| > rel * |ref| + acc * abs_sum
  std::string first_bad;     ///< the first such element, for the failure message
};
/// Compares element by element with bound rel * |ref| + acc * abs_sum.
Comparison compare(const std::vector<float>& got, const std::vector<double>& ref, const std::vector<double>& abs_sum,
                   int N, double rel, double acc);

}  // namespace tilejit::gemm_test
