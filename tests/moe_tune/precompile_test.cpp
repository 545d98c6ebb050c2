// precompile_moe_stage2 on the emulator: the distinct configs of all buckets compiled on worker
// threads, for_tokens() picking by bucket, and every compiled kernel correct against the reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "backend/emulator/emulator.h"
#include "dsl/ir/numeric.h"
#include "kernels/moe/host/inputs.h"
#include "kernels/moe/host/reference.h"
#include "kernels/moe/stage2/chooser.h"
#include "kernels/mxfp4/preshuffle.h"
#include "tests/common/seeded_rng.h"

namespace tilejit::kernels {
namespace {

using testing_support::expect_throw_with;
using testing_support::SeededRng;
using testing_support::uniform;

const MoeStage2Shape kShape{128, 512, 4, 2};

/// Launches an already compiled `op` on a random problem of `tokens` tokens and returns the
/// relative L2 error against the reference; the output starts from random values, so an element
/// the kernel never wrote shows as an error.
double launch_against_reference(Device& dev, const MoeStage2A16W4& op, int tokens, std::mt19937& rng) {
  const MoeStage2Config& c = op.config();
  const MoeStage2Shape& s = kShape;
  moe::Routing r = moe::random_routing(rng, tokens, s.topk, s.experts);
  auto a = moe::random_bf16_normal(rng, size_t(tokens) * s.topk * s.inter_dim);
  auto w = moe::random_mxfp4_weights(rng, s.experts, s.model_dim, s.inter_dim);
  moe::Stage2Inputs in{a, w.packed, w.scales, {}, r.topk_ids, r.topk_weights};
  moe::Stage2Result ref = moe::moe_stage2_reference({tokens, s.topk, s.experts, s.model_dim, s.inter_dim}, in,
                                                    {true, true, moe::OutputType::f32});

  moe::SortedRouting sorted = moe::moe_sorting(r.topk_ids, r.topk_weights, tokens, s.topk, s.experts, c.tile_m);
  std::vector<uint8_t> wp = mxfp4::preshuffle_weights(w.packed, s.experts, s.model_dim, s.inter_dim);
  std::vector<uint8_t> sp = mxfp4::preshuffle_scales(w.scales, s.experts, s.model_dim, s.inter_dim);
  Buffer<uint16_t> da(dev, std::span<const uint16_t>(a));
  Buffer<uint8_t> dw(dev, std::span<const uint8_t>(wp)), ds(dev, std::span<const uint8_t>(sp));
  Buffer<int32_t> ids(dev, std::span<const int32_t>(sorted.sorted_token_ids));
  Buffer<float> wts(dev, std::span<const float>(sorted.sorted_weights));
  Buffer<int32_t> ex(dev, std::span<const int32_t>(sorted.sorted_expert_ids));
  Buffer<int32_t> nv(dev, std::span<const int32_t>(sorted.num_valid_ids));
  std::vector<uint16_t> start = moe::random_bf16_normal(rng, size_t(tokens) * s.model_dim);
  Buffer<uint16_t> out(dev, std::span<const uint16_t>(start));
  op.launch({out.ptr(), da.ptr(), dw.ptr(), ds.ptr(), ids.ptr(), wts.ptr(), ex.ptr(), nv.ptr(), 0, tokens,
             int(std::max<int64_t>(sorted.num_blocks(), 1))});
  std::vector<uint16_t> got = out.download();
  double num = 0, den = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double want = ref.exact[i] + ir::bf16_to_f32(start[i]), g = ir::bf16_to_f32(got[i]);
    if (!std::isfinite(g)) return INFINITY;
    num += (g - want) * (g - want);
    den += want * want;
  }
  return std::sqrt(num / den);
}

/// A table for the emulator: random tiles from a few configs per bucket (so buckets share configs).
MoeStage2ConfigTable random_table(std::mt19937& rng, const std::vector<int>& buckets) {
  const int configs[][4] = {{16, 64, 1, 1}, {32, 128, 2, 2}, {16, 128, 4, 1}, {32, 64, 1, 4}};
  MoeStage2ConfigTable t;
  t.origin = "test";
  for (int b : buckets) {
    const auto& c = configs[uniform(rng, 0, 3)];
    MoeStage2TableEntry e;
    e.device = "emulator";
    e.shape = kShape;
    e.max_tokens = b;
    e.tile_m = c[0];
    e.tile_n = c[1];
    e.k_batch = c[2];
    e.unroll = c[3];
    e.source = "tuned";
    t.entries.push_back(e);
  }
  return t;
}

TEST(Precompile, CompilesDistinctConfigsInParallelAndEachRuns) {
  SeededRng rng;
  auto dev = emulator::make_emulator_device({.target = uniform(*rng, 0, 1) ? Target::Sm90a : Target::Gfx950});
  const std::vector<int> table_buckets{1, 3, 6, 12, 20};
  MoeStage2ConfigTable table = random_table(*rng, table_buckets);
  // The model's buckets: the table's and one beyond (served by the largest row), given unsorted.
  std::vector<int> buckets{20, 1, 6, 32, 3, 12};

  std::set<std::string> want_kernels;
  for (int b : buckets)
    want_kernels.insert(choose_moe_stage2(table, kShape, b, dev->name(), dev->compute_units()).config.kernel_name());

  std::mutex m;
  std::vector<std::string> lines;
  std::set<std::thread::id> thread_ids;
  MoeStage2PrecompileOptions options;
  options.progress = [&](const std::string& line) {
    std::lock_guard lock(m);
    lines.push_back(line);
    thread_ids.insert(std::this_thread::get_id());
  };
  MoeStage2KernelSet set = precompile_moe_stage2(*dev, kShape, {}, buckets, table, options);

  EXPECT_EQ(set.buckets(), (std::vector<int>{1, 3, 6, 12, 20, 32}));
  ASSERT_EQ(set.kernels().size(), want_kernels.size());
  std::set<std::string> got_kernels;
  for (const MoeStage2A16W4& k : set.kernels()) got_kernels.insert(k.config().kernel_name());
  EXPECT_EQ(got_kernels, want_kernels);
  const unsigned hw = std::max(1u, std::thread::hardware_concurrency());
  EXPECT_EQ(set.compile_threads(), std::min<unsigned>(hw, unsigned(want_kernels.size())));
  ASSERT_EQ(lines.size(), want_kernels.size());
  for (size_t i = 0; i < lines.size(); ++i)
    EXPECT_NE(lines[i].find(fmt::format("compiled {}/{} moe_stage2_", i + 1, want_kernels.size())), std::string::npos)
        << lines[i];
  if (set.compile_threads() > 1) EXPECT_EQ(thread_ids.count(std::this_thread::get_id()), 0u) << "compiled on the caller";
  EXPECT_GT(set.compile_ms(), 0.0);

  // for_tokens: the smallest bucket >= tokens (the largest beyond them all), the table's choice.
  std::map<std::string, const MoeStage2A16W4*> by_name;
  for (const MoeStage2A16W4& k : set.kernels()) by_name[k.config().kernel_name()] = &k;
  for (int probe = 0; probe < 40; ++probe) {
    const int tokens = int(uniform(*rng, 1, 60));
    int bucket = 32;
    for (int b : set.buckets())
      if (b >= tokens) {
        bucket = b;
        break;
      }
    MoeStage2Choice want = choose_moe_stage2(table, kShape, bucket, dev->name(), dev->compute_units());
    const MoeStage2A16W4& k = set.for_tokens(tokens);
    EXPECT_EQ(&k, by_name.at(want.config.kernel_name())) << "tokens " << tokens;
    EXPECT_EQ(set.choice_for_tokens(tokens).entry_index, want.entry_index) << "tokens " << tokens;
  }
  expect_throw_with<std::invalid_argument>([&] { set.for_tokens(0); }, {"tokens"});

  // Each compiled kernel runs correctly at a token count of its bucket.
  int prev = 0;
  std::set<const MoeStage2A16W4*> launched;
  for (int b : set.buckets()) {
    const int tokens = int(uniform(*rng, prev + 1, std::min(b, prev + 8)));
    prev = b;
    const MoeStage2A16W4& k = set.for_tokens(tokens);
    if (!launched.insert(&k).second) continue;
    SCOPED_TRACE(k.config().kernel_name() + " tokens " + std::to_string(tokens));
    EXPECT_LT(launch_against_reference(*dev, k, tokens, *rng), 1e-2);
  }
  EXPECT_EQ(launched.size(), want_kernels.size());
}

TEST(Precompile, HonoursTheThreadLimitAndTheHeuristic) {
  SeededRng rng;
  auto dev = emulator::make_emulator_device();
  // No table rows: every bucket gets the heuristic (at most two k_batch values here).
  std::vector<int> buckets{1, 2, 5};
  MoeStage2PrecompileOptions options;
  options.threads = 1;
  MoeStage2KernelSet set = precompile_moe_stage2(*dev, kShape, {}, buckets, MoeStage2ConfigTable{}, options);
  EXPECT_EQ(set.compile_threads(), 1u);
  std::set<std::string> want;
  for (int b : buckets) {
    MoeStage2Config h = heuristic_moe_stage2(kShape, b, dev->compute_units());
    want.insert(h.kernel_name());
    EXPECT_EQ(set.for_tokens(b).config().kernel_name(), h.kernel_name());
    EXPECT_FALSE(set.choice_for_tokens(b).from_table);
  }
  EXPECT_EQ(set.kernels().size(), want.size());
  const int tokens = int(uniform(*rng, 1, 5));
  EXPECT_LT(launch_against_reference(*dev, set.for_tokens(tokens), tokens, *rng), 1e-2);

  expect_throw_with<std::invalid_argument>(
      [&] { precompile_moe_stage2(*dev, kShape, {}, {}, MoeStage2ConfigTable{}); }, {"no token buckets"});
  expect_throw_with<std::invalid_argument>(
      [&] { precompile_moe_stage2(*dev, kShape, {}, {4, 0}, MoeStage2ConfigTable{}); }, {"positive"});
  std::vector<MoeStage2A16W4> none;
  EXPECT_EQ(compile_moe_stage2_parallel(*dev, none), 0u);
}

}  // namespace
}  // namespace tilejit::kernels
