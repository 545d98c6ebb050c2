// Random inputs for MoE stage-2 tests: routing, bf16 activations, MXFP4 weights, bias.
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "kernels/mxfp4/quantize.h"

namespace tilejit::moe {

/// How random_routing draws experts.
struct RoutingOptions {
  /// This many experts (chosen at random) receive no token at all; requires
  /// num_experts - empty_experts >= topk.
  int64_t empty_experts = 0;
  /// 0 draws experts uniformly; s > 0 draws expert of rank r (a random
  /// permutation) with probability proportional to 1/(r+1)^s, giving ragged
  /// per-expert counts.
  double skew = 0.0;
};

/// A routing: topk_ids/topk_weights [tokens, topk], and the experts forced empty.
struct Routing {
  std::vector<int32_t> topk_ids;
  std::vector<float> topk_weights;
  std::vector<int32_t> empty_experts;  ///< sorted ascending
};

/// Random routing: topk distinct experts per token (weighted sampling without
/// replacement), weights = softmax of topk standard-normal logits (positive,
/// summing to 1 per token). Throws std::invalid_argument on impossible options.
Routing random_routing(std::mt19937& rng, int64_t tokens, int64_t topk, int64_t num_experts, const RoutingOptions& options = {});

/// `count` bf16 values (raw bits) drawn from N(0, stddev^2) and rounded to bf16.
std::vector<uint16_t> random_bf16_normal(std::mt19937& rng, size_t count, float stddev = 1.0f);

/// `count` f32 values drawn from N(0, stddev^2).
std::vector<float> random_f32_normal(std::mt19937& rng, size_t count, float stddev = 1.0f);

/// Random MXFP4 expert weights as an [E*N, K] matrix (packed [E, N, K/2],
/// scales [E*N, K/32]): uniformly random codes 0..15 and scale bytes uniform in
/// [scale_min, scale_max] (default 2^-7..2^-3, a sane range for K in the thousands).
/// Throws std::invalid_argument when K is not a positive multiple of 32 or the scale range is empty.
mxfp4::Mxfp4Matrix random_mxfp4_weights(std::mt19937& rng, int64_t E, int64_t N, int64_t K, uint8_t scale_min = 120,
                                        uint8_t scale_max = 124);

/// Overwrites `count` random scales of expert `expert` in `w` (from random_mxfp4_weights; N rows
/// per expert) with bytes uniform in [lo, hi], at rows below `rows` and 32-K blocks from
/// `first_block` on: edge scales where a test wants them. Throws std::invalid_argument when the
/// region is empty or outside the matrix.
void plant_scales(std::mt19937& rng, mxfp4::Mxfp4Matrix& w, int64_t N, int64_t expert, int count, int64_t rows,
                  int64_t first_block, uint8_t lo, uint8_t hi);

}  // namespace tilejit::moe
