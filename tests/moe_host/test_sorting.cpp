// Tests of MoE sorting against an independent brute-force construction.
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <set>
#include <stdexcept>
#include <tuple>

#include "kernels/moe/host/moe_host.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::moe {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

// The contract, built the slow way: sort (expert, token, slot) triples, then pad each expert's run.
struct Expected {
  std::vector<int32_t> ids;
  std::vector<float> weights;
  std::vector<int32_t> experts;
};

Expected brute_force(const std::vector<int32_t>& topk_ids, const std::vector<float>& topk_w, int64_t tokens, int64_t topk,
                     int64_t E, int64_t bs) {
  std::vector<std::tuple<int32_t, int64_t, int64_t>> triples;
  for (int64_t t = 0; t < tokens; ++t)
    for (int64_t s = 0; s < topk; ++s) triples.emplace_back(topk_ids[size_t(t * topk + s)], t, s);
  std::sort(triples.begin(), triples.end());
  Expected x;
  for (int32_t e = 0; e < E; ++e) {
    int64_t n = 0;
    for (const auto& [te, t, s] : triples)
      if (te == e) {
        x.ids.push_back(int32_t(t | (s << 24)));
        x.weights.push_back(topk_w[size_t(t * topk + s)]);
        ++n;
      }
    while (n % bs != 0) {
      x.ids.push_back(int32_t(tokens | (topk << 24)));
      x.weights.push_back(0.0f);
      ++n;
    }
    for (int64_t b = 0; b < n / bs; ++b) x.experts.push_back(e);
  }
  return x;
}

void check_against_brute_force(const std::vector<int32_t>& ids, const std::vector<float>& w, int64_t tokens, int64_t topk,
                               int64_t E, int64_t bs) {
  const SortedRouting r = moe_sorting(ids, w, tokens, topk, E, bs);
  const Expected x = brute_force(ids, w, tokens, topk, E, bs);
  const int64_t cap = tokens * topk + E * bs - topk;
  ASSERT_EQ(int64_t(r.sorted_token_ids.size()), cap);
  ASSERT_EQ(int64_t(r.sorted_weights.size()), cap);
  ASSERT_EQ(int64_t(r.sorted_expert_ids.size()), (cap + bs - 1) / bs);
  ASSERT_EQ(r.num_valid_ids[0], int32_t(x.ids.size()));
  ASSERT_EQ(r.num_valid_ids[1], int32_t(tokens));
  ASSERT_LE(int64_t(x.ids.size()), cap) << "capacity bound";
  ASSERT_EQ(r.num_blocks(), int64_t(x.experts.size()));
  for (size_t i = 0; i < x.ids.size(); ++i) {
    ASSERT_EQ(r.sorted_token_ids[i], x.ids[i]) << "row " << i;
    ASSERT_EQ(std::bit_cast<uint32_t>(r.sorted_weights[i]), std::bit_cast<uint32_t>(x.weights[i])) << "row " << i;
  }
  for (size_t b = 0; b < x.experts.size(); ++b) ASSERT_EQ(r.sorted_expert_ids[b], x.experts[b]) << "block " << b;
  // The tail (undefined by the contract) holds padding, weight 0 and expert -1.
  for (size_t i = x.ids.size(); i < r.sorted_token_ids.size(); ++i) {
    ASSERT_EQ(r.sorted_token_ids[i], int32_t(tokens | (topk << 24)));
    ASSERT_EQ(r.sorted_weights[i], 0.0f);
  }
  for (size_t b = x.experts.size(); b < r.sorted_expert_ids.size(); ++b) ASSERT_EQ(r.sorted_expert_ids[b], -1);
}

TEST(MoeSorting, MatchesBruteForceOnRandomRoutings) {
  SeededRng rng;
  int ragged = 0, empty = 0;
  for (int trial = 0; trial < 300; ++trial) {
    const int64_t E = uniform(*rng, 1, 40);
    const int64_t topk = uniform(*rng, 1, std::min<int64_t>(E, 8));
    const int64_t tokens = trial % 5 == 0 ? 1 : uniform(*rng, 1, 200);
    const int64_t bs = std::vector<int64_t>{1, 4, 16, 32, uniform(*rng, 2, 40)}[size_t(uniform(*rng, 0, 4))];
    RoutingOptions opt;
    opt.empty_experts = uniform(*rng, 0, E - topk);
    opt.skew = double(uniform(*rng, 0, 20)) / 10.0;
    const Routing routing = random_routing(*rng, tokens, topk, E, opt);
    SCOPED_TRACE(testing::Message() << "E " << E << " topk " << topk << " tokens " << tokens << " block " << bs);
    check_against_brute_force(routing.topk_ids, routing.topk_weights, tokens, topk, E, bs);
    std::vector<int64_t> count(size_t(E), 0);
    for (int32_t e : routing.topk_ids) ++count[size_t(e)];
    for (int64_t c : count) ragged += c % bs != 0, empty += c == 0;
  }
  EXPECT_GT(ragged, 0) << "no expert count was a non-multiple of the block size";
  EXPECT_GT(empty, 0) << "no empty expert was exercised";
}

TEST(MoeSorting, DuplicateExpertsKeepTokenSlotOrder) {
  // Experts drawn with replacement, so one token can reach an expert through several slots.
  SeededRng rng;
  for (int trial = 0; trial < 200; ++trial) {
    const int64_t E = uniform(*rng, 1, 6), topk = uniform(*rng, 1, E), tokens = uniform(*rng, 1, 30);
    const int64_t bs = uniform(*rng, 1, 8);
    std::vector<int32_t> ids(size_t(tokens * topk));
    for (auto& e : ids) e = int32_t(uniform(*rng, 0, E - 1));
    std::vector<float> w(ids.size());
    for (auto& x : w) x = std::uniform_real_distribution<float>(0.0f, 1.0f)(*rng);
    SCOPED_TRACE(testing::Message() << "E " << E << " topk " << topk << " tokens " << tokens << " block " << bs);
    check_against_brute_force(ids, w, tokens, topk, E, bs);
  }
}

TEST(MoeSorting, TopkOneAndSingleToken) {
  SeededRng rng;
  for (int64_t bs : {1, 3, 16}) {
    const int64_t E = uniform(*rng, 1, 10);
    const Routing one = random_routing(*rng, 1, 1, E);
    check_against_brute_force(one.topk_ids, one.topk_weights, 1, 1, E, bs);
    const int64_t tokens = uniform(*rng, 2, 50);
    const Routing r = random_routing(*rng, tokens, 1, E);
    check_against_brute_force(r.topk_ids, r.topk_weights, tokens, 1, E, bs);
  }
  // No tokens at all: no blocks.
  const SortedRouting none = moe_sorting({}, {}, 0, 2, 4, 16);
  EXPECT_EQ(none.num_valid_ids[0], 0);
  EXPECT_EQ(none.num_valid_ids[1], 0);
}

TEST(MoeSorting, ExhaustiveTinyRoutingsAndCapacity) {
  // Every routing with distinct experts per token for E = 3, tokens 1..3; block sizes 1..5.
  const int64_t E = 3;
  SeededRng rng;
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int64_t topk = 1; topk <= 3; ++topk) {
    std::vector<std::vector<int32_t>> choices;  // ordered distinct tuples
    std::vector<int32_t> perm = {0, 1, 2};
    std::set<std::vector<int32_t>> uniq;
    do uniq.insert(std::vector<int32_t>(perm.begin(), perm.begin() + topk));
    while (std::next_permutation(perm.begin(), perm.end()));
    choices.assign(uniq.begin(), uniq.end());
    for (int64_t tokens = 1; tokens <= 3; ++tokens) {
      int64_t combos = 1;
      for (int64_t t = 0; t < tokens; ++t) combos *= int64_t(choices.size());
      for (int64_t c = 0; c < combos; ++c) {
        std::vector<int32_t> ids;
        int64_t rest = c;
        for (int64_t t = 0; t < tokens; ++t, rest /= int64_t(choices.size()))
          ids.insert(ids.end(), choices[size_t(rest % int64_t(choices.size()))].begin(),
                     choices[size_t(rest % int64_t(choices.size()))].end());
        std::vector<float> w(ids.size());
        for (auto& x : w) x = u(*rng);
        for (int64_t bs = 1; bs <= 5; ++bs) check_against_brute_force(ids, w, tokens, topk, E, bs);
      }
    }
  }
}

TEST(MoeSorting, WorstCasePaddingFitsTheCapacity) {
  SeededRng rng;
  for (int trial = 0; trial < 50; ++trial) {
    // Every expert gets a count of 1 modulo the block size where possible: the most padding.
    const int64_t bs = uniform(*rng, 2, 32), E = uniform(*rng, 2, 20), topk = uniform(*rng, 1, E);
    const int64_t tokens = E * uniform(*rng, 1, 3);
    std::vector<int32_t> ids;
    for (int64_t t = 0; t < tokens; ++t)
      for (int64_t s = 0; s < topk; ++s) ids.push_back(int32_t((t + s) % E));
    std::vector<float> w(ids.size(), 0.5f);
    const SortedRouting r = moe_sorting(ids, w, tokens, topk, E, bs);
    EXPECT_LE(int64_t(r.num_valid_ids[0]), moe_sorting_max_rows(tokens, topk, E, bs));
    EXPECT_LE(r.num_blocks(), moe_sorting_max_blocks(tokens, topk, E, bs));
    check_against_brute_force(ids, w, tokens, topk, E, bs);
  }
}

TEST(MoeSorting, PaddingRowsAndEmptyExperts) {
  SeededRng rng;
  const int64_t E = 16, topk = 4, tokens = uniform(*rng, 20, 60), bs = 16;
  RoutingOptions opt;
  opt.empty_experts = 5;
  opt.skew = 1.0;
  const Routing routing = random_routing(*rng, tokens, topk, E, opt);
  const SortedRouting r = moe_sorting(routing.topk_ids, routing.topk_weights, tokens, topk, E, bs);
  const int32_t pad = int32_t(tokens | (topk << 24));
  std::vector<int64_t> seen_pairs(size_t(tokens * topk), 0);
  for (int64_t b = 0; b < r.num_blocks(); ++b) {
    const int32_t e = r.sorted_expert_ids[size_t(b)];
    ASSERT_FALSE(std::binary_search(routing.empty_experts.begin(), routing.empty_experts.end(), e)) << "empty expert " << e;
    if (b > 0) ASSERT_LE(r.sorted_expert_ids[size_t(b - 1)], e) << "experts in increasing order";
    bool in_padding = false;
    for (int64_t i = b * bs; i < (b + 1) * bs; ++i) {
      const int32_t id = r.sorted_token_ids[size_t(i)];
      if (id == pad) {
        ASSERT_EQ(r.sorted_weights[size_t(i)], 0.0f);
        in_padding = true;
        continue;
      }
      ASSERT_FALSE(in_padding) << "a real row after padding in block " << b;
      const int32_t t = sorted_id_token(id), s = sorted_id_slot(id);
      ASSERT_LT(t, tokens);
      ASSERT_LT(s, topk);
      ASSERT_EQ(routing.topk_ids[size_t(t * topk + s)], e);
      ASSERT_EQ(r.sorted_weights[size_t(i)], routing.topk_weights[size_t(t * topk + s)]);
      ++seen_pairs[size_t(t * topk + s)];
    }
  }
  for (size_t i = 0; i < seen_pairs.size(); ++i) ASSERT_EQ(seen_pairs[i], 1) << "pair " << i << " placed once";
}

TEST(MoeSorting, IntoCallerBuffersWritesEverything) {
  SeededRng rng;
  const int64_t E = 8, topk = 2, tokens = uniform(*rng, 1, 40), bs = 4;
  const Routing routing = random_routing(*rng, tokens, topk, E);
  const int64_t rows = moe_sorting_max_rows(tokens, topk, E, bs), blocks = moe_sorting_max_blocks(tokens, topk, E, bs);
  std::vector<int32_t> ids(size_t(rows + 3), 0x5A5A5A5A), eids(size_t(blocks), 0x5A5A5A5A), nv(2, 0x5A5A5A5A);
  std::vector<float> w(size_t(rows), NAN);
  moe_sorting_into(routing.topk_ids, routing.topk_weights, tokens, topk, E, bs, ids, w, eids, nv);
  const SortedRouting r = moe_sorting(routing.topk_ids, routing.topk_weights, tokens, topk, E, bs);
  EXPECT_EQ(std::vector<int32_t>(ids.begin(), ids.begin() + rows), r.sorted_token_ids);
  for (int64_t i = rows; i < rows + 3; ++i) EXPECT_EQ(ids[size_t(i)], int32_t(tokens | (topk << 24)));
  EXPECT_EQ(eids, r.sorted_expert_ids);
  EXPECT_EQ(nv[0], r.num_valid_ids[0]);
  EXPECT_EQ(nv[1], r.num_valid_ids[1]);
  for (size_t i = 0; i < w.size(); ++i) ASSERT_EQ(w[i], r.sorted_weights[i]) << "row " << i;
  std::vector<int32_t> small(size_t(blocks - 1));
  expect_throw_with<std::invalid_argument>(
      [&] { moe_sorting_into(routing.topk_ids, routing.topk_weights, tokens, topk, E, bs, ids, w, small, nv); },
      {"sorted_expert_ids"});
  std::vector<float> wsmall(size_t(rows - 1));
  expect_throw_with<std::invalid_argument>(
      [&] { moe_sorting_into(routing.topk_ids, routing.topk_weights, tokens, topk, E, bs, ids, wsmall, eids, nv); },
      {"sorted_weights"});
}

TEST(MoeSorting, PackedIdHelpers) {
  SeededRng rng;
  for (int i = 0; i < 1000; ++i) {
    const int32_t t = int32_t(uniform(*rng, 0, (1 << 24) - 1)), s = int32_t(uniform(*rng, 0, 127));
    const int32_t id = pack_sorted_id(t, s);
    ASSERT_GE(id, 0);
    ASSERT_EQ(id, int32_t(uint32_t(t) + uint32_t(s) * (1u << 24)));
    ASSERT_EQ(sorted_id_token(id), t);
    ASSERT_EQ(sorted_id_slot(id), s);
  }
}

TEST(MoeSorting, ArgumentErrorsNameTheProblem) {
  std::vector<int32_t> ids = {0, 1, 2, 3, 1, 0, 3, 7};  // tokens 4, topk 2, E 4: token 3 slot 1 is out of range
  std::vector<float> w(8, 0.5f);
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, w, 4, 2, 4, 16); }, {"token 3", "slot 1", "7"});
  ids[7] = -1;
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, w, 4, 2, 4, 16); }, {"token 3", "slot 1", "-1"});
  ids[7] = 2;
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, w, 4, 2, 4, 0); }, {"block_size"});
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, w, 4, 2, 1, 16); }, {"topk", "num_experts"});
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, w, 3, 2, 4, 16); }, {"topk_ids", "6"});
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, std::span(w).first(7), 4, 2, 4, 16); }, {"topk_weights"});
  expect_throw_with<std::invalid_argument>([&] { moe_sorting(ids, w, 4, 2, 0, 16); }, {"num_experts"});
  expect_throw_with<std::invalid_argument>([&] { moe_sorting({}, {}, int64_t(1) << 24, 1, 4, 16); }, {"tokens"});
  expect_throw_with<std::invalid_argument>([&] { moe_sorting({}, {}, 0, 128, 200, 16); }, {"topk", "128"});
}

}  // namespace
}  // namespace tilejit::moe
