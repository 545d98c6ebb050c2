// MoE sorting (aiter's moe_sorting): routed (token, slot) pairs grouped by expert and padded to blocks of tile_m rows.
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <vector>

namespace tilejit::moe {

/// Packed sorted id: token in the low 24 bits, slot above (`token | slot << 24`).
inline constexpr int32_t pack_sorted_id(int32_t token, int32_t slot) { return int32_t(uint32_t(token) | (uint32_t(slot) << 24)); }
/// Token of a packed sorted id.
inline constexpr int32_t sorted_id_token(int32_t id) { return int32_t(uint32_t(id) & 0xFFFFFFu); }
/// Slot of a packed sorted id.
inline constexpr int32_t sorted_id_slot(int32_t id) { return int32_t(uint32_t(id) >> 24); }

/// Largest token count a packed id can hold (the padding id uses `tokens` itself).
inline constexpr int64_t kMaxSortingTokens = (int64_t(1) << 24) - 1;
/// Largest topk: the padding id `tokens | topk << 24` must stay a non-negative i32.
inline constexpr int64_t kMaxSortingTopk = 127;

/// Capacity of sorted_token_ids / sorted_weights: tokens*topk + E*block_size - topk.
int64_t moe_sorting_max_rows(int64_t tokens, int64_t topk, int64_t num_experts, int64_t block_size);
/// Capacity of sorted_expert_ids: ceil(max_rows / block_size).
int64_t moe_sorting_max_blocks(int64_t tokens, int64_t topk, int64_t num_experts, int64_t block_size);

/// Sorting output, capacity-sized (see moe_sorting_max_rows / _max_blocks).
struct SortedRouting {
  int64_t block_size = 0;
  std::vector<int32_t> sorted_token_ids;   ///< packed ids, max_rows entries
  std::vector<float> sorted_weights;       ///< routing weight per row, 0 on padding
  std::vector<int32_t> sorted_expert_ids;  ///< expert of each block of block_size rows
  std::array<int32_t, 2> num_valid_ids{};  ///< [0] = total padded rows, [1] = tokens
  /// Blocks in use: num_valid_ids[0] / block_size.
  int64_t num_blocks() const { return block_size > 0 ? num_valid_ids[0] / block_size : 0; }
};

/// Checks the routing arguments shared by sorting and the reference: sizes of
/// topk_ids/topk_weights (= tokens*topk, row t*topk + s), 0 <= tokens <= 2^24-1,
/// 1 <= topk <= min(127, num_experts) (topk <= E keeps the capacity bound), and
/// every expert id in [0, num_experts) (the message names token and slot).
/// Throws std::invalid_argument naming the argument. Duplicate experts within a
/// token are allowed: each (token, slot) is a separate row.
void check_routing(const char* fn, std::span<const int32_t> topk_ids, std::span<const float> topk_weights, int64_t tokens,
                   int64_t topk, int64_t num_experts);

/// MoE sorting exactly per the contract (shared/reference/moe-stage2.md):
/// rows grouped expert by expert in increasing expert id, within an expert in
/// (token, slot) order, each expert's rows padded to a multiple of block_size
/// (= the kernel's tile_m) with id `tokens | topk << 24` and weight 0; experts
/// with no rows get no blocks; num_valid_ids = {total padded rows, tokens}.
/// Entries past num_valid_ids[0] are undefined by the contract; this function
/// fills them with the padding id, weight 0 and expert id -1.
SortedRouting moe_sorting(std::span<const int32_t> topk_ids, std::span<const float> topk_weights, int64_t tokens,
                          int64_t topk, int64_t num_experts, int64_t block_size);

/// moe_sorting into caller buffers (e.g. mapped device buffers): each must hold at
/// least its capacity (max_rows, max_rows, max_blocks, 2 entries); the tail up to
/// the buffer's size is filled as by moe_sorting. Throws std::invalid_argument
/// naming a buffer that is too small.
void moe_sorting_into(std::span<const int32_t> topk_ids, std::span<const float> topk_weights, int64_t tokens, int64_t topk,
                      int64_t num_experts, int64_t block_size, std::span<int32_t> sorted_token_ids,
                      std::span<float> sorted_weights, std::span<int32_t> sorted_expert_ids,
                      std::span<int32_t> num_valid_ids);

}  // namespace tilejit::moe
