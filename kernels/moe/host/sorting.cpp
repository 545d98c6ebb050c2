// MoE sorting: counting sort of routed pairs by expert, padded per expert to block_size.
#include "kernels/moe/host/sorting.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace tilejit::moe {
namespace {

void check_block_size(const char* fn, int64_t block_size) {
  if (block_size <= 0) throw std::invalid_argument(fmt::format("{}: block_size (= {}) must be positive", fn, block_size));
}

void check_buffer(const char* fn, const char* name, size_t size, int64_t needed) {
  if (int64_t(size) < needed)
    throw std::invalid_argument(fmt::format("{}: {} holds {} entries, needs at least {}", fn, name, size, needed));
}

}  // namespace

int64_t moe_sorting_max_rows(int64_t tokens, int64_t topk, int64_t num_experts, int64_t block_size) {
  return tokens * topk + num_experts * block_size - topk;
}

int64_t moe_sorting_max_blocks(int64_t tokens, int64_t topk, int64_t num_experts, int64_t block_size) {
  const int64_t rows = moe_sorting_max_rows(tokens, topk, num_experts, block_size);
  return (rows + block_size - 1) / block_size;
}

void check_routing(const char* fn, std::span<const int32_t> topk_ids, std::span<const float> topk_weights, int64_t tokens,
                   int64_t topk, int64_t num_experts) {
  if (num_experts <= 0) throw std::invalid_argument(fmt::format("{}: num_experts (= {}) must be positive", fn, num_experts));
  if (tokens < 0 || tokens > kMaxSortingTokens)
    throw std::invalid_argument(fmt::format("{}: tokens (= {}) must be in [0, {}]", fn, tokens, kMaxSortingTokens));
  if (topk < 1 || topk > kMaxSortingTopk || topk > num_experts)
    throw std::invalid_argument(fmt::format("{}: topk (= {}) must be in [1, min({}, num_experts = {})]", fn, topk,
                                            kMaxSortingTopk, num_experts));
  if (int64_t(topk_ids.size()) != tokens * topk)
    throw std::invalid_argument(fmt::format("{}: topk_ids has {} entries, expected tokens*topk = {}*{} = {}", fn,
                                            topk_ids.size(), tokens, topk, tokens * topk));
  if (int64_t(topk_weights.size()) != tokens * topk)
    throw std::invalid_argument(fmt::format("{}: topk_weights has {} entries, expected tokens*topk = {}*{} = {}", fn,
                                            topk_weights.size(), tokens, topk, tokens * topk));
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t s = 0; s < topk; ++s) {
      const int32_t e = topk_ids[size_t(t * topk + s)];
      if (e < 0 || e >= num_experts)
        throw std::invalid_argument(fmt::format("{}: topk_ids[token {}, slot {}] = {} is not an expert id in [0, {})", fn, t,
                                                s, e, num_experts));
    }
}

void moe_sorting_into(std::span<const int32_t> topk_ids, std::span<const float> topk_weights, int64_t tokens, int64_t topk,
                      int64_t num_experts, int64_t block_size, std::span<int32_t> sorted_token_ids,
                      std::span<float> sorted_weights, std::span<int32_t> sorted_expert_ids,
                      std::span<int32_t> num_valid_ids) {
  constexpr const char* fn = "moe_sorting";
  check_block_size(fn, block_size);
  check_routing(fn, topk_ids, topk_weights, tokens, topk, num_experts);
  check_buffer(fn, "sorted_token_ids", sorted_token_ids.size(), moe_sorting_max_rows(tokens, topk, num_experts, block_size));
  check_buffer(fn, "sorted_weights", sorted_weights.size(), moe_sorting_max_rows(tokens, topk, num_experts, block_size));
  check_buffer(fn, "sorted_expert_ids", sorted_expert_ids.size(),
               moe_sorting_max_blocks(tokens, topk, num_experts, block_size));
  check_buffer(fn, "num_valid_ids", num_valid_ids.size(), 2);
  if (moe_sorting_max_rows(tokens, topk, num_experts, block_size) > INT32_MAX)
    throw std::invalid_argument(fmt::format("{}: capacity tokens*topk + num_experts*block_size - topk = {} exceeds the i32 range",
                                            fn, moe_sorting_max_rows(tokens, topk, num_experts, block_size)));

  // Counting sort: rows per expert, then each expert's first row.
  std::vector<int64_t> count(size_t(num_experts), 0);
  for (int32_t e : topk_ids) ++count[size_t(e)];
  std::vector<int64_t> start(size_t(num_experts), 0);
  int64_t total = 0;
  for (int64_t e = 0; e < num_experts; ++e) {
    start[size_t(e)] = total;
    total += (count[size_t(e)] + block_size - 1) / block_size * block_size;
  }

  const int32_t pad_id = pack_sorted_id(int32_t(tokens), int32_t(topk));
  std::fill(sorted_token_ids.begin(), sorted_token_ids.end(), pad_id);
  std::fill(sorted_weights.begin(), sorted_weights.end(), 0.0f);
  std::fill(sorted_expert_ids.begin(), sorted_expert_ids.end(), -1);

  // Scanning pairs in (token, slot) order keeps that order inside each expert.
  std::vector<int64_t> next = start;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t s = 0; s < topk; ++s) {
      const size_t pair = size_t(t * topk + s);
      const int64_t row = next[size_t(topk_ids[pair])]++;
      sorted_token_ids[size_t(row)] = pack_sorted_id(int32_t(t), int32_t(s));
      sorted_weights[size_t(row)] = topk_weights[pair];
    }
  for (int64_t e = 0; e < num_experts; ++e) {
    const int64_t padded = (count[size_t(e)] + block_size - 1) / block_size * block_size;
    for (int64_t b = start[size_t(e)] / block_size; b < (start[size_t(e)] + padded) / block_size; ++b)
      sorted_expert_ids[size_t(b)] = int32_t(e);
  }
  num_valid_ids[0] = int32_t(total);
  num_valid_ids[1] = int32_t(tokens);
}

SortedRouting moe_sorting(std::span<const int32_t> topk_ids, std::span<const float> topk_weights, int64_t tokens,
                          int64_t topk, int64_t num_experts, int64_t block_size) {
  check_block_size("moe_sorting", block_size);
  check_routing("moe_sorting", topk_ids, topk_weights, tokens, topk, num_experts);
  SortedRouting r;
  r.block_size = block_size;
  r.sorted_token_ids.resize(size_t(moe_sorting_max_rows(tokens, topk, num_experts, block_size)));
  r.sorted_weights.resize(r.sorted_token_ids.size());
  r.sorted_expert_ids.resize(size_t(moe_sorting_max_blocks(tokens, topk, num_experts, block_size)));
  moe_sorting_into(topk_ids, topk_weights, tokens, topk, num_experts, block_size, r.sorted_token_ids, r.sorted_weights,
                   r.sorted_expert_ids, r.num_valid_ids);
  return r;
}

}  // namespace tilejit::moe
