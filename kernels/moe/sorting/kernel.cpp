// The MoE sorting kernel: per-expert counts, a serial scan, then every pair's rank within its expert.
//
// One workgroup of B = kMoeSortingThreads threads; P = tokens*topk pairs, E experts.
//  1. counts: thread t owns experts t, t+B, ... and counts the pairs routed to each (ceil(E/B)*P loads);
//  2. scan: each expert's first row, every expert padded to a multiple of block_size: thread t sums
//     the padded counts of a contiguous range of ceil(E/B) experts, a Hillis-Steele scan over the B
//     sums (log2 B barrier steps) gives each range's first row, and the thread walks its range
//     (with the E steps in one thread the whole launch took 13-27 us at 1 token on the H200, 128
//     and 384 experts: about one dependent shared-memory round trip and division per expert);
//     thread 0 writes num_valid_ids;
//  3. placement: thread t owns pairs t, t+B, ... and finds each one's row as its expert's first row
//     plus the number of earlier pairs with the same expert (up to ceil(P/B)*P loads); it also
//     writes its experts' padding rows and block expert ids, and its share of the tail;
//  0. (first, independent of the rest) zero_vectors 16-byte zeros from zero_out: the stage-2 output it
//     accumulates into, so that no memset launch is needed.
// Work per thread: O((E + P) * P / B + E), meant for decode sizes (P up to a few thousand). There are
// no atomics and every output element has exactly one writer, so the result is exact and deterministic.
#include "kernels/moe/sorting/kernel.h"

#include "dsl/tile/intrinsics.h"
#include "dsl/tilejit.h"

namespace tilejit::kernels {

using namespace dsl;

namespace {

const ir::Type kI32 = ir::Type::scalar(ir::Scalar::I32);

void sorting_body(Ptr<int32_t> topk_ids, Ptr<float> topk_weights, Ptr<int32_t> sorted_ids, Ptr<float> sorted_weights,
                  Ptr<int32_t> sorted_experts, Ptr<int32_t> num_valid, Int tokens, Int topk, Int experts,
                  Int block_size, Ptr<int32_t> zero_out, Int zero_vectors) {
  constexpr int B = kMoeSortingThreads;
  // A stage-2 kernel launched early after this one (MoeStage2A16W4::launch_early) may start its
  // blocks now; they wait for this kernel to finish before reading anything.
  tile::launch_dependents();
  // 0. The zero fill, consecutive threads on consecutive 16-byte vectors.
  for_range(thread_id(), zero_vectors, B, [&](Value v) { store(zero_out, v * 4, splat(Int(0), 4)); });

  SharedPtr<int32_t> counts = shared_array<int32_t>(kMoeSortingMaxExperts);
  SharedPtr<int32_t> starts = shared_array<int32_t>(kMoeSortingMaxExperts + 1);
  SharedPtr<int32_t> partial = shared_array<int32_t>(B);
  Value tid = thread_id();
  Value pairs = tokens * topk;
  auto round_up = [&](const Value& n) { return Value((n + block_size - 1) / block_size * block_size); };

  // 1. Pairs per expert (ids outside [0, experts) match no expert).
  for_range(tid, experts, B, [&](Value e) {
    Var<int32_t> n(0);
    for_range(0, pairs, [&](Value i) { n += zext(topk_ids[i] == e, kI32); });
    counts[e] = n;
  });
  barrier();

  // 2. Exclusive scan of the padded counts; starts[experts] = total padded rows.
  Value per = (experts + (B - 1)) / B;
  Value lo = min(tid * per, experts), hi = min(lo + per, experts);
  Var<int32_t> range_sum(0);
  for_range(lo, hi, [&](Value e) { range_sum += round_up(counts[e]); });
  partial[tid] = range_sum;
  barrier();
  for (int d = 1; d < B; d *= 2) {  // partial[t] becomes the sum of the ranges 0..t
    Value mine = partial[tid];
    Value earlier = select(tid >= d, Value(partial[max(tid - d, Int(0))]), Int(0));
    barrier();
    partial[tid] = mine + earlier;
    barrier();
  }
  Var<int32_t> row(Value(partial[tid]) - range_sum);
  for_range(lo, hi, [&](Value e) {
    starts[e] = row;
    row += round_up(counts[e]);
  });
  if_(tid == 0, [&] {
    Value total = partial[B - 1];
    starts[experts] = total;
    num_valid[0] = total;
    num_valid[1] = tokens;
  });
  barrier();

  // 3a. Padding rows and block expert ids of this thread's experts.
  Value pad_id = tokens | (topk << 24);
  for_range(tid, experts, B, [&](Value e) {
    Value first = starts[e], n = counts[e];
    Value end = first + round_up(n);
    for_range(first + n, end, [&](Value r) {
      sorted_ids[r] = pad_id;
      sorted_weights[r] = 0.0f;
    });
    for_range(first / block_size, end / block_size, [&](Value b) { sorted_experts[b] = e; });
  });

  // 3b. The tail past the valid rows, up to the capacity (as moe::moe_sorting_into fills it).
  Value total = starts[experts];
  Value max_rows = pairs + experts * block_size - topk;
  Value max_blocks = (max_rows + block_size - 1) / block_size;
  for_range(total + tid, max_rows, B, [&](Value r) {
    sorted_ids[r] = pad_id;
    sorted_weights[r] = 0.0f;
  });
  for_range(total / block_size + tid, max_blocks, B, [&](Value b) { sorted_experts[b] = -1; });

  // 3c. Each routed pair at its expert's first row + its rank among the expert's pairs in (token, slot) order.
  for_range(tid, pairs, B, [&](Value i) {
    Value e = topk_ids[i];
    if_((e >= 0) & (e < experts), [&] {
      Var<int32_t> rank(0);
      for_range(0, i, [&](Value j) { rank += zext(topk_ids[j] == e, kI32); });
      Value row = starts[e] + rank;
      Value token = i / topk, slot = i % topk;
      sorted_ids[row] = token | (slot << 24);
      sorted_weights[row] = topk_weights[i];
    });
  });
}

}  // namespace

const KernelDef& moe_sorting_kernel() {
  static const KernelDef def =
      kernel("moe_sorting",
             [](Ptr<int32_t> topk_ids, Ptr<float> topk_weights, Ptr<int32_t> sorted_ids, Ptr<float> sorted_weights,
                Ptr<int32_t> sorted_experts, Ptr<int32_t> num_valid, Int tokens, Int topk, Int experts,
                Int block_size, Ptr<int32_t> zero_out, Int zero_vectors) {
               sorting_body(topk_ids, topk_weights, sorted_ids, sorted_weights, sorted_experts, num_valid, tokens,
                            topk, experts, block_size, zero_out, zero_vectors);
             },
             {.block = {kMoeSortingThreads, 1, 1},
              .param_names = {"topk_ids", "topk_weights", "sorted_token_ids", "sorted_weights", "sorted_expert_ids",
                              "num_valid_ids", "tokens", "topk", "experts", "block_size", "zero_out",
                              "zero_vectors"},
              .trace_key = "one body, no configuration"});
  return def;
}

/// Registers the kernel at load time so that `tilejit kernels` / `tilejit compile moe_sorting` see it.
[[maybe_unused]] static const KernelDef& registered = moe_sorting_kernel();

}  // namespace tilejit::kernels
