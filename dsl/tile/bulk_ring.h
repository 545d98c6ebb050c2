// A ring of shared-memory stages filled by bulk copies (sm_90a, tile::bulk_copy_to_shared) and read
// in fill order: the bookkeeping of stages, mbarriers and phase parities in one place.
#pragma once
#include <cstdint>

#include "dsl/tilejit.h"

namespace tilejit::tile {

/// `stages` stages of `stage_words` i32 each in shared memory, one mbarrier per stage. Fill k (any
/// i32 value, counted from 0) goes to stage k % stages and completes phase k / stages of that
/// stage's mbarrier, so a consumer waits for parity (k / stages) % 2. A stage is refilled (fill
/// k + stages) only after every consumer is done with fill k: a block barrier, or each consumer's
/// release() of fill k, which the producer's wait_free(k + stages) waits for. Usage, producer and
/// consumers in one program order:
///
///     BulkRing ring(3, 4096);
///     if_(thread_id() == 0, [&] { ring.init(); });
///     barrier();
///     if_(thread_id() == 0, [&] { for k < 3: ring.fill(k, src + k * 4096, 16384); });
///     for_range(0, n, [&](Value k) {
///       SharedPtr<int32_t> s = ring.wait(k);  // ... read s ...
///       barrier();
///       if_(thread_id() == 0 && k + 3 < n, [&] { ring.fill(k + 3, src + (k + 3) * 4096, 16384); });
///     });
///
/// Warp-specialized: a producer warp and consumer warps in the two branches of one if (the
/// emulator runs the branches as separate thread groups that wait for each other, docs/dsl.md):
///
///     if_(thread_id() == 0, [&] { ring.init(1, consumer_threads); });
///     barrier();
///     if_(thread_id() < 32,
///         [&] { if_(thread_id() == 0, [&] { for_range(0, n, [&](Value k) {
///                 ring.wait_free(k); ring.fill(k, src + k * 4096, 16384); }); }); },
///         [&] { for_range(0, n, [&](Value k) {
///                 SharedPtr<int32_t> s = ring.wait(k);  // ... read s ...
///                 ring.release(k); }); });
class BulkRing {
 public:
  /// Allocates the stages and the mbarriers (at the kernel's top level: every thread).
  BulkRing(int stages, int64_t stage_words, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
  /// Initialises every stage's mbarrier for `arrivals` producer arrivals per fill and, with
  /// `consumers` > 0, its free mbarrier for that many release() calls per fill (one thread; a
  /// block barrier before any other thread uses the ring).
  void init(int arrivals = 1, int consumers = 0, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// Fill k as one copy by this thread: `bytes` (a positive multiple of 16) from `src` to the start
  /// of its stage, expected and arrived on in one step.
  void fill(const dsl::Value& k, const dsl::Value& src, const dsl::Arg& bytes,
            const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// One producer's part of fill k: this thread expects `bytes` and copies them from `src` to word
  /// `word` of the stage (several producers, each its share, with init(producers)).
  void fill_part(const dsl::Value& k, const dsl::Arg& word, const dsl::Value& src, const dsl::Arg& bytes,
                 const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// Waits until fill k has landed and returns its stage.
  dsl::SharedPtr<int32_t> wait(const dsl::Value& k, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// This consumer thread is done reading fill k: fence_proxy_async() (its reads before the copy
  /// engine's refill), then an arrival on the stage's free mbarrier (rings initialised with
  /// consumers > 0).
  void release(const dsl::Value& k, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// Producer: waits until every consumer has released fill k - stages (returns at once for the
  /// first `stages` fills), so that fill k may overwrite its stage.
  void wait_free(const dsl::Value& k, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// The mbarrier fill k completes on (for copies of other arrays that complete with the fill).
  dsl::SharedPtr<int64_t> fill_mbarrier(const dsl::Value& k, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  /// The stage fill k goes to, without waiting.
  dsl::SharedPtr<int32_t> stage(const dsl::Value& k, const dsl::SrcLoc& loc = dsl::SrcLoc::current()) const;
  int stages() const { return stages_; }

 private:
  dsl::SharedPtr<int64_t> free_mbarrier(const dsl::Value& k, const dsl::SrcLoc& loc) const;
  int stages_;
  int64_t stage_words_;
  dsl::SharedPtr<int32_t> slots_;
  dsl::SharedPtr<int64_t> bars_;  // stages fill mbarriers, then stages free mbarriers
};

}  // namespace tilejit::tile
