#include "tests/tile/bulk_copy_cases.h"

#include <fmt/format.h>

#include <map>
#include <tuple>

#include "backend/launch/buffer.h"
#include "dsl/tilejit.h"
#include "dsl/tile/bulk_ring.h"
#include "dsl/tile/intrinsics.h"

namespace tilejit::tile_test {

using namespace dsl;

namespace {

KernelDef bulk_ring_kernel(const BulkRingCase& c) {
  KernelOptions opts;
  opts.block = {uint32_t(c.threads), 1, 1};
  return kernel(
      fmt::format("bulk_ring_t{}_w{}_s{}_c{}{}{}", c.threads, c.chunk_words, c.stages, c.chunks, c.split ? "_split" : "",
                  c.every_warp ? "_warps" : ""),
      [c](Ptr<int32_t> src, Ptr<int32_t> out) {
        tile::BulkRing ring(c.stages, c.chunk_words);
        const Value t = thread_id();
        const Value base = block_id() * (c.chunks * c.chunk_words);
        // Chunk k in `parts` copies, each expected and arrived on by its producer (thread 0 for all
        // of them; every_warp: lane 0 of warp p for part p).
        const int parts = c.every_warp ? c.threads / 32 : c.split ? 2 : 1, words = c.chunk_words / parts;
        if_(t == 0, [&] { ring.init(parts); });
        barrier();
        auto issue = [&](const Value& k) {
          if (c.every_warp) {
            const Value w = t / 32;
            ring.fill_part(k, w * words, Ptr<int32_t>(src + base + k * c.chunk_words + w * words), words * 4);
            return;
          }
          for (int h = 0; h < parts; ++h)
            ring.fill_part(k, h * words, Ptr<int32_t>(src + base + k * c.chunk_words + h * words), words * 4);
        };
        const Value producer = c.every_warp ? Value(t % 32 == 0) : Value(t == 0);
        if_(producer, [&] {
          for (int k = 0; k < std::min(c.stages, c.chunks); ++k) issue(Int(k));
        });
        for_range(0, c.chunks, [&](Value k) {
          const SharedPtr<int32_t> stage = ring.wait(k);
          for_range(t, c.chunk_words, c.threads, [&](Value i) { out[base + k * c.chunk_words + i] = stage[i]; });
          barrier();  // every thread is done with the stage before it is refilled
          if_(producer, [&] { if_(k + c.stages < c.chunks, [&] { issue(k + c.stages); }); });
        });
      },
      opts);
}

KernelDef warp_roles_kernel(const WarpRolesCase& c) {
  KernelOptions opts;
  opts.block = {uint32_t(c.threads), 1, 1};
  using Mistake = WarpRolesCase::Mistake;
  return kernel(
      fmt::format("warp_roles_t{}_w{}_s{}_c{}_m{}", c.threads, c.chunk_words, c.stages, c.chunks, int(c.mistake)),
      [c](Ptr<int32_t> src, Ptr<int32_t> out) {
        tile::BulkRing ring(c.stages, c.chunk_words);
        const Value t = thread_id();
        const Value base = block_id() * (c.chunks * c.chunk_words);
        const int consumers = c.threads - 32;
        if_(t == 0, [&] { ring.init(1, consumers); });
        barrier();
        if_(
            t < 32,
            [&] {
              if_(t == 0, [&] {
                for_range(0, c.chunks, [&](Value k) {
                  ring.wait_free(k);
                  ring.fill(k, Ptr<int32_t>(src + base + k * c.chunk_words), c.chunk_words * 4);
                });
              });
            },
            [&] {
              if (c.mistake == Mistake::ReadBeforeWait) out[base + t - 32] = ring.stage(Int(0))[t - 32];
              for_range(0, c.chunks, [&](Value k) {
                const SharedPtr<int32_t> stage = ring.wait(k);
                for_range(t - 32, c.chunk_words, consumers,
                          [&](Value i) { out[base + k * c.chunk_words + i] = stage[i] + k; });
                if (c.mistake != Mistake::NoRelease) ring.release(k);
              });
            });
      },
      opts);
}

KernelDef named_barrier_kernel(NamedUse use) {
  KernelOptions opts;
  opts.block = {128, 1, 1};
  return kernel(
      fmt::format("named_barrier_{}", int(use)),
      [use](Ptr<int32_t> src, Ptr<int32_t> out) {
        SharedPtr<int32_t> box = shared_array<int32_t>(128);
        SharedPtr<int64_t> done = shared_array<int64_t>(1);
        const Value t = thread_id(), base = block_id() * 128;
        if_(t == 0, [&] { tile::mbarrier_init(done, 96); });
        barrier();
        if_(
            t < 32,
            [&] {
              if (use == NamedUse::TooMany) return;  // only the consumers wait (on their barrier)
              tile::mbarrier_wait(done, 0);
              out[base + t] = box[32 + t] + box[64 + t] + box[127 - t];
            },
            [&] {
              box[t] = src[base + t] * 2;
              if (use != NamedUse::NoBarrier) tile::named_barrier(1, use == NamedUse::TooMany ? 128 : 96);
              const Value next = select(t == 127, 32, t + 1);
              out[base + t] = box[next] + src[base + t];
              tile::mbarrier_arrive_expect_tx(done, 0);
            });
      },
      opts);
}

}  // namespace

std::vector<int32_t> named_barrier_source(std::mt19937& rng, int blocks) {
  std::vector<int32_t> v(size_t(blocks) * 128);
  for (auto& x : v) x = int32_t(rng() % 100000);
  return v;
}

std::vector<int32_t> named_barrier_expected(const std::vector<int32_t>& in) {
  std::vector<int32_t> v(in.size());
  for (size_t b = 0; b < in.size(); b += 128) {
    const int32_t* x = in.data() + b;
    for (int t = 32; t < 128; ++t) v[b + size_t(t)] = x[t == 127 ? 32 : t + 1] * 2 + x[t];
    for (int t = 0; t < 32; ++t) v[b + size_t(t)] = 2 * (x[32 + t] + x[64 + t] + x[127 - t]);
  }
  return v;
}

std::vector<int32_t> run_named_barrier(Device& device, NamedUse use, const std::vector<int32_t>& in, int blocks) {
  static std::map<int, KernelDef> defs;
  if (!defs.count(int(use))) defs.emplace(int(use), named_barrier_kernel(use));
  Kernel k = compile(defs.at(int(use)), device);
  Buffer<int32_t> din(device, std::span<const int32_t>(in)), dout(device, in.size());
  dout.fill_bytes(0xA5);
  k.launch({uint32_t(blocks), 1, 1}, {128, 1, 1}, din, dout);
  return dout.download();
}

std::vector<int32_t> warp_roles_source(const WarpRolesCase& c, std::mt19937& rng) {
  std::vector<int32_t> v(size_t(c.blocks) * c.chunks * c.chunk_words);
  // Below 2^30: adding the chunk index neither overflows nor gives the (negative) poison word.
  for (auto& x : v) x = int32_t(rng() >> 2);
  return v;
}

std::vector<int32_t> warp_roles_expected(const WarpRolesCase& c, const std::vector<int32_t>& src) {
  std::vector<int32_t> v(src.size());
  for (size_t i = 0; i < src.size(); ++i) v[i] = src[i] + int32_t(i / size_t(c.chunk_words) % size_t(c.chunks));
  return v;
}

std::vector<int32_t> run_warp_roles(Device& device, const WarpRolesCase& c, const std::vector<int32_t>& src) {
  static std::map<std::tuple<int, int, int, int, int>, KernelDef> defs;
  const auto key = std::tuple{c.threads, c.chunk_words, c.stages, c.chunks, int(c.mistake)};
  if (!defs.count(key)) defs.emplace(key, warp_roles_kernel(c));
  Kernel k = compile(defs.at(key), device);
  Buffer<int32_t> dsrc(device, std::span<const int32_t>(src)), dout(device, src.size());
  dout.fill_bytes(0xA5);
  k.launch({uint32_t(c.blocks), 1, 1}, {uint32_t(c.threads), 1, 1}, dsrc, dout);
  return dout.download();
}

std::vector<int32_t> bulk_ring_source(const BulkRingCase& c, std::mt19937& rng) {
  std::vector<int32_t> v(size_t(c.blocks) * c.chunks * c.chunk_words);
  for (auto& x : v) {
    do x = int32_t(rng());
    while (uint32_t(x) == 0xA5A5A5A5u);
  }
  return v;
}

std::vector<int32_t> run_bulk_ring(Device& device, const BulkRingCase& c, const std::vector<int32_t>& src,
                                   CompileInfo* info) {
  static std::map<std::tuple<int, int, int, int, bool, bool>, KernelDef> defs;
  const auto key = std::tuple{c.threads, c.chunk_words, c.stages, c.chunks, c.split, c.every_warp};
  if (!defs.count(key)) defs.emplace(key, bulk_ring_kernel(c));
  Kernel k = compile(defs.at(key), device);
  Buffer<int32_t> dsrc(device, std::span<const int32_t>(src)), dout(device, src.size());
  dout.fill_bytes(0xA5);
  k.launch({uint32_t(c.blocks), 1, 1}, {uint32_t(c.threads), 1, 1}, dsrc, dout);
  if (info) *info = k.info();
  return dout.download();
}

}  // namespace tilejit::tile_test
