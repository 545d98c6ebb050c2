// Target intrinsic emitters with located type checks.
#include "dsl/tile/intrinsics.h"

#include <fmt/format.h>

#include "dsl/ops.h"
#include "dsl/tile/layout.h"

namespace tilejit::tile {

using dsl::detail::emit;
using dsl::detail::type_error;
using ir::OpCode;
using ir::Scalar;
using ir::Type;

namespace {
void need_target(Target t, const char* what, const dsl::SrcLoc& loc) {
  if (dsl::target().target != t)
    type_error(fmt::format("{} exists only on {} (tracing for {})", what, target_info(t).name, dsl::target().name), loc);
}
void need_type(const dsl::Value& v, const Type& t, const char* what, const dsl::SrcLoc& loc) {
  if (v.type() != t)
    type_error(fmt::format("{} expects {}, got {}", what, ir::to_string(t), ir::to_string(v.type())), loc);
}
}  // namespace

dsl::Value mma(const dsl::Value& a, const dsl::Value& b, const dsl::Value& c, const dsl::SrcLoc& loc) {
  const matrix::MmaInfo& info = target_mma();
  need_type(a, Type::vector(Scalar::BF16, info.a_elems), "mma operand a", loc);
  need_type(b, Type::vector(Scalar::BF16, info.b_elems), "mma operand b", loc);
  need_type(c, Type::vector(Scalar::F32, info.c_elems), "mma operand c", loc);
  return emit(OpCode::Mma, c.type(), {a, b, c}, {int64_t(info.instr)}, loc);
}

dsl::Value cvt_pk_bf16_fp4(const dsl::Value& word, const dsl::Value& scale, int byte_sel, const dsl::SrcLoc& loc) {
  need_target(Target::Gfx950, "cvt_pk_bf16_fp4", loc);
  need_type(word, Type::scalar(Scalar::I32), "cvt_pk_bf16_fp4 source", loc);
  need_type(scale, Type::scalar(Scalar::F32), "cvt_pk_bf16_fp4 scale", loc);
  if (byte_sel < 0 || byte_sel > 3) type_error(fmt::format("byte_sel must be 0..3, got {}", byte_sel), loc);
  return emit(OpCode::CvtPkBf16Fp4, Type::vector(Scalar::BF16, 2), {word, scale}, {byte_sel}, loc);
}

dsl::Value ldmatrix_x4(const dsl::Value& row_address, bool trans, const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "ldmatrix", loc);
  need_type(row_address, Type::pointer(Scalar::BF16, ir::AddrSpace::Shared), "ldmatrix address", loc);
  return emit(OpCode::LdMatrix, Type::vector(Scalar::BF16, 8), {row_address}, {trans ? 1 : 0}, loc);
}

namespace {
void cp_async(int size, const dsl::Value& dst, const dsl::Value& src, const dsl::Arg& src_bytes, const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "cp.async", loc);
  if (!dst.type().is_pointer() || dst.type().space != ir::AddrSpace::Shared || !src.type().is_pointer() ||
      src.type().space != ir::AddrSpace::Global || dst.type().elem != src.type().elem)
    type_error(fmt::format("cp.async copies global to shared memory of one element type; got {} <- {}",
                           ir::to_string(dst.type()), ir::to_string(src.type())), loc);
  std::vector<int64_t> attrs;
  if (size != 16) attrs.push_back(size);
  emit(OpCode::CpAsync, Type::void_(), {dst, src, src_bytes.as(Type::scalar(Scalar::I32))}, attrs, loc);
}
}  // namespace

void cp_async_16(const dsl::Value& dst, const dsl::Value& src, const dsl::Arg& src_bytes, const dsl::SrcLoc& loc) {
  cp_async(16, dst, src, src_bytes, loc);
}

void cp_async_4(const dsl::Value& dst, const dsl::Value& src, const dsl::SrcLoc& loc) {
  cp_async(4, dst, src, dsl::Arg(4, loc), loc);
}

void cp_async_commit(const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "cp.async.commit_group", loc);
  emit(OpCode::CpAsyncCommit, Type::void_(), {}, {}, loc);
}

void cp_async_wait(int pending, const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "cp.async.wait_group", loc);
  if (pending < 0 || pending > 7) type_error(fmt::format("cp.async.wait_group takes 0..7, got {}", pending), loc);
  emit(OpCode::CpAsyncWait, Type::void_(), {}, {pending}, loc);
}

dsl::Value wgmma(const dsl::Value& a, const dsl::Value& b, const dsl::Value& acc, WgmmaLayout layout,
                 const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "wgmma", loc);
  const Type smem = Type::pointer(Scalar::BF16, ir::AddrSpace::Shared);
  if (a.type() != Type::vector(Scalar::BF16, 8)) need_type(a, smem, "wgmma operand a (or its <8 x bf16> fragment)", loc);
  need_type(b, smem, "wgmma operand b", loc);
  const Type& t = acc.type();
  if (!t.is_value() || t.elem != Scalar::F32 || t.width % 4 || t.width < 4 || t.width > 64)
    type_error(fmt::format("wgmma accumulator must be <N/2 x f32> with N a multiple of 8 in 8..128, got {}",
                           ir::to_string(t)), loc);
  for (int off : {layout.lbo, layout.sbo})
    if (off < 0 || off >= (1 << 18) || off % 16)
      type_error(fmt::format("wgmma core-matrix offset {} must be a multiple of 16 below 2^18", off), loc);
  return emit(OpCode::Wgmma, t, {a, b, acc},
              {int64_t(t.width) * 2, layout.lbo, layout.sbo, layout.swizzle_128b ? 1 : 0}, loc);
}

void wgmma_fence(const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "wgmma.fence", loc);
  emit(OpCode::WgmmaFence, Type::void_(), {}, {}, loc);
}

void wgmma_commit(const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "wgmma.commit_group", loc);
  emit(OpCode::WgmmaCommit, Type::void_(), {}, {}, loc);
}

dsl::Value wgmma_wait(const dsl::Value& acc, int pending, const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "wgmma.wait_group", loc);
  if (pending < 0 || pending > 7) type_error(fmt::format("wgmma.wait_group takes 0..7, got {}", pending), loc);
  if (!acc.type().is_value() || acc.type().elem != Scalar::F32)
    type_error(fmt::format("wgmma_wait returns an f32 accumulator, got {}", ir::to_string(acc.type())), loc);
  return emit(OpCode::WgmmaWait, acc.type(), {acc}, {pending}, loc);
}

void fence_proxy_async(const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "fence.proxy.async", loc);
  emit(OpCode::FenceProxyAsync, Type::void_(), {}, {}, loc);
}

void prefetch_l2(const dsl::Value& src, const dsl::Arg& bytes, const dsl::SrcLoc& loc) {
  if (!src.type().is_pointer() || src.type().space != ir::AddrSpace::Global)
    type_error(fmt::format("prefetch_l2 takes a global pointer, got {}", ir::to_string(src.type())), loc);
  emit(OpCode::PrefetchL2, Type::void_(), {src, bytes.as(Type::scalar(Scalar::I32))}, {}, loc);
}

namespace {
void need_mbarrier(const dsl::Value& bar, const char* what, const dsl::SrcLoc& loc) {
  need_type(bar, Type::pointer(Scalar::I64, ir::AddrSpace::Shared), what, loc);
}
/// mbarrier_init / mbarrier_arrive_expect_tx / mbarrier_wait: (the mbarrier, one i32).
void emit_mbarrier_op(OpCode code, const char* what, const dsl::Value& bar, const dsl::Arg& value, const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, what, loc);
  need_mbarrier(bar, what, loc);
  emit(code, Type::void_(), {bar, value.as(Type::scalar(Scalar::I32))}, {}, loc);
}
}  // namespace

void mbarrier_init(const dsl::Value& bar, const dsl::Arg& count, const dsl::SrcLoc& loc) {
  emit_mbarrier_op(OpCode::MbarrierInit, "mbarrier_init", bar, count, loc);
}

void mbarrier_arrive_expect_tx(const dsl::Value& bar, const dsl::Arg& bytes, const dsl::SrcLoc& loc) {
  emit_mbarrier_op(OpCode::MbarrierArriveExpectTx, "mbarrier_arrive_expect_tx", bar, bytes, loc);
}

void bulk_copy_to_shared(const dsl::Value& dst, const dsl::Value& src, const dsl::Arg& bytes, const dsl::Value& bar,
                         const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "bulk_copy_to_shared", loc);
  const Type& d = dst.type();
  const Type& s = src.type();
  if (!d.is_pointer() || d.space != ir::AddrSpace::Shared || !s.is_pointer() || s.space != ir::AddrSpace::Global)
    type_error(fmt::format("bulk_copy_to_shared copies ptr<global, T> to ptr<shared, U>, got {} to {}",
                           ir::to_string(s), ir::to_string(d)),
               loc);
  need_mbarrier(bar, "bulk_copy_to_shared's mbarrier", loc);
  emit(OpCode::BulkCopyToShared, Type::void_(), {dst, src, bytes.as(Type::scalar(Scalar::I32)), bar}, {}, loc);
}

void mbarrier_wait(const dsl::Value& bar, const dsl::Arg& parity, const dsl::SrcLoc& loc) {
  emit_mbarrier_op(OpCode::MbarrierWait, "mbarrier_wait", bar, parity, loc);
}

void named_barrier(int id, int threads, const dsl::SrcLoc& loc) {
  need_target(Target::Sm90a, "named_barrier", loc);
  if (id < 1 || id > 15)
    type_error(fmt::format("named_barrier id {}: 1..15 (0 is the block barrier)", id), loc);
  if (threads < 32 || threads > 1024 || threads % 32)
    type_error(fmt::format("named_barrier for {} threads: a multiple of 32 from 32 to 1024", threads), loc);
  emit(OpCode::NamedBarrier, Type::void_(), {}, {int64_t(id), int64_t(threads)}, loc);
}

void wait_prior_grids(const dsl::SrcLoc& loc) { emit(OpCode::WaitPriorGrids, Type::void_(), {}, {}, loc); }

void launch_dependents(const dsl::SrcLoc& loc) { emit(OpCode::LaunchDependents, Type::void_(), {}, {}, loc); }

dsl::Value wave_umax(const dsl::Value& v, const dsl::SrcLoc& loc) {
  need_type(v, Type::scalar(Scalar::I32), "wave_umax", loc);
  return emit(OpCode::WaveUMax, v.type(), {v}, {}, loc);
}

dsl::Value wave_umin(const dsl::Value& v, const dsl::SrcLoc& loc) {
  need_type(v, Type::scalar(Scalar::I32), "wave_umin", loc);
  return emit(OpCode::WaveUMin, v.type(), {v}, {}, loc);
}

}  // namespace tilejit::tile
