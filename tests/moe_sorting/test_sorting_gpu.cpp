// The MoE sorting kernel on the emulator (gfx950 and sm_90a layouts) against moe::moe_sorting.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "backend/emulator/emulator.h"
#include "backend/launch/buffer.h"
#include "backend/llvm/compile.h"
#include "dsl/ir/verifier.h"
#include "kernels/moe/host/moe_host.h"
#include "kernels/moe/sorting/api.h"
#include "kernels/moe/sorting/kernel.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::kernels {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

constexpr uint8_t kPoison = 0xA5;
constexpr int32_t kPoisonWord = int32_t(0xA5A5A5A5u);
// Extra poisoned entries after each output's capacity: writes past the capacity show there.
constexpr size_t kSlack = 8;

std::string target_name(Target t) { return t == Target::Sm90a ? "sm90a" : "gfx950"; }

/// One emulator per target for the whole process: compiled kernels are memoised per Device
/// address, so a device must outlive every kernel compiled for it (these live until exit).
Device& test_device(Target t) {
  static Device* gfx950 = emulator::make_emulator_device({.target = Target::Gfx950, .threads = 2}).release();
  static Device* sm90a = emulator::make_emulator_device({.target = Target::Sm90a, .threads = 2}).release();
  return t == Target::Gfx950 ? *gfx950 : *sm90a;
}

/// Device outputs sized capacity + kSlack, poisoned.
struct Outputs {
  Buffer<int32_t> ids, experts, valid;
  Buffer<float> weights;
  Outputs(Device& d, int64_t rows, int64_t blocks)
      : ids(d, size_t(rows) + kSlack), experts(d, size_t(blocks) + kSlack), valid(d, 2 + kSlack),
        weights(d, size_t(rows) + kSlack) {
    ids.fill_bytes(kPoison);
    experts.fill_bytes(kPoison);
    valid.fill_bytes(kPoison);
    weights.fill_bytes(kPoison);
  }
};

/// Runs the kernel on `device` and returns its outputs (capacity + slack entries each).
struct Downloaded {
  std::vector<int32_t> ids, experts, valid;
  std::vector<float> weights;
};

Downloaded run_gpu(Device& device, const std::vector<int32_t>& topk_ids, const std::vector<float>& topk_weights, int tokens,
                   int topk, int experts, int bs, Stream* stream = nullptr) {
  const int64_t rows = moe::moe_sorting_max_rows(tokens, topk, experts, bs);
  const int64_t blocks = moe::moe_sorting_max_blocks(tokens, topk, experts, bs);
  Buffer<int32_t> ids_in(device, std::span<const int32_t>(topk_ids));
  Buffer<float> w_in(device, std::span<const float>(topk_weights));
  Outputs out(device, rows, blocks);
  moe_sorting_gpu(device, ids_in.ptr(), w_in.ptr(), tokens, topk, experts, bs, out.ids.ptr(), out.weights.ptr(),
                  out.experts.ptr(), out.valid.ptr(), stream);
  if (stream) stream->synchronize();
  device.synchronize();
  return {out.ids.download(), out.experts.download(), out.valid.download(), out.weights.download()};
}

/// The kernel wrote exactly the capacity: the slack after it still holds the poison.
void expect_slack_untouched(const Downloaded& got, size_t rows, size_t blocks) {
  for (size_t i = 0; i < kSlack; ++i) {
    EXPECT_EQ(got.ids[rows + i], kPoisonWord) << "sorted_token_ids written past capacity at " << rows + i;
    EXPECT_EQ(std::bit_cast<int32_t>(got.weights[rows + i]), kPoisonWord) << "sorted_weights past capacity";
    EXPECT_EQ(got.experts[blocks + i], kPoisonWord) << "sorted_expert_ids written past capacity at " << blocks + i;
    EXPECT_EQ(got.valid[2 + i], kPoisonWord) << "num_valid_ids written past [2]";
  }
}

struct Case {
  const char* name;
  int tokens, topk, experts, block_size;
  int empty_experts;
  double skew;
  bool duplicates;  ///< experts drawn with replacement (the same expert twice in one token)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

struct SortingGpu : ::testing::TestWithParam<std::tuple<Case, Target>> {};

TEST_P(SortingGpu, MatchesHostSorting) {
  const auto& [c, target] = GetParam();
  SeededRng rng;
  std::vector<int32_t> topk_ids;
  std::vector<float> topk_weights;
  if (c.duplicates) {
    for (int i = 0; i < c.tokens * c.topk; ++i) topk_ids.push_back(int32_t(uniform(*rng, 0, c.experts - 1)));
    topk_weights = moe::random_f32_normal(*rng, topk_ids.size());
  } else {
    moe::Routing r = moe::random_routing(*rng, c.tokens, c.topk, c.experts, {c.empty_experts, c.skew});
    topk_ids = r.topk_ids;
    topk_weights = r.topk_weights;
  }
  const moe::SortedRouting want = moe::moe_sorting(topk_ids, topk_weights, c.tokens, c.topk, c.experts, c.block_size);

  const Downloaded got = run_gpu(test_device(target), topk_ids, topk_weights, c.tokens, c.topk, c.experts, c.block_size);
  const size_t rows = want.sorted_token_ids.size(), blocks = want.sorted_expert_ids.size();

  ASSERT_EQ(got.valid[0], want.num_valid_ids[0]) << "num_valid_ids[0]";
  ASSERT_EQ(got.valid[1], want.num_valid_ids[1]) << "num_valid_ids[1]";
  ASSERT_EQ(want.num_valid_ids[0] % c.block_size, 0);
  // The valid prefix, exactly (weights bit for bit).
  const size_t valid = size_t(want.num_valid_ids[0]);
  for (size_t i = 0; i < valid; ++i) {
    ASSERT_EQ(got.ids[i], want.sorted_token_ids[i]) << "sorted_token_ids[" << i << "]";
    ASSERT_EQ(std::bit_cast<uint32_t>(got.weights[i]), std::bit_cast<uint32_t>(want.sorted_weights[i]))
        << "sorted_weights[" << i << "]";
  }
  for (size_t b = 0; b < valid / size_t(c.block_size); ++b)
    ASSERT_EQ(got.experts[b], want.sorted_expert_ids[b]) << "sorted_expert_ids[" << b << "]";
  // The tail is filled as moe_sorting fills it (padding id, weight 0, expert -1), up to the capacity.
  for (size_t i = valid; i < rows; ++i) {
    ASSERT_EQ(got.ids[i], want.sorted_token_ids[i]) << "tail sorted_token_ids[" << i << "]";
    ASSERT_EQ(std::bit_cast<uint32_t>(got.weights[i]), 0u) << "tail sorted_weights[" << i << "]";
  }
  for (size_t b = valid / size_t(c.block_size); b < blocks; ++b)
    ASSERT_EQ(got.experts[b], -1) << "tail sorted_expert_ids[" << b << "]";
  expect_slack_untouched(got, rows, blocks);
}

const Case kCases[] = {
    // name, tokens, topk, experts, block_size, empty_experts, skew, duplicates
    {"decode", 5, 2, 8, 16, 0, 0, false},
    {"one_token_topk1", 1, 1, 4, 16, 0, 0, false},
    {"no_tokens", 0, 2, 4, 16, 0, 0, false},
    {"empty_experts_ragged", 37, 4, 16, 16, 5, 1.5, false},
    {"block_not_pow2", 23, 3, 7, 5, 2, 0.5, false},
    {"block_size_1", 9, 2, 6, 1, 1, 0, false},
    {"more_experts_than_threads", 20, 8, 300, 16, 40, 1.0, false},
    {"more_pairs_than_threads", 70, 6, 32, 32, 4, 1.2, false},
    {"duplicate_experts_in_token", 13, 4, 5, 4, 0, 0, true},
    // The scan's ranges: 16 experts per thread at the limit, and fewer experts than threads.
    {"max_experts", 5, 8, 4096, 16, 100, 1.0, false},
    {"experts_not_multiple_of_threads", 31, 4, 257, 8, 3, 0.7, false},
};

INSTANTIATE_TEST_SUITE_P(Cases, SortingGpu,
                         ::testing::Combine(::testing::ValuesIn(kCases), ::testing::Values(Target::Sm90a, Target::Gfx950)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) + "_" + target_name(std::get<1>(info.param));
                         });

// Pairs routed to an id outside [0, experts) are dropped; checked against a plain counting sort that skips them.
TEST(SortingGpuDrop, OutOfRangeExpertIdsAreNotRouted) {
  SeededRng rng;
  const int tokens = 11, topk = 3, E = 6, bs = 4;
  std::vector<int32_t> ids(size_t(tokens * topk));
  for (auto& e : ids) e = int32_t(uniform(*rng, 0, E - 1));
  ids[size_t(uniform(*rng, 0, tokens * topk - 1))] = E;   // one past the last expert
  ids[size_t(uniform(*rng, 0, tokens * topk - 1))] = -1;  // negative
  const std::vector<float> w = moe::random_f32_normal(*rng, ids.size());

  std::vector<int32_t> want_ids, want_experts;
  std::vector<float> want_w;
  for (int e = 0; e < E; ++e) {
    size_t n = 0;
    for (int i = 0; i < tokens * topk; ++i)
      if (ids[size_t(i)] == e) {
        want_ids.push_back((i / topk) | ((i % topk) << 24));
        want_w.push_back(w[size_t(i)]);
        ++n;
      }
    for (; n % bs; ++n) {
      want_ids.push_back(tokens | (topk << 24));
      want_w.push_back(0.0f);
    }
    for (size_t b = 0; b < n / bs; ++b) want_experts.push_back(e);
  }
  for (Target t : {Target::Sm90a, Target::Gfx950}) {
    SCOPED_TRACE(target_name(t));
    const Downloaded got = run_gpu(test_device(t), ids, w, tokens, topk, E, bs);
    ASSERT_EQ(got.valid[0], int32_t(want_ids.size()));
    ASSERT_EQ(got.valid[1], tokens);
    for (size_t i = 0; i < want_ids.size(); ++i) {
      EXPECT_EQ(got.ids[i], want_ids[i]) << i;
      EXPECT_EQ(std::bit_cast<uint32_t>(got.weights[i]), std::bit_cast<uint32_t>(want_w[i])) << i;
    }
    for (size_t b = 0; b < want_experts.size(); ++b) EXPECT_EQ(got.experts[b], want_experts[b]) << b;
  }
}

// A stream of the device works like the default stream; a second launch overwrites a first one's output.
TEST(SortingGpuStream, LaunchOnStreamAndReuse) {
  SeededRng rng;
  Device& device = test_device(Target::Gfx950);
  auto stream = device.create_stream();
  for (int round = 0; round < 2; ++round) {
    const int tokens = int(uniform(*rng, 1, 40)), topk = int(uniform(*rng, 1, 4)), E = int(uniform(*rng, 4, 20));
    const int bs = int(uniform(*rng, 1, 32));
    moe::Routing r = moe::random_routing(*rng, tokens, topk, E);
    const moe::SortedRouting want = moe::moe_sorting(r.topk_ids, r.topk_weights, tokens, topk, E, bs);
    const Downloaded got = run_gpu(device, r.topk_ids, r.topk_weights, tokens, topk, E, bs, stream.get());
    ASSERT_EQ(got.valid[0], want.num_valid_ids[0]);
    for (size_t i = 0; i < want.sorted_token_ids.size(); ++i) ASSERT_EQ(got.ids[i], want.sorted_token_ids[i]) << i;
    for (size_t b = 0; b < want.sorted_expert_ids.size(); ++b) ASSERT_EQ(got.experts[b], want.sorted_expert_ids[b]) << b;
  }
}

TEST(SortingGpuZero, ZeroesTheStage2OutputInTheSameLaunch) {
  SeededRng rng;
  for (Target target : {Target::Gfx950, Target::Sm90a}) {
    Device& device = test_device(target);
    const int tokens = int(uniform(*rng, 1, 24)), topk = int(uniform(*rng, 1, 4)), E = int(uniform(*rng, 4, 32));
    const int bs = 16, N = 32 * int(uniform(*rng, 1, 40));
    moe::Routing r = moe::random_routing(*rng, tokens, topk, E);
    const moe::SortedRouting want = moe::moe_sorting(r.topk_ids, r.topk_weights, tokens, topk, E, bs);
    // The bf16 output [tokens, N] with 64 bytes of slack that must keep its poison.
    const size_t bytes = size_t(tokens) * N * 2, slack = 64;
    std::vector<uint8_t> start(bytes + slack);
    for (auto& x : start) x = uint8_t(uniform(*rng, 1, 255));  // never 0: an unzeroed byte shows
    Buffer<uint8_t> out(device, std::span<const uint8_t>(start));
    Buffer<int32_t> ids_in(device, std::span<const int32_t>(r.topk_ids));
    Buffer<float> w_in(device, std::span<const float>(r.topk_weights));
    Outputs o(device, moe::moe_sorting_max_rows(tokens, topk, E, bs), moe::moe_sorting_max_blocks(tokens, topk, E, bs));
    moe_sorting_gpu(device, ids_in.ptr(), w_in.ptr(), tokens, topk, E, bs, o.ids.ptr(), o.weights.ptr(), o.experts.ptr(),
                    o.valid.ptr(), nullptr, {out.ptr(), int64_t(bytes)});
    std::vector<uint8_t> got = out.download();
    size_t nonzero = 0, changed = 0;
    for (size_t i = 0; i < bytes; ++i) nonzero += got[i] != 0;
    for (size_t i = bytes; i < bytes + slack; ++i) changed += got[i] != start[i];
    EXPECT_EQ(nonzero, 0u) << "bytes of the output left unzeroed";
    EXPECT_EQ(changed, 0u) << "bytes written past the zero fill";
    std::vector<int32_t> ids = o.ids.download();
    for (size_t i = 0; i < want.sorted_token_ids.size(); ++i) ASSERT_EQ(ids[i], want.sorted_token_ids[i]) << i;
  }
}

TEST(SortingGpuArgs, RejectsBadArguments) {
  Device& device = test_device(Target::Sm90a);
  Buffer<int32_t> ids(device, 64), out_ids(device, 1024), out_experts(device, 256), valid(device, 2);
  Buffer<float> w(device, 64), out_w(device, 1024);
  ids.fill_bytes(0);
  struct P {
    DevicePtr ids, w;
    int tokens = 4, topk = 2, experts = 8, bs = 16;
    DevicePtr out_ids, out_w, out_experts, valid;
  };
  const P ok{ids.ptr(), w.ptr(), 4, 2, 8, 16, out_ids.ptr(), out_w.ptr(), out_experts.ptr(), valid.ptr()};
  auto call = [&](P p) {
    moe_sorting_gpu(device, p.ids, p.w, p.tokens, p.topk, p.experts, p.bs, p.out_ids, p.out_w, p.out_experts, p.valid);
  };
  auto bad = [&](auto mutate, std::initializer_list<std::string> words) {
    P p = ok;
    mutate(p);
    expect_throw_with<std::invalid_argument>([&] { call(p); }, words);
  };
  EXPECT_NO_THROW(call(ok));
  bad([](P& p) { p.experts = 0; }, {"moe_sorting_gpu", "experts"});
  bad([](P& p) { p.experts = kMoeSortingMaxExperts + 1; }, {"experts", std::to_string(kMoeSortingMaxExperts)});
  bad([](P& p) { p.topk = 9; }, {"topk"});
  bad([](P& p) { p.topk = 0; }, {"topk"});
  bad([](P& p) { p.topk = 128; p.experts = 200; }, {"topk", "127"});
  bad([](P& p) { p.tokens = -1; }, {"tokens"});
  bad([](P& p) { p.tokens = 1 << 24; }, {"tokens"});
  bad([](P& p) { p.bs = 0; }, {"block_size"});
  bad([](P& p) { p.bs = 1 << 30; p.experts = 4; }, {"capacity"});
  bad([](P& p) { p.out_ids = 0; }, {"sorted_token_ids", "null"});
  bad([](P& p) { p.out_w = 0; }, {"sorted_weights", "null"});
  bad([](P& p) { p.out_experts = 0; }, {"sorted_expert_ids", "null"});
  bad([](P& p) { p.valid = 0; }, {"num_valid_ids", "null"});
  bad([](P& p) { p.ids = 0; }, {"topk_ids", "null"});
  bad([](P& p) { p.w += 2; }, {"topk_weights", "aligned"});
  bad([](P& p) { p.valid += 1; }, {"num_valid_ids", "aligned"});
  auto zero = [&](MoeSortingZeroFill z) {
    moe_sorting_gpu(device, ok.ids, ok.w, ok.tokens, ok.topk, ok.experts, ok.bs, ok.out_ids, ok.out_w, ok.out_experts,
                    ok.valid, nullptr, z);
  };
  expect_throw_with<std::invalid_argument>([&] { zero({out_ids.ptr(), 24}); }, {"zero fill", "multiple of 16"});
  expect_throw_with<std::invalid_argument>([&] { zero({out_ids.ptr(), -16}); }, {"zero fill"});
  expect_throw_with<std::invalid_argument>([&] { zero({0, 64}); }, {"zero fill", "non-null"});
  expect_throw_with<std::invalid_argument>([&] { zero({out_ids.ptr() + 4, 64}); }, {"zero fill", "16-byte aligned"});
  EXPECT_NO_THROW(zero({0, 0}));
}

// The kernel's IR verifies and compiles through LLVM for both GPU targets.
TEST(SortingGpuCompile, CompilesForBothTargets) {
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    SCOPED_TRACE(target_name(t));
    ir::Function fn = moe_sorting_kernel().trace(t);
    EXPECT_NO_THROW(ir::verify(fn, t));
    backend::CompileResult r = backend::compile(fn, t);
    EXPECT_FALSE(r.code.binary.empty());
    EXPECT_FALSE(r.llvm_ir.empty());
  }
}

}  // namespace
}  // namespace tilejit::kernels
