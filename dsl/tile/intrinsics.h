// DSL entry points for the target intrinsics: MMA, FP4 conversion, ldmatrix, cp.async, wave reductions.
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
void cp_async_commit(const dsl::SrcLoc& loc = dsl::SrcLoc::current());
/// Waits until at most `pending` committed groups are still in flight.
void cp_async_wait(int pending, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

/// The unsigned maximum / minimum of the i32 `v` over the lanes of this wave (sm_90a: the warp of
/// 32, redux.sync; gfx950: the wave of 64), the same in every lane. Every lane of the wave must be
/// active (the emulator faults otherwise). A condition on the result is wave-uniform, so it may
/// guard an mma.
dsl::Value wave_umax(const dsl::Value& v, const dsl::SrcLoc& loc = dsl::SrcLoc::current());
dsl::Value wave_umin(const dsl::Value& v, const dsl::SrcLoc& loc = dsl::SrcLoc::current());

}  // namespace tilejit::tile
