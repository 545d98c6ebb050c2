#include "dsl/tile/bulk_ring.h"

#include <fmt/format.h>

#include "dsl/error.h"
#include "dsl/tile/intrinsics.h"

namespace tilejit::tile {

using namespace dsl;

namespace {
int checked_stages(int stages, int64_t stage_words, const SrcLoc& loc) {
  if (stages < 1 || stage_words < 4 || stage_words % 4)
    dsl::detail::type_error(fmt::format("BulkRing needs at least one stage of a positive multiple of 4 words (16 bytes), "
                                   "got {} stages of {} words",
                                   stages, stage_words),
                       loc);
  return stages;
}
}  // namespace

BulkRing::BulkRing(int stages, int64_t stage_words, const SrcLoc& loc)
    : stages_(checked_stages(stages, stage_words, loc)), stage_words_(stage_words),
      slots_(shared_array<int32_t>(stage_words * stages, loc)), bars_(shared_array<int64_t>(2 * stages, loc)) {}

void BulkRing::init(int arrivals, int consumers, const SrcLoc& loc) const {
  if (arrivals < 1) dsl::detail::type_error(fmt::format("BulkRing::init needs at least one arrival per fill, got {}", arrivals), loc);
  if (consumers < 0) dsl::detail::type_error(fmt::format("BulkRing::init with {} consumers: 0 (no release) or more", consumers), loc);
  for (int s = 0; s < stages_; ++s) {
    mbarrier_init(SharedPtr<int64_t>(bars_ + s), arrivals, loc);
    if (consumers) mbarrier_init(SharedPtr<int64_t>(bars_ + stages_ + s), consumers, loc);
  }
}

SharedPtr<int64_t> BulkRing::fill_mbarrier(const Value& k, const SrcLoc& loc) const {
  return SharedPtr<int64_t>(bars_ + urem(k, stages_, loc), loc);
}

SharedPtr<int64_t> BulkRing::free_mbarrier(const Value& k, const SrcLoc& loc) const {
  return SharedPtr<int64_t>(bars_ + stages_ + urem(k, stages_, loc), loc);
}

SharedPtr<int32_t> BulkRing::stage(const Value& k, const SrcLoc& loc) const {
  return SharedPtr<int32_t>(slots_ + urem(k, stages_, loc) * stage_words_, loc);
}

void BulkRing::fill(const Value& k, const Value& src, const Arg& bytes, const SrcLoc& loc) const {
  fill_part(k, 0, src, bytes, loc);
}

void BulkRing::fill_part(const Value& k, const Arg& word, const Value& src, const Arg& bytes, const SrcLoc& loc) const {
  const SharedPtr<int64_t> bar = fill_mbarrier(k, loc);
  mbarrier_arrive_expect_tx(bar, bytes, loc);
  bulk_copy_to_shared(SharedPtr<int32_t>(stage(k, loc) + word, loc), src, bytes, bar, loc);
}

// The fence orders this thread's reads of the stage (generic proxy) before the copy engine's
// writes of the refill (async proxy), which the arrival lets the producer issue.
void BulkRing::release(const Value& k, const SrcLoc& loc) const {
  fence_proxy_async(loc);
  mbarrier_arrive_expect_tx(free_mbarrier(k, loc), 0, loc);  // an arrival without bytes
}

// Fill k waits for phase k / stages - 1 of the free mbarrier; parity (k / stages + 1) % 2 is, for
// the first `stages` fills, the parity of the phase before phase 0, which counts as complete.
void BulkRing::wait_free(const Value& k, const SrcLoc& loc) const {
  mbarrier_wait(free_mbarrier(k, loc), urem(udiv(k, stages_, loc) + 1, 2, loc), loc);
}

SharedPtr<int32_t> BulkRing::wait(const Value& k, const SrcLoc& loc) const {
  mbarrier_wait(fill_mbarrier(k, loc), urem(udiv(k, stages_, loc), 2, loc), loc);
  return stage(k, loc);
}

}  // namespace tilejit::tile
