// Emulator internals: the prepared program (one handler per op), per-workgroup state, dispatch.
#pragma once
#include <cstddef>
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "backend/emulator/emulator.h"
#include "backend/emulator/memory.h"
#include "dsl/ir/ir.h"
#include "dsl/target.h"

namespace tilejit::emulator::detail {

struct Wave;
struct Inst;
struct Block;

/// Executes one op for all lanes of a workgroup (called once per op, never per lane).
using Handler = void (*)(Wave&, const Inst&);

/// One prepared op. Value storage is addressed by per-lane offsets: a value's
/// lanes live contiguously at `vals + offset * nlanes`, lane l at `l * size_bytes`.
struct Inst {
  Handler fn = nullptr;
  const ir::Op* op = nullptr;
  uint32_t r = 0;                 // result offset (slot storage for var)
  uint32_t o[3] = {0, 0, 0};      // offsets of operands 0..2
  std::vector<uint32_t> ov;       // offsets of all operands (variadic ops)
  ir::Type rt;                    // result type
  ir::Type ot[3];                 // operand types 0..2
  uint32_t width = 1;             // result elements per lane
  uint32_t depth = 0;             // mask-stack level of the region holding this op
  int64_t attr = 0;               // attr 0 (0 when absent)
  uint64_t aux = 0;               // per-op constant chosen at prepare time
  uint32_t arg = 0;               // offset of the region argument (for: induction variable)
  uint32_t cache = 0;             // this op's slot in Wave::caches
  std::vector<uint8_t> blob;      // per-op data chosen at prepare time (a constant's lane image)
  const Block* region[2] = {nullptr, nullptr};
};

struct Block {
  std::vector<Inst> insts;
};

/// A kernel made ready to run: its own copy of the Function, the op handlers and the storage layout.
struct Program {
  ir::Function fn;
  Options opts;
  const TargetInfo* target = nullptr;
  std::vector<std::unique_ptr<Block>> blocks;  // blocks[0]: the body
  /// Ops whose values are the same for a whole launch (constants, parameters, ids, shared
  /// offsets) or a whole workgroup (block ids): hoisted out of the body, run once per worker
  /// (prologue) or once per workgroup (wg_prologue), their storage never reused.
  Block prologue, wg_prologue;
  uint32_t lane_bytes = 0;                     // storage bytes per lane for all live values
  uint32_t levels = 1;                         // mask-stack levels (max nesting + 1)
  uint64_t shared_bytes = 0;
  std::vector<Range> shared_ranges;            // each shared_alloc's [offset, offset+bytes)
  uint32_t insts = 0;                          // ops prepared (Inst::cache slots)
  bool uses_wgmma = false;                     // shared writes are then tracked (ProxyWrites)
  /// Uses mbarriers or named barriers: threads may wait for each other's arrivals, so the branches of an if both
  /// threads take run as separate thread groups interleaved at their waits (warp_scheduler.h).
  bool warp_scheduling = false;
};

/// Builds the program; throws UserError for IR the emulator cannot run (naming the op).
std::unique_ptr<Program> build_program(const ir::Function& fn, const Options& opts);

/// What every workgroup of one launch shares (read-only while it runs).
struct LaunchInfo {
  const Program* prog = nullptr;
  Dim3 grid, block;
  std::vector<KernelArg> args;
  std::vector<Range> global;             // sorted snapshot of the device's allocations
  std::vector<uint32_t> tid[3], lane_id; // per lane
  uint32_t wave_size = 32;
};

/// One queued cp.async copy (performed at the cp_async_wait that retires its group).
struct CpCopy {
  uint32_t lane, group, dst, size;
  uint8_t data[16];
};

/// Warps a workgroup can hold (1024 threads of 32).
constexpr uint32_t kMaxWarps = 32;

/// One mbarrier of a workgroup (sm_90a), by the shared offset of its 8 bytes.
struct Mbarrier {
  uint32_t at = 0;
  uint32_t count = 0;    // arrivals each phase expects
  uint32_t pending = 0;  // arrivals the current phase still misses
  int64_t tx = 0;        // bytes the current phase still waits for (negative: delivered before expected)
  uint32_t phase = 0;    // phases completed
  /// Race checking: the vector clock of every arrival so far (joined at each arrive) and its
  /// value when the last phase completed (a waiter acquires it).
  std::array<uint32_t, kMaxWarps> clock{}, done_clock{};
};

/// One bulk copy in flight: its source bytes read at issue, written to shared memory by the first
/// mbarrier_wait that needs its mbarrier's phase to complete.
struct BulkCopy {
  uint32_t bar, dst, lane;
  std::vector<uint8_t> data;
};

/// One wgmma group of a warpgroup: the 16-byte shared chunks its wgmmas read, and the first of
/// them (named when a write races with it).
struct WgmmaGroup {
  std::vector<uint32_t> chunks;
  const Inst* first = nullptr;
};

/// wgmma reads in flight (sm_90a). The emulator computes a wgmma when it issues, but hardware may
/// read its operands until a wgmma_wait retires its group: a shared write into them before that is
/// a race, which the emulator reports (check_wgmma_reads) instead of computing a clean result.
struct WgmmaReads {
  std::vector<uint16_t> count;  // per 16-byte shared chunk: groups in flight that read it
  std::vector<uint32_t> stamp;  // per chunk: the last open group that counted it
  uint32_t next_stamp = 1;
  uint32_t busy = 0;            // chunks with count > 0 (0: no shared write needs checking)
  std::vector<WgmmaGroup> open;                   // per warpgroup: issued, not yet committed
  std::vector<std::vector<WgmmaGroup>> committed;  // per warpgroup, oldest first
};

/// Shared writes not yet published to wgmma (kernels with wgmma only): wgmma reads shared memory
/// through the async proxy, which sees a thread's stores and landed cp.async copies only after
/// that thread's fence_proxy_async. Per 16-byte chunk the last writing lane (+ 1; 0: none) and its
/// fence count at the write; per lane its fences so far.
struct ProxyWrites {
  std::vector<uint32_t> writer, epoch;
  std::vector<uint32_t> fences;
};

/// Shared-memory race checking (Options::race_check): per 4-byte word the barrier interval
/// (epoch), warp and stamp of its last write, and the warps that read it in that interval (a
/// bitmask) with, for mbarrier programs, each reader's stamp. Within an interval, an access
/// another warp made is ordered before this warp's when this warp has since waited on an mbarrier
/// phase that the other warp arrived on after the access (happens-before through vector clocks:
/// a warp's stamp counts its arrivals; clocks[w][v]: the stamps of warp v that warp w has seen).
struct SharedRaces {
  std::vector<uint32_t> write_epoch, write_warp, write_stamp, read_epoch, read_warps;
  std::vector<uint32_t> read_stamp;  // per word kMaxWarps entries (mbarrier programs only)
  /// Mbarrier programs: per word and warp, 1 + the warp's proxy fences at its last read (0: none),
  /// and per warp its fence_proxy_async count: a bulk copy may overwrite a word only once every
  /// warp that read it has fenced since.
  std::vector<uint32_t> read_fence, fences;
  std::vector<std::array<uint32_t, kMaxWarps>> clocks;  // per warp
  uint32_t epoch = 1;  // barriers passed in this workgroup + 1
};

struct Scheduler;

/// The state of one worker running workgroups one after another.
struct Wave {
  const LaunchInfo* L = nullptr;
  const Program* P = nullptr;
  uint32_t nlanes = 0;
  uint8_t* vals = nullptr;     // value storage
  uint8_t* mask = nullptr;     // current execution mask (one byte per lane, 0/1)
  uint32_t active = 0;         // lanes set in `mask`
  uint8_t* masks = nullptr;    // levels * nlanes; level 0 = all lanes
  uint32_t bid[3] = {0, 0, 0};
  uint8_t* shared = nullptr;
  std::vector<Range> caches;  // per op: the allocation its last access hit (empty range at first)
  std::vector<CpCopy> cp_pending;
  std::vector<uint32_t> cp_committed;  // per lane: committed cp.async groups
  std::vector<Mbarrier> mbarriers;     // initialised in this workgroup
  std::vector<Mbarrier> named;         // named_barrier ids 0..15 (count 0: no phase under way)
  std::vector<BulkCopy> bulk_pending;
  WgmmaReads wgmma;
  ProxyWrites proxy;
  SharedRaces races;
  Scheduler* sched = nullptr;  // the thread groups of this workgroup (Program::warp_scheduling)

  template <class T>
  T* at(uint32_t off) const { return reinterpret_cast<T*>(vals + size_t(off) * nlanes); }
  uint8_t* level(uint32_t l) const { return masks + size_t(l) * nlanes; }
  bool full() const { return active == nlanes; }

  // Owned buffers (operator new: 16-byte aligned).
  std::vector<uint8_t> vals_buf, masks_buf, shared_buf;
  std::shared_ptr<Scheduler> sched_buf;
};

/// Allocates a worker's buffers for a launch.
void init_wave(Wave& w, const LaunchInfo& L);
/// Runs workgroup `b` (block index) to completion on `w`.
void run_workgroup(Wave& w, uint32_t bx, uint32_t by, uint32_t bz);
/// Faults when `bytes` of shared memory at `addr`, written by `lane`, may still be read by a wgmma
/// in flight (call only while w.wgmma.busy).
void check_wgmma_reads(const Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes);
/// Forgets every wgmma in flight and every unpublished write (a new workgroup).
void reset_wgmma_reads(Wave& w);
/// Records `lane`'s shared write of `bytes` at `addr` as not yet visible to wgmma (call only when
/// the program uses wgmma).
inline void note_generic_write(Wave& w, uint32_t lane, uint64_t addr, uint64_t bytes) {
  ProxyWrites& p = w.proxy;
  for (uint64_t c = addr / 16; c <= (addr + bytes - 1) / 16; ++c) {
    p.writer[c] = lane + 1;
    p.epoch[c] = p.fences[lane];
  }
}
/// Records that the copy engine wrote `bytes` at `addr`: visible to wgmma without a proxy fence
/// (call only when the program uses wgmma).
inline void note_async_write(Wave& w, uint64_t addr, uint64_t bytes) {
  for (uint64_t c = addr / 16; c <= (addr + bytes - 1) / 16; ++c) w.proxy.writer[c] = 0;
}
/// Race checking: forgets the last writes of `bytes` at `addr` (bytes a synchronisation other than
/// a barrier, an mbarrier wait, has made visible to every thread that reads them after it).
void forget_shared_writes(Wave& w, uint64_t addr, uint64_t bytes);
/// Race checking: clears the record for a new workgroup; records `lane`'s shared access of `bytes`
/// at `addr` and faults when another warp wrote those bytes (or, for a write, read them) since the
/// last barrier. Call only when w.P->opts.race_check.
void reset_race_check(Wave& w);
void note_shared_access(Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes, bool write);
/// Race checking: `lane` arrives on `m` (a release: its warp's earlier accesses are ordered before
/// whatever a waiter on the phase does next) / has waited for `m`'s completed phase (an acquire).
void note_arrival(Wave& w, uint32_t lane, Mbarrier& m);
void note_wait(Wave& w, uint32_t lane, const Mbarrier& m);
/// Race checking: the active lanes executed fence_proxy_async.
void note_proxy_fence(Wave& w);
/// Race checking: faults when a bulk copy by `lane` into `bytes` at `addr` could overwrite what a
/// warp read with ordinary loads that has not executed fence_proxy_async since (the copy engine
/// writes through the async proxy, which a barrier or mbarrier alone does not order after them).
void check_async_overwrite(const Wave& w, const Inst& in, uint32_t lane, uint64_t addr, uint64_t bytes);
/// Runs a region's ops under the current mask.
inline void run_block(Wave& w, const Block& b) {
  for (const Inst& in : b.insts) in.fn(w, in);
}

// ---- Preparation: each op family chooses the handler for its ops. ----

/// What a family's selector sees while the program is built.
struct Prep {
  const ir::Function& fn;
  const Options& opts;
  const TargetInfo& ti;
  const ir::Op& op;
  Inst& in;
  uint64_t& shared_cursor;
  std::vector<Range>& shared_ranges;

  /// Operand i's type.
  const ir::Type& type(size_t i) const { return fn.type_of(op.operands.at(i)); }
  size_t nops() const { return op.operands.size(); }
  /// Throws UserError naming the kernel, the op and its location.
  [[noreturn]] void reject(const std::string& why) const;
  void require(bool ok, const std::string& why) const {
    if (!ok) reject(why);
  }
};

/// Each returns the handler for `p.op`, or nullptr when the op is not its family's.
Handler select_values(Prep& p);      // const, param, ids
Handler select_arith(Prep& p);       // integer / float arithmetic, compares, select
Handler select_convert(Prep& p);     // casts, bitcast, vector element ops
Handler select_memory(Prep& p);      // ptr_add, load, store, atomics, shared_alloc, buffer_load
Handler select_control(Prep& p);     // for, if, barrier, var slots
Handler select_intrinsics(Prep& p);  // mma, cvt_pk_bf16_fp4, ldmatrix, cp_async*, wgmma*, wave_umax/umin, prefetch_l2
Handler select_bulk_copy(Prep& p);   // mbarrier_*, bulk_copy_to_shared, named_barrier (called by select_intrinsics)

}  // namespace tilejit::emulator::detail
