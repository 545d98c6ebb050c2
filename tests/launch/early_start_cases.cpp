// The producer / consumer pair of check_early_start.
#include "tests/launch/early_start_cases.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "dsl/tile/intrinsics.h"
#include "backend/launch/kernel.h"
#include "dsl/tilejit.h"

namespace tilejit::testing_support {

namespace {

using namespace dsl;

constexpr uint32_t kThreads = 128;
constexpr uint32_t kPoison = 0xFFFFFFFFu;  // a NaN: never 2 x + 1 of a finite x

const KernelDef producer = kernel("early_start_producer", [](Ptr<float> buf, Ptr<float> src, Ptr<float> sink, Int n, Int spin) {
  tile::launch_dependents();
  Value i = block_id() * block_dim() + thread_id();
  if_(i < n, [&] {
    Value x = src[i];
    Var<> acc(x);
    for_range(0, spin, [&](Value) { acc = Value(acc) * 1.0001f + 0.5f; });
    sink[i] = acc;  // keeps the spin
    buf[i] = x * 2.0f;
  });
}, {.param_names = {"buf", "src", "sink", "n", "spin"}});

const KernelDef consumer = kernel("early_start_consumer", [](Ptr<float> out, Ptr<float> buf, Ptr<int32_t> early, Int n) {
  Value i = block_id() * block_dim() + thread_id();
  if_(i < n, [&] {
    Value before = bitcast(Value(buf[i]), ir::Type::scalar(ir::Scalar::I32));
    tile::wait_prior_grids();
    out[i] = Value(buf[i]) + 1.0f;
    early[i] = select(before == int32_t(kPoison), 1, 0);  // 1: ran before the producer wrote buf[i]
  });
}, {.param_names = {"out", "buf", "early", "n"}});

}  // namespace

EarlyStartResult check_early_start(Device& dev, uint32_t seed, int spin, int rounds) {
  std::mt19937 rng(seed);
  // One block per compute unit: the consumer's blocks find room beside the producer's.
  const int n = int(std::max<uint32_t>(dev.compute_units(), 2) * kThreads);
  const Dim3 grid{uint32_t(n) / kThreads}, block{kThreads};
  Kernel p = compile(producer, dev), c = compile(consumer, dev);
  Buffer<float> src(dev, size_t(n)), buf(dev, size_t(n)), sink(dev, size_t(n)), out(dev, size_t(n));
  Buffer<int32_t> early(dev, size_t(n));
  auto stream = dev.create_stream();
  auto enqueue = [&] {
    dev.memset_async(buf.ptr(), 0xFF, buf.bytes(), stream.get());
    dev.memset_async(out.ptr(), 0xFF, out.bytes(), stream.get());
    dev.memset_async(early.ptr(), 0xFF, early.bytes(), stream.get());
    p.launch_on(stream.get(), grid, block, buf, src, sink, n, spin);
    c.launch_with(stream.get(), {.early_start = true}, grid, block, out, buf, early, n);
  };
  auto graph = dev.capture(*stream, enqueue);
  EarlyStartResult r;
  std::uniform_real_distribution<float> u(-100.f, 100.f);
  for (int round = 0; round < rounds; ++round)
    for (bool as_graph : {false, true}) {
      std::vector<float> x(static_cast<size_t>(n));
      for (float& v : x) v = u(rng);
      src.upload(x);
      if (as_graph) graph->launch(stream.get());
      else enqueue();
      stream->synchronize();
      const std::vector<float> got = out.download();
      const std::vector<int32_t> seen = early.download();
      for (int i = 0; i < n; ++i) {
        const float want = x[size_t(i)] * 2.0f + 1.0f;
        const bool bad = !(got[size_t(i)] == want);
        if (bad && r.wrong < 5)
          ADD_FAILURE() << (as_graph ? "graph" : "stream") << " round " << round << " out[" << i << "] = " << got[size_t(i)]
                        << ", expected " << want;
        r.wrong += bad;
        EXPECT_TRUE(seen[size_t(i)] == 0 || seen[size_t(i)] == 1) << "early[" << i << "] was not written";
        r.overlapped += seen[size_t(i)] == 1;
      }
      r.threads += n;
    }
  return r;
}

}  // namespace tilejit::testing_support
