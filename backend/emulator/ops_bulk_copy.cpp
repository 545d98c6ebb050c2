// Semantics of the sm_90a mbarrier and bulk-copy ops (ops.def): per workgroup, each initialised
// mbarrier's arrival and byte counts per phase; a bulk copy reads its source at issue and lands
// in shared memory at the first mbarrier_wait that needs its phase, so a read before that wait
// sees the old bytes, as it may on the hardware. A wait that cannot return yet lets the
// workgroup's other thread groups run (warp_scheduler.h) and faults when none can help. Named
// barriers (bar.sync id, threads) are phases of the same kind, counted in threads.
#include <fmt/format.h>

#include <cstring>

#include "backend/emulator/access.h"
#include "backend/emulator/fault.h"
#include "backend/emulator/interp.h"
#include "backend/emulator/warp_scheduler.h"

namespace tilejit::emulator::detail {

namespace {

using ir::OpCode;
using ir::Scalar;

/// The mbarrier initialised at shared offset `at`, or null.
Mbarrier* lookup(Wave& w, uint32_t at) {
  for (Mbarrier& m : w.mbarriers)
    if (m.at == at) return &m;
  return nullptr;
}

/// The mbarrier at shared offset `at` (8 bytes, checked), or a fault when it was never initialised.
Mbarrier& find_mbarrier(Wave& w, const Inst& in, uint32_t lane, uint32_t at) {
  shared_ptr(w, in, lane, at, 8, 8, false, 1);
  if (Mbarrier* m = lookup(w, at)) return *m;
  fault_at(w, in, lane, "uses an mbarrier that no mbarrier_init of this workgroup initialised", true, at);
}

void complete_if_done(Mbarrier& m) {
  if (m.pending == 0 && m.tx == 0) {
    ++m.phase;
    m.pending = m.count;
    m.done_clock = m.clock;
  }
}

void exec_mbarrier_init(Wave& w, const Inst& in) {
  const uint32_t* bar = w.at<uint32_t>(in.o[0]);
  const int32_t* count = w.at<int32_t>(in.o[1]);
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    shared_ptr(w, in, l, bar[l], 8, 8, true, 1);
    if (count[l] < 1) fault(w, in, l, fmt::format("mbarrier_init with an arrival count of {}: at least 1", count[l]));
    for (const BulkCopy& c : w.bulk_pending)
      if (c.bar == bar[l]) fault_at(w, in, l, "re-initialises an mbarrier that bulk copies in flight complete on", true, bar[l]);
    Mbarrier* m = lookup(w, bar[l]);
    if (!m) m = &w.mbarriers.emplace_back();
    *m = Mbarrier{bar[l], uint32_t(count[l]), uint32_t(count[l]), 0, 0, {}, {}};
  }
  note_progress(w);
}

void exec_mbarrier_arrive_expect_tx(Wave& w, const Inst& in) {
  const uint32_t* bar = w.at<uint32_t>(in.o[0]);
  const int32_t* bytes = w.at<int32_t>(in.o[1]);
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    Mbarrier& m = find_mbarrier(w, in, l, bar[l]);
    if (bytes[l] < 0) fault(w, in, l, fmt::format("mbarrier_arrive_expect_tx of {} bytes", bytes[l]));
    if (m.pending == 0)
      fault_at(w, in, l,
               "arrives on an mbarrier whose current phase already has all its arrivals (it waits only for bytes); "
               "wait for that phase first",
               true, bar[l]);
    m.tx += bytes[l];
    --m.pending;
    if (w.P->opts.race_check) note_arrival(w, l, m);
    complete_if_done(m);
  }
  note_progress(w);
}

void exec_bulk_copy(Wave& w, const Inst& in) {
  const uint32_t* dst = w.at<uint32_t>(in.o[0]);
  const uint64_t* src = w.at<uint64_t>(in.o[1]);
  const int32_t* bytes = w.at<int32_t>(in.o[2]);
  const uint32_t* bar = w.at<uint32_t>(in.ov[3]);  // o[] holds the first three operands
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    const int32_t n = bytes[l];
    if (n <= 0 || n % 16) fault(w, in, l, fmt::format("bulk_copy_to_shared of {} bytes: not a positive multiple of 16", n));
    find_mbarrier(w, in, l, bar[l]);
    // The shared side uses the second cache slot; the barrier check above used it too, which only costs a lookup.
    shared_ptr(w, in, l, dst[l], uint64_t(n), 16, true, 1);
    if (w.wgmma.busy) check_wgmma_reads(w, in, l, dst[l], uint64_t(n));  // the copy may land at any time
    if (w.P->opts.race_check) {
      note_shared_access(w, in, l, dst[l], uint64_t(n), true);  // ... from now on
      check_async_overwrite(w, in, l, dst[l], uint64_t(n));
    }
    const uint8_t* from = global_ptr(w, in, l, src[l], uint64_t(n), 16, false);
    w.bulk_pending.push_back(BulkCopy{bar[l], dst[l], l, std::vector<uint8_t>(from, from + n)});
  }
}

/// Lands every copy in flight on `m` (in issue order) and counts its bytes.
void land_copies(Wave& w, Mbarrier& m) {
  size_t out = 0;
  for (size_t i = 0; i < w.bulk_pending.size(); ++i) {
    BulkCopy& c = w.bulk_pending[i];
    if (c.bar != m.at) {
      if (out != i) w.bulk_pending[out] = std::move(c);
      ++out;
      continue;
    }
    const uint32_t n = uint32_t(c.data.size());
    std::memcpy(w.shared + c.dst, c.data.data(), n);
    m.tx -= n;
    // Written by the copy engine: visible to wgmma without a proxy fence, and to every thread that
    // waits on the mbarrier (no shared-memory race with the readers after the wait).
    if (w.P->uses_wgmma) note_async_write(w, c.dst, n);
    if (w.P->opts.race_check) forget_shared_writes(w, c.dst, n);
    note_progress(w);
  }
  w.bulk_pending.resize(out);
}

void exec_mbarrier_wait(Wave& w, const Inst& in) {
  const uint32_t* bar = w.at<uint32_t>(in.o[0]);
  const int32_t* parity = w.at<int32_t>(in.o[1]);
  for (uint32_t l = 0; l < w.nlanes; ++l) {
    if (!w.mask[l]) continue;
    if (parity[l] != 0 && parity[l] != 1) fault(w, in, l, fmt::format("mbarrier_wait on parity {}: 0 or 1", parity[l]));
    for (;;) {
      Mbarrier& m = find_mbarrier(w, in, l, bar[l]);
      if (m.phase % 2 != uint32_t(parity[l])) {  // the phase of that parity is the completed one before
        if (w.P->opts.race_check) note_wait(w, l, m);
        break;
      }
      land_copies(w, m);
      complete_if_done(m);
      if (m.phase % 2 != uint32_t(parity[l])) continue;
      // Arrivals or bytes are missing: other thread groups (the other side of an if) may bring them.
      if (w.sched && wait_for_others(w)) continue;
      fault_at(w, in, l,
               fmt::format("mbarrier_wait never returns: phase {} (parity {}) misses {} arrival(s) and {} byte(s), "
                           "no copy in flight completes on it, and every other thread of the workgroup is waiting "
                           "too or has finished (a deadlock)",
                           m.phase, parity[l], m.pending, m.tx),
               true, bar[l]);
    }
  }
}

/// named_barrier: the active lanes (whole warps) arrive; the phase completes when `threads` have,
/// and each group waits for that (letting the other groups run), then sees the participants'
/// earlier accesses (race check: like an mbarrier phase).
void exec_named_barrier(Wave& w, const Inst& in) {
  const uint32_t id = uint32_t(in.op->attrs[0]), threads = uint32_t(in.op->attrs[1]), ws = w.L->wave_size;
  uint32_t first = 0;
  while (!w.mask[first]) ++first;
  if (threads > w.nlanes)
    fault(w, in, first, fmt::format("named_barrier {} for {} threads in a workgroup of {}", id, threads, w.nlanes));
  for (uint32_t l = 0; l < w.nlanes; ++l)
    if (w.mask[l] != w.mask[l / ws * ws])
      fault(w, in, l, fmt::format("named_barrier {} reached by part of a warp (every thread of a warp takes part)", id));
  Mbarrier& b = w.named[id];
  if (b.count == 0) b = Mbarrier{0, threads, threads, 0, b.phase, b.clock, b.done_clock};
  if (b.count != threads)
    fault(w, in, first, fmt::format("named_barrier {} for {} threads while a phase for {} is under way", id, threads, b.count));
  if (w.active > b.pending)
    fault(w, in, first, fmt::format("named_barrier {}: {} threads arrive where {} are missing", id, w.active, b.pending));
  const uint32_t phase = b.phase;
  for (uint32_t l = 0; l < w.nlanes; ++l)
    if (w.mask[l] && w.P->opts.race_check) note_arrival(w, l, b);
  b.pending -= w.active;
  if (b.pending == 0) {
    ++b.phase;
    b.count = 0;
    b.done_clock = b.clock;
  }
  note_progress(w);
  while (w.named[id].phase == phase) {
    if (w.sched && wait_for_others(w)) continue;
    const Mbarrier& now = w.named[id];
    fault(w, in, first,
          fmt::format("named_barrier {} never completes: {} of {} threads arrived and every other thread of the "
                      "workgroup is waiting too or has finished (a deadlock)",
                      id, now.count - now.pending, now.count));
  }
  if (w.P->opts.race_check)
    for (uint32_t l = 0; l < w.nlanes; ++l)
      if (w.mask[l]) note_wait(w, l, w.named[id]);
}

}  // namespace

Handler select_bulk_copy(Prep& p) {
  p.require(p.opts.target == Target::Sm90a, fmt::format("{} does not exist on {}", ir::op_info(p.op.code).name, p.ti.name));
  const ir::Type bar = ir::Type::pointer(Scalar::I64, ir::AddrSpace::Shared), i32 = ir::Type::scalar(Scalar::I32);
  switch (p.op.code) {
    case OpCode::NamedBarrier:
      p.require(p.op.attrs.size() == 2 && p.op.attrs[0] >= 1 && p.op.attrs[0] <= 15 && p.op.attrs[1] >= 32 &&
                    p.op.attrs[1] % 32 == 0,
                "named_barrier takes an id 1..15 and a thread count, a positive multiple of 32");
      return exec_named_barrier;
    case OpCode::BulkCopyToShared:
      p.require(p.type(0).is_pointer() && p.type(0).space == ir::AddrSpace::Shared, "dst must be ptr<shared, T>");
      p.require(p.type(1).is_pointer() && p.type(1).space == ir::AddrSpace::Global, "src must be ptr<global, T>");
      p.require(p.type(2) == i32 && p.type(3) == bar, "bytes must be i32 and the mbarrier ptr<shared, i64>");
      return exec_bulk_copy;
    default:
      p.require(p.type(0) == bar && p.type(1) == i32, "operands must be (ptr<shared, i64> mbarrier, i32)");
      if (p.op.code == OpCode::MbarrierInit) return exec_mbarrier_init;
      if (p.op.code == OpCode::MbarrierArriveExpectTx) return exec_mbarrier_arrive_expect_tx;
      return exec_mbarrier_wait;
  }
}

}  // namespace tilejit::emulator::detail
