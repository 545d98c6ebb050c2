// Timing shared by the benchmarks: graph replays after an L2 flush (issue 6's protocol), and the
// protocol's own floor (a graph holding only an empty kernel, or a memset and an empty kernel).
#pragma once
#include <algorithm>
#include <functional>
#include <vector>

#include "backend/launch/buffer.h"
#include "backend/launch/kernel.h"
#include "dsl/tilejit.h"

namespace tilejit::bench {

/// Median microseconds of `reps` replays of `graph` on `stream`, each after `flush` is
/// overwritten on the same stream (a cold L2, as a decode step sees it) and between two events;
/// 3 untimed replays first.
inline double median_graph_us(Device& dev, Stream& stream, Graph& graph, Buffer<uint8_t>& flush, int reps) {
  auto e0 = dev.create_event(), e1 = dev.create_event();
  std::vector<double> us;
  for (int i = 0; i < reps + 3; ++i) {
    dev.memset_async(flush.ptr(), uint8_t(i), flush.bytes(), &stream);
    e0->record(&stream);
    graph.launch(&stream);
    e1->record(&stream);
    e1->synchronize();
    if (i >= 3) us.push_back(e1->elapsed_ms_since(*e0) * 1e3);
  }
  std::sort(us.begin(), us.end());
  return us[us.size() / 2];
}

/// The same timing of a graph holding `before` (e.g. a memset; may be empty) and one launch of an
/// empty 256-thread kernel (with `options`): what the protocol costs before any kernel work.
inline double empty_graph_us(Device& dev, Buffer<uint8_t>& flush, int reps,
                             const std::function<void(Stream&)>& before = {}, LaunchOptions options = {}) {
  static const KernelDef def = tilejit::kernel("bench_empty", [](dsl::Ptr<int32_t> p) { (void)p; },
                                           {.block = {256, 1, 1}, .param_names = {"unused"}});
  Kernel k = compile(def, dev);
  Buffer<int32_t> dummy(dev, 4);
  auto stream = dev.create_stream();
  auto graph = dev.capture(*stream, [&] {
    if (before) before(*stream);
    k.launch_with(stream.get(), options, Dim3{1, 1, 1}, Dim3{256, 1, 1}, dummy);
  });
  return median_graph_us(dev, *stream, *graph, flush, reps);
}

}  // namespace tilejit::bench
