// The bulk-copy ring of the tile tests: blocks stream their slice of a buffer through shared-memory
// stages with tile::bulk_copy_to_shared and mbarriers, and copy each stage out; run on the emulator
// (bulk_copy_test.cpp) and on an sm_90a GPU (bulk_copy_gpu_test.cpp).
#pragma once
#include <cstdint>
#include <random>
#include <vector>

#include "backend/launch/kernel.h"

namespace tilejit::tile_test {

/// Each block reads `chunks` chunks of `chunk_words` i32 (its slice starts at block * chunks *
/// chunk_words) through a tile::BulkRing of `stages` stages: thread 0 initialises it and issues each
/// chunk (one copy, or two halves with `split`; or each warp its share, `every_warp`), every thread
/// waits for the stage and copies its words to out; a block barrier frees the stage.
struct BulkRingCase {
  int threads = 64, chunk_words = 256, stages = 2, chunks = 5, blocks = 3;
  bool split = false;  // two copies of half a chunk each on one mbarrier phase (two arrivals)
  /// Lane 0 of each warp copies its warp's share of every chunk and arrives on the slot's mbarrier
  /// (initialised for one arrival per warp) instead of thread 0 copying the whole chunk.
  bool every_warp = false;
};

/// Warp-specialized: warp 0 produces (thread 0 fills chunk k once every consumer has released
/// fill k - stages), the other `threads - 32` threads consume (wait for chunk k, write each word
/// plus k to out, release it); no block barrier after the set-up. `mistake` breaks the protocol
/// on purpose (the emulator must then fault): consumers that never release, or that read chunk 0
/// before waiting for it.
struct WarpRolesCase {
  int threads = 96, chunk_words = 256, stages = 2, chunks = 7, blocks = 2;
  enum class Mistake { None, NoRelease, ReadBeforeWait } mistake = Mistake::None;
};

/// Random words for src (no word equals the 0xA5A5A5A5 poison), sized for the case.
std::vector<int32_t> bulk_ring_source(const BulkRingCase& c, std::mt19937& rng);
/// Runs the case on `device`: out poisoned with 0xA5 bytes first; returns out.
std::vector<int32_t> run_bulk_ring(Device& device, const BulkRingCase& c, const std::vector<int32_t>& src,
                                   CompileInfo* info = nullptr);

/// Src words for a WarpRolesCase; the expected out (src[i] + the chunk index of word i).
std::vector<int32_t> warp_roles_source(const WarpRolesCase& c, std::mt19937& rng);
std::vector<int32_t> warp_roles_expected(const WarpRolesCase& c, const std::vector<int32_t>& src);
/// Runs the case on `device` (out poisoned with 0xA5 bytes first); returns out.
std::vector<int32_t> run_warp_roles(Device& device, const WarpRolesCase& c, const std::vector<int32_t>& src);

/// named_barrier(1, 96) among the consumer warps 1-3 of 128-thread blocks: each consumer stores
/// 2 x its input word in shared memory, waits at the barrier and adds its neighbour's word to its
/// own input; warp 0 waits on an mbarrier for the consumers and sums three of their words. `use`
/// breaks it on purpose: no barrier (a race), or a count of 128 that never arrives (a deadlock).
enum class NamedUse { Exchange, NoBarrier, TooMany };
/// Random inputs for `blocks` blocks (128 words each, small enough not to overflow).
std::vector<int32_t> named_barrier_source(std::mt19937& rng, int blocks);
std::vector<int32_t> named_barrier_expected(const std::vector<int32_t>& in);
/// Runs it on `device` over in.size() / 128 blocks (out poisoned first); returns out.
std::vector<int32_t> run_named_barrier(Device& device, NamedUse use, const std::vector<int32_t>& in, int blocks);

}  // namespace tilejit::tile_test
