// The read probe: what streaming a given number of bytes costs under the stage-2 protocol (graph
// replay after an L2 flush, launch, ramp-up and tail included). A reachable floor for a point,
// next to the copy-bandwidth floor (bytes / bandwidth), which no kernel of that size reaches.
#pragma once
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <vector>

#include "bench/graph_timing.h"

namespace tilejit::bench {

inline constexpr int kReadProbeLoads = 8;  // loads in flight per thread of the read probe

/// Median microseconds of a graph holding one kernel that reads the first `bytes` (rounded down to
/// 16; at most src.bytes(), else std::invalid_argument) of `src` with 16-byte streaming loads,
/// kReadProbeLoads in flight per thread, as many 256-thread blocks as one pass needs (at most 8 per
/// compute unit), and keeps the loads alive by a never-taken store of their XOR.
inline double read_probe_us(Device& dev, Buffer<uint8_t>& flush, const Buffer<uint8_t>& src, size_t bytes, int reps) {
  using namespace dsl;
  static const KernelDef def = tilejit::kernel(
      "bench_read_probe",
      [](Ptr<int32_t> data, Ptr<int32_t> sink, Int units) {
        // kReadProbeLoads independent loads per thread and iteration (indices past the end clamped to the
        // last unit and masked), so that a small read is one round trip, not one per load.
        Var<> acc(Int(0));
        const Value stride = grid_dim() * block_dim();
        for_range(block_id() * block_dim() + thread_id(), units, stride * kReadProbeLoads, [&](Value u) {
          std::vector<Value> words;
          for (int i = 0; i < kReadProbeLoads; ++i) {
            Value at = u + stride * i;
            Value v = load(data, min(at, units - 1) * 4, 4, ir::CachePolicy::Stream);
            words.push_back(select(at < units, extract(v, 0) ^ extract(v, 1) ^ extract(v, 2) ^ extract(v, 3), 0));
          }
          for (const Value& w : words) acc = acc ^ w;
        });
        if_(acc.get() == 0x5eed1234, [&] { store(sink, thread_id(), acc.get()); });
      },
      {.block = {256, 1, 1}, .param_names = {"data", "sink", "units"}});
  if (bytes > src.bytes()) throw std::invalid_argument("read probe: more bytes than the source buffer holds");
  Kernel k = compile(def, dev);
  Buffer<int32_t> sink(dev, 256);
  const int32_t units = int32_t(bytes / 16);
  // Enough blocks for one iteration per thread, at most 8 per compute unit (so that few loads
  // repeat the last unit: clamped loads of one address from many threads serialise in L2).
  const uint32_t per_block = 256 * kReadProbeLoads;
  const uint32_t blocks = std::clamp<uint32_t>((uint32_t(units) + per_block - 1) / per_block, 1,
                                               std::max<uint32_t>(1, dev.compute_units()) * 8);
  auto stream = dev.create_stream();
  auto graph = dev.capture(*stream, [&] {
    k.launch_on(stream.get(), Dim3{blocks, 1, 1}, Dim3{256, 1, 1}, RawPtr{src.ptr()}, sink, units);
  });
  return median_graph_us(dev, *stream, *graph, flush, reps);
}

}  // namespace tilejit::bench
