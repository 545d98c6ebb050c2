// DSL entry points for the target intrinsics: MMA, FP4 conversion, ldmatrix, cp.async, wgmma, bulk copies,
// wave reductions.
#pragma once
#include "dsl/matrix/mma.h"
#include "dsl/value.h"

namespace tilejit::tile {

/// d = a·b + c with the target's bf16 MMA; a, b, c are this lane's registers in the
/// hardware order (see dsl/matrix/mma.h and layout.h).
dsl::Value mma(const dsl::Value& a, const dsl::Value& b, const dsl::Value& c,
               const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// gfx950 v_cvt_scalef32_pk_bf16_fp4: the two FP4 codes of byte `byte_sel` of `word` (i32),
/// scaled by the E8M0 exponent held in bits 30:23 of `scale` (f32), as <2 x bf16>.
dsl::Value cvt_pk_bf16_fp4(const dsl::Value& word, const dsl::Value& scale, int byte_sel,
                           const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// sm_90a ldmatrix.x4 (.trans when `trans`): `row_address` is this lane's row (ptr<shared, bf16>).
dsl::Value ldmatrix_x4(const dsl::Value& row_address, bool trans, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// sm_90a cp.async.cg of 16 bytes from global to shared, zero-filling past `src_bytes`.
void cp_async_16(const dsl::Value& dst_shared, const dsl::Value& src_global, const dsl::Arg& src_bytes,
                 const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// sm_90a cp.async.ca of 4 bytes from global to shared (both 4-byte aligned): for copies that
/// rearrange words, e.g. an operand permuted along K. Grouped and waited for like cp_async_16.
void cp_async_4(const dsl::Value& dst_shared, const dsl::Value& src_global,
                const dsl::SrcLoc& loc = dsl::SrcLoc::current());
void cp_async_commit(const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Waits until at most `pending` committed groups are still in flight.
void cp_async_wait(int pending, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// Where the 8 x 8 core matrices (128 contiguous bytes, row r at byte 16 r) of a K-major wgmma
/// operand lie without swizzle: element (row, k) at base + (row / 8) * sbo + (k / 8) * lbo +
/// (row % 8) * 16 + (k % 8) * 2. Both multiples of 16 below 2^18.
/// With swizzle_128b instead: rows of 128 bytes (64 bf16 of K), 8-row atoms sbo bytes apart, the
/// 16-byte chunks of row r XORed with r % 8 (the address bits 6:4 with bits 9:7, so each atom must
/// start at a multiple of 1024 bytes); lbo is unused. tile::SharedTile with 64 columns is this layout.
struct WgmmaLayout {
  int lbo = 128;   ///< bytes between the two core matrices along K (k 0..7 and 8..15)
  int sbo = 1024;  ///< bytes between core matrices (or swizzle atoms) 8 rows apart
  bool swizzle_128b = false;
};

/// sm_90a wgmma.mma_async m64nNk16 (f32 += bf16 x bf16), N = 2 x acc's width (8..128, a multiple
/// of 8; the IR's vectors hold at most 64 elements): acc + A (64 x 16 at `a`) x B (N x 16 at `b`)^T,
/// both K-major in `layout`. Or, with `a` a <8 x bf16> value, A from registers: lane l of warp w (of
/// the group) holds in element i the entry (16 w + l / 4 + 8 (i / 2 % 2), 2 (l % 4) + i % 2 + 8 (i /
/// 4)), the mma.sync m16n8k16 A layout per warp; those registers must not change until the wgmma
/// is retired: call wgmma_fence() after writing them, before the wgmma, and pass the fragment
/// (bitcast to <4 x f32>) through the wgmma_wait that retires it, so that the compiler keeps its
/// registers until then (ptxas serializes the wgmmas when a register they read is redefined
/// before the wait). Collective over
/// the warpgroup (four consecutive warps of the block, every lane active, `a` and `b` the same in
/// all of them); lane l of warp w (of the group) holds in element i the entry (16 w + l / 4 + 8 *
/// (i / 2 % 2), 8 * (i / 4) + 2 * (l % 4) + i % 2), the mma.sync accumulator layout of N / 8 column
/// tiles. Asynchronous: before the first wgmma of a group call wgmma_fence(); after the last,
/// wgmma_commit(); read the accumulator only after wgmma_wait() returned it. Shared memory the
/// threads wrote (stores, cp.async) must be published with fence_proxy_async() before the barrier
/// that precedes the wgmma.
dsl::Value wgmma(const dsl::Value& a, const dsl::Value& b, const dsl::Value& acc, WgmmaLayout layout = {},
                 const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// wgmma.fence.sync.aligned (before the first wgmma that reads accumulators or shared memory written since).
void wgmma_fence(const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// wgmma.commit_group.sync.aligned: the wgmma ops issued since the last commit form one group.
void wgmma_commit(const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// wgmma.wait_group.sync.aligned `pending` (0..7), returning `acc` readable: every wgmma but those
/// of the newest `pending` groups has completed (its shared reads too).
dsl::Value wgmma_wait(const dsl::Value& acc, int pending, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// fence.proxy.async.shared::cta: makes this thread's shared-memory writes visible to wgmma (the
/// async proxy) once a barrier follows.
void fence_proxy_async(const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// An L2 prefetch hint: brings the `bytes` (i32, a multiple of 16) from `src` (ptr<global, T>, 16-byte
/// aligned) into L2 without reading them into registers, e.g. the weights a later block will load.
/// sm_90a: cp.async.bulk.prefetch.L2; gfx950 has no such instruction and drops it. The emulator
/// checks the range lies in one allocation (and the alignment) and otherwise does nothing.
void prefetch_l2(const dsl::Value& src, const dsl::Arg& bytes, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// sm_90a bulk copies through the copy engine, completing on an mbarrier: a 64-bit object in
/// shared memory (`bar`, ptr<shared, i64>, 8-byte aligned, e.g. from shared_array<int64_t>) that
/// counts, per phase, thread arrivals and transferred bytes; phase k has parity k % 2. A ring of
/// stages: one thread initialises each stage's mbarrier (count 1) before a block barrier; a
/// producing thread calls mbarrier_arrive_expect_tx(bar, bytes) and bulk_copy_to_shared() for those
/// bytes; readers call mbarrier_wait(bar, k % 2) before reading the k-th fill of the stage, and a
/// stage is refilled only after every reader is done with it (a block barrier, or a second
/// mbarrier the readers arrive on). gfx950 has no copy engine: the verifier rejects these there.
/// The emulator performs a copy at the first wait that needs it and faults on a wait that could
/// never return (arrivals or bytes missing), on misaligned or out-of-range copies and on an
/// mbarrier used before mbarrier_init.
///
/// mbarrier_init: phase 0 of `bar` expects `count` (>= 1) arrivals; visible to the copy engine and
/// the other threads after the next block barrier.
void mbarrier_init(const dsl::Value& bar, const dsl::Arg& count, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// The current phase of `bar` also waits for `bytes` (i32) of bulk copies; then this thread arrives.
void mbarrier_arrive_expect_tx(const dsl::Value& bar, const dsl::Arg& bytes,
                               const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// cp.async.bulk: `bytes` (i32, a positive multiple of 16) from `src` (ptr<global, T>) to `dst`
/// (ptr<shared, U>: a byte copy, the element types may differ), both 16-byte aligned, completing
/// on `bar`'s current phase. Issued by each active thread (usually one).
void bulk_copy_to_shared(const dsl::Value& dst, const dsl::Value& src, const dsl::Arg& bytes, const dsl::Value& bar,
                         const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Returns once the phase of `bar` with parity `parity` (i32, 0 or 1) has completed; the bytes its
/// copies brought are then visible to this thread.
void mbarrier_wait(const dsl::Value& bar, const dsl::Arg& parity, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// sm_90a: a barrier among `threads` threads of the workgroup (a multiple of 32, whole warps),
/// numbered `id` 1..15 (0 is barrier()'s): each warp that reaches it waits until `threads` threads
/// have, while the others run on; shared-memory accesses of the participants before it are visible
/// to them after it (bar.sync id, threads). E.g. the consumer warps of a warp-specialized kernel,
/// without the producer. Errors at trace time for a bad id or count; the emulator faults when not
/// every thread of a warp takes part, when the count differs from the phase under way, and on a
/// barrier that can never complete. gfx950 has no named barriers: tracing one there is a UserError.
void named_barrier(int id, int threads, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// Programmatic dependent launch (sm_90a; see LaunchOptions::early_start). wait_prior_grids():
/// waits until the kernel launched before this one on its stream has completed and its writes are
/// visible; a kernel launched early must call it before it reads what that kernel writes or writes
/// what that kernel reads or writes. Returns at once in a launch that was not early.
/// launch_dependents(): lets the kernel launched after this one start early now (otherwise it
/// starts as this one's blocks finish). gfx950 and the emulator never overlap launches: no-ops.
void wait_prior_grids(const dsl::SrcLoc& loc = dsl::SrcLoc::current());
void launch_dependents(const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// The unsigned maximum / minimum of the i32 `v` over the lanes of this wave (sm_90a: the warp of
/// 32, redux.sync; gfx950: the wave of 64), the same in every lane. Every lane of the wave must be
/// active (the emulator faults otherwise). A condition on the result is wave-uniform, so it may
/// guard an mma.
dsl::Value wave_umax(const dsl::Value& v, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
dsl::Value wave_umin(const dsl::Value& v, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

}  // namespace tilejit::tile
