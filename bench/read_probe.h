// The read probe: what streaming a given number of bytes costs under the stage-2 protocol (graph
// replay after an L2 flush, launch, ramp-up and tail included). A reachable floor for a point,
// next to the copy-bandwidth floor (bytes / bandwidth), which no kernel of that size reaches.
#pragma once
#include <algorithm>
#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/graph_timing.h"
#include "dsl/tile/bulk_ring.h"
#include "dsl/tile/intrinsics.h"

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

/// How the bulk read probe streams: `stages` shared-memory stages of `stage_words` i32 per block,
/// about `blocks_per_unit` blocks per compute unit (stages x stage bytes x blocks in flight per SM).
struct BulkProbeGeometry {
  int stage_words = 4096, stages = 4, blocks_per_unit = 3;
  std::string text() const { return std::to_string(stage_words / 256) + "KiBx" + std::to_string(stages) + "x" + std::to_string(blocks_per_unit); }
};
/// The geometries bench_moe_stage2 --bulk-read-probe times (192 KiB in flight per SM but the second).
inline const std::vector<BulkProbeGeometry> kBulkProbeGeometries = {
    {4096, 4, 3}, {8192, 4, 1}, {8192, 2, 3}, {16384, 3, 1}, {2048, 4, 6}};

/// How the bulk read probe splits `bytes` (rounded down to 16): chunks of whole stages, about
/// geo.blocks_per_unit blocks per compute unit.
struct BulkProbeGrid {
  int64_t words, chunk_words;
  uint32_t blocks;
};
inline BulkProbeGrid bulk_probe_grid(size_t bytes, int compute_units, const BulkProbeGeometry& geo) {
  const int64_t words = int64_t(bytes / 16) * 4;
  const int64_t want = std::max<int64_t>(1, int64_t(compute_units) * geo.blocks_per_unit);
  const int64_t per_block = (words + want - 1) / want;
  const int64_t chunk = std::max<int64_t>(1, (per_block + geo.stage_words - 1) / geo.stage_words) * geo.stage_words;
  return {words, chunk, uint32_t(std::max<int64_t>(1, (words + chunk - 1) / chunk))};
}

/// What each block of the bulk read probe stores: the XOR of the first word of each of its stages.
inline std::vector<int32_t> bulk_probe_xors(const std::vector<int32_t>& data, const BulkProbeGrid& g,
                                            const BulkProbeGeometry& geo) {
  std::vector<int32_t> x(g.blocks, 0);
  for (uint32_t b = 0; b < g.blocks; ++b)
    for (int64_t at = int64_t(b) * g.chunk_words; at < std::min<int64_t>((b + 1) * g.chunk_words, g.words);
         at += geo.stage_words)
      x[b] ^= data[size_t(at)];
  return x;
}

/// The bulk read probe's kernel for geo's stages (sm_90a): (data, sink, words, chunk_words); block b
/// streams words [b * chunk_words, min((b + 1) * chunk_words, words)) and stores the XOR of its
/// stages' first words at sink[b]. 32-thread blocks, thread 0 does the work. Not thread-safe.
inline const KernelDef& bulk_read_probe_kernel(const BulkProbeGeometry& geo) {
  using namespace dsl;
  static std::map<std::pair<int, int>, KernelDef> defs;
  const auto key = std::pair{geo.stage_words, geo.stages};
  if (auto it = defs.find(key); it != defs.end()) return it->second;
  KernelDef def = tilejit::kernel(
      "bench_bulk_read_probe_w" + std::to_string(geo.stage_words) + "_s" + std::to_string(geo.stages),
      [stage = geo.stage_words, stages = geo.stages](Ptr<int32_t> data, Ptr<int32_t> sink, Int words, Int chunk_words) {
        tile::BulkRing ring(stages, stage);
        if_(thread_id() == 0, [&] {
          const Value begin = block_id() * chunk_words;
          const Value end = min(begin + chunk_words, words);
          const Value n = (max(end - begin, 0) + (stage - 1)) / stage;  // stages of this block's chunk
          ring.init();
          // Stage j of the chunk (the last one may be short; sizes stay multiples of 16 bytes).
          auto issue = [&](const Value& j) {
            const Value at = begin + j * stage;
            ring.fill(j, Ptr<int32_t>(data + at), min(end - at, stage) * 4);
          };
          for_range(0, min(n, stages), [&](Value j) { issue(j); });
          Var<> acc(Int(0));
          for_range(0, n, [&](Value j) {
            acc = acc ^ ring.wait(j)[0];
            tile::fence_proxy_async();  // the read above before the copy engine refills the stage
            if_(j + stages < n, [&] { issue(j + stages); });
          });
          store(sink, block_id(), acc.get());
        });
      },
      {.block = {32, 1, 1}, .param_names = {"data", "sink", "words", "chunk_words"}});
  return defs.emplace(key, std::move(def)).first->second;
}

/// read_probe_us() through the copy engine (sm_90a only, else std::invalid_argument): one thread per
/// 32-thread block streams a contiguous chunk of the bytes through geo's shared-memory stages with
/// bulk copies completing on mbarriers, and stores the XOR of the first word of each of its stages
/// (bulk_probe_xors(), the check; `xors`, when given, receives the blocks' words). Whether bulk
/// copies stream faster than the probe's 16-byte loads tells whether a copy-engine main loop could
/// beat the load-based one.
inline double bulk_read_probe_us(Device& dev, Buffer<uint8_t>& flush, const Buffer<uint8_t>& src, size_t bytes, int reps,
                                 const BulkProbeGeometry& geo, std::vector<int32_t>* xors = nullptr) {
  if (dev.target() != Target::Sm90a) throw std::invalid_argument("the bulk read probe needs sm_90a (bulk copies)");
  if (bytes > src.bytes()) throw std::invalid_argument("bulk read probe: more bytes than the source buffer holds");
  Kernel k = compile(bulk_read_probe_kernel(geo), dev);
  const BulkProbeGrid g = bulk_probe_grid(bytes, dev.compute_units(), geo);
  Buffer<int32_t> sink(dev, g.blocks);
  sink.fill_bytes(0xA5);
  auto stream = dev.create_stream();
  auto graph = dev.capture(*stream, [&] {
    k.launch_on(stream.get(), Dim3{g.blocks, 1, 1}, Dim3{32, 1, 1}, RawPtr{src.ptr()}, sink, int32_t(g.words),
                int32_t(g.chunk_words));
  });
  const double us = median_graph_us(dev, *stream, *graph, flush, reps);
  if (xors) *xors = sink.download();
  return us;
}

}  // namespace tilejit::bench
