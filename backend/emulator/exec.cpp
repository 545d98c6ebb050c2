// Runs workgroups: per-worker buffers and the entry into the program's body.
#include <algorithm>
#include <cstring>

#include "backend/emulator/interp.h"
#include "backend/emulator/warp_scheduler.h"

namespace tilejit::emulator::detail {

void init_wave(Wave& w, const LaunchInfo& L) {
  const Program& P = *L.prog;
  w.L = &L;
  w.P = &P;
  w.nlanes = uint32_t(L.block.count());
  size_t vbytes = size_t(P.lane_bytes) * w.nlanes;
  w.vals_buf.assign(vbytes, 0);
  w.vals = w.vals_buf.data();
  w.masks_buf.assign(size_t(P.levels + 1) * w.nlanes, 0);
  w.masks = w.masks_buf.data();
  std::memset(w.masks, 1, w.nlanes);  // level 0: every thread of the workgroup
  w.shared_buf.assign(std::max<size_t>(P.shared_bytes, 16), 0);
  w.shared = w.shared_buf.data();
  w.caches.assign(P.insts + 1, Range{1, 0});
  w.cp_committed.assign(w.nlanes, 0);
  w.cp_pending.clear();
  w.cp_pending.reserve(64);
  if (P.uses_wgmma) {
    const size_t chunks = (P.shared_bytes + 15) / 16;
    w.proxy.writer.assign(chunks, 0);
    w.proxy.epoch.assign(chunks, 0);
    w.proxy.fences.assign(w.nlanes, 0);
  }
  w.mask = w.masks;
  w.active = w.nlanes;
  run_block(w, P.prologue);
}

void run_workgroup(Wave& w, uint32_t bx, uint32_t by, uint32_t bz) {
  w.bid[0] = bx;
  w.bid[1] = by;
  w.bid[2] = bz;
  w.mask = w.masks;
  w.active = w.nlanes;
  run_block(w, w.P->wg_prologue);
  w.cp_pending.clear();
  std::fill(w.cp_committed.begin(), w.cp_committed.end(), 0u);
  w.mbarriers.clear();
  w.named.assign(16, Mbarrier{});
  w.bulk_pending.clear();
  reset_wgmma_reads(w);
  if (w.P->opts.race_check) reset_race_check(w);
  // Shared memory starts undefined on a GPU; fill it with 0xFF (NaN / -1) so reads before writes
  // show the same garbage in every run instead of what the worker's previous workgroup left.
  std::memset(w.shared, 0xFF, w.P->shared_bytes);
  if (w.P->warp_scheduling)
    run_scheduled(w, *w.P->blocks[0]);
  else
    run_block(w, *w.P->blocks[0]);
}

}  // namespace tilejit::emulator::detail
