// Reference MoE stage 2 (A16W4) in plain C++: double accumulation on exactly dequantised MXFP4 weights.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "kernels/moe/host/sorting.h"

namespace tilejit::moe {

/// Element type of the stage-2 output.
enum class OutputType { f32, bf16 };

/// Shape of a stage-2 problem. K = inter_dim (contraction), N = model_dim (outputs).
struct Stage2Shape {
  int64_t tokens = 0;
  int64_t topk = 0;
  int64_t num_experts = 0;
  int64_t model_dim = 0;  ///< N; a multiple of 1 (no layout constraint here)
  int64_t inter_dim = 0;  ///< K; a positive multiple of 32
};

/// Inputs in the plain (not preshuffled) layouts; use mxfp4::unpreshuffle_* on preshuffled data.
struct Stage2Inputs {
  std::span<const uint16_t> a;           ///< bf16 bits [tokens*topk, inter_dim], row t*topk + s (not sorted)
  std::span<const uint8_t> w_packed;     ///< MXFP4 [E, model_dim, inter_dim/2], low nibble = even K
  std::span<const uint8_t> w_scales;     ///< E8M0 [E*model_dim, inter_dim/32]
  std::span<const float> bias;           ///< f32 [E, model_dim], or empty for no bias
  std::span<const int32_t> topk_ids;     ///< [tokens, topk]
  std::span<const float> topk_weights;   ///< [tokens, topk]
};

/// What the reference computes.
struct Stage2Options {
  bool doweight = true;    ///< multiply by the routing weight
  bool accumulate = true;  ///< true: out [tokens, model_dim] summed over slots; false: out [tokens*topk, model_dim] per slot
  OutputType output = OutputType::f32;
};

/// Reference result. `exact` holds the double-accumulated values before the
/// output rounding; `out_f32` (output f32: each value rounded once to f32) or
/// `out_bf16` (output bf16: each value rounded once to bf16 bits) holds the output.
struct Stage2Result {
  int64_t rows = 0;  ///< tokens (accumulate) or tokens*topk
  int64_t cols = 0;  ///< model_dim
  std::vector<double> exact;
  std::vector<float> out_f32;
  std::vector<uint16_t> out_bf16;
};

/// out[t, :] += w * (A[t*topk + s, :] @ dequant(W[e])^T + bias[e, :]) for every
/// routed pair (t, s), e = topk_ids[t, s], w = topk_weights[t, s] (w = 1 when
/// doweight is off); the bias is added once per pair, before the weight. Products
/// and sums are in double on exactly dequantised weights (mxfp4::dequantize).
/// With accumulate off, row t*topk + s holds that pair's term alone.
/// Throws std::invalid_argument naming a wrong size or expert id (token and slot).
Stage2Result moe_stage2_reference(const Stage2Shape& shape, const Stage2Inputs& in, const Stage2Options& options = {});

/// The same computation driven by a sorting result instead of topk_ids/weights:
/// walks the valid blocks, skips padding rows (token >= tokens), and takes the
/// weight from sorted_weights. Agrees with moe_stage2_reference up to the order
/// of the slot sums. in.topk_ids / in.topk_weights are ignored.
Stage2Result moe_stage2_reference_sorted(const Stage2Shape& shape, const Stage2Inputs& in, const SortedRouting& sorted,
                                         const Stage2Options& options = {});

}  // namespace tilejit::moe
