// Reference stage 2: per expert, dequantise W[e] once, then double dot products for every routed pair.
#include "kernels/moe/host/reference.h"

#include <fmt/format.h>

#include <stdexcept>

#include "dsl/ir/numeric.h"
#include "kernels/moe/host/bf16_round.h"
#include "kernels/mxfp4/quantize.h"

namespace tilejit::moe {
namespace {

// One routed pair: which A row it reads, which output row it adds to, its expert and weight.
struct Pair {
  int64_t a_row;
  int64_t out_row;
  int32_t expert;
  float weight;
};

void check_size(const char* fn, const char* name, size_t size, int64_t expected, const char* formula) {
  if (int64_t(size) != expected)
    throw std::invalid_argument(fmt::format("{}: {} has {} entries, expected {} = {}", fn, name, size, formula, expected));
}

void check_shape_and_data(const char* fn, const Stage2Shape& s, const Stage2Inputs& in) {
  if (s.model_dim <= 0) throw std::invalid_argument(fmt::format("{}: model_dim (= {}) must be positive", fn, s.model_dim));
  if (s.inter_dim <= 0 || s.inter_dim % mxfp4::kBlockSize != 0)
    throw std::invalid_argument(fmt::format("{}: inter_dim (= {}) must be a positive multiple of 32", fn, s.inter_dim));
  if (s.num_experts <= 0)
    throw std::invalid_argument(fmt::format("{}: num_experts (= {}) must be positive", fn, s.num_experts));
  if (s.tokens < 0) throw std::invalid_argument(fmt::format("{}: tokens (= {}) must not be negative", fn, s.tokens));
  if (s.topk < 1) throw std::invalid_argument(fmt::format("{}: topk (= {}) must be positive", fn, s.topk));
  const int64_t N = s.model_dim, K = s.inter_dim, E = s.num_experts;
  check_size(fn, "a", in.a.size(), s.tokens * s.topk * K, "tokens*topk*inter_dim");
  check_size(fn, "w_packed", in.w_packed.size(), E * N * K / 2, "E*model_dim*inter_dim/2");
  check_size(fn, "w_scales", in.w_scales.size(), E * N * K / 32, "E*model_dim*inter_dim/32");
  if (!in.bias.empty()) check_size(fn, "bias", in.bias.size(), E * N, "E*model_dim (or empty)");
}

Stage2Result run(const Stage2Shape& s, const Stage2Inputs& in, const Stage2Options& opt, const std::vector<Pair>& pairs) {
  const int64_t N = s.model_dim, K = s.inter_dim, E = s.num_experts;
  Stage2Result r;
  r.rows = opt.accumulate ? s.tokens : s.tokens * s.topk;
  r.cols = N;
  r.exact.assign(size_t(r.rows * N), 0.0);

  std::vector<std::vector<const Pair*>> by_expert(static_cast<size_t>(E));
  for (const Pair& p : pairs) by_expert[size_t(p.expert)].push_back(&p);

  std::vector<double> a_row(static_cast<size_t>(K));
  for (int64_t e = 0; e < E; ++e) {
    if (by_expert[size_t(e)].empty()) continue;
    const std::vector<float> w = mxfp4::dequantize(in.w_packed.subspan(size_t(e * N * K / 2), size_t(N * K / 2)),
                                                   in.w_scales.subspan(size_t(e * N * K / 32), size_t(N * K / 32)), N, K);
    for (const Pair* p : by_expert[size_t(e)]) {
      for (int64_t k = 0; k < K; ++k) a_row[size_t(k)] = ir::bf16_to_f32(in.a[size_t(p->a_row * K + k)]);
      for (int64_t n = 0; n < N; ++n) {
        const float* wr = w.data() + n * K;
        double dot = 0.0;
        for (int64_t k = 0; k < K; ++k) dot += a_row[size_t(k)] * double(wr[k]);
        if (!in.bias.empty()) dot += double(in.bias[size_t(e * N + n)]);
        if (opt.doweight) dot *= double(p->weight);
        r.exact[size_t(p->out_row * N + n)] += dot;
      }
    }
  }
  if (opt.output == OutputType::f32) {
    r.out_f32.resize(r.exact.size());
    for (size_t i = 0; i < r.exact.size(); ++i) r.out_f32[i] = float(r.exact[i]);
  } else {
    r.out_bf16.resize(r.exact.size());
    for (size_t i = 0; i < r.exact.size(); ++i) r.out_bf16[i] = double_to_bf16(r.exact[i]);
  }
  return r;
}

}  // namespace

Stage2Result moe_stage2_reference(const Stage2Shape& shape, const Stage2Inputs& in, const Stage2Options& options) {
  constexpr const char* fn = "moe_stage2_reference";
  check_shape_and_data(fn, shape, in);
  check_routing(fn, in.topk_ids, in.topk_weights, shape.tokens, shape.topk, shape.num_experts);
  std::vector<Pair> pairs;
  pairs.reserve(size_t(shape.tokens * shape.topk));
  for (int64_t t = 0; t < shape.tokens; ++t)
    for (int64_t s = 0; s < shape.topk; ++s) {
      const int64_t i = t * shape.topk + s;
      pairs.push_back({i, options.accumulate ? t : i, in.topk_ids[size_t(i)], in.topk_weights[size_t(i)]});
    }
  return run(shape, in, options, pairs);
}

Stage2Result moe_stage2_reference_sorted(const Stage2Shape& shape, const Stage2Inputs& in, const SortedRouting& sorted,
                                         const Stage2Options& options) {
  constexpr const char* fn = "moe_stage2_reference_sorted";
  check_shape_and_data(fn, shape, in);
  const int64_t bs = sorted.block_size;
  if (bs <= 0) throw std::invalid_argument(fmt::format("{}: sorted.block_size (= {}) must be positive", fn, bs));
  const int64_t valid = sorted.num_valid_ids[0];
  if (valid < 0 || valid % bs != 0 || valid > int64_t(sorted.sorted_token_ids.size()) ||
      valid > int64_t(sorted.sorted_weights.size()) || valid / bs > int64_t(sorted.sorted_expert_ids.size()))
    throw std::invalid_argument(fmt::format(
        "{}: sorted.num_valid_ids[0] (= {}) must be a multiple of block_size {} within the sorted arrays", fn, valid, bs));
  std::vector<Pair> pairs;
  for (int64_t row = 0; row < valid; ++row) {
    const int32_t id = sorted.sorted_token_ids[size_t(row)];
    const int64_t t = sorted_id_token(id), s = sorted_id_slot(id);
    if (t >= shape.tokens) continue;  // padding
    if (s >= shape.topk)
      throw std::invalid_argument(fmt::format("{}: sorted_token_ids[{}] has slot {} >= topk {}", fn, row, s, shape.topk));
    const int32_t e = sorted.sorted_expert_ids[size_t(row / bs)];
    if (e < 0 || e >= shape.num_experts)
      throw std::invalid_argument(fmt::format("{}: sorted_expert_ids[{}] = {} is not an expert id in [0, {})", fn, row / bs,
                                              e, shape.num_experts));
    const int64_t i = t * shape.topk + s;
    pairs.push_back({i, options.accumulate ? t : i, e, sorted.sorted_weights[size_t(row)]});
  }
  return run(shape, in, options, pairs);
}

}  // namespace tilejit::moe
