// The verifier: valid kernels pass; each check rejects its case with the op's line and location.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "dsl/error.h"
#include "dsl/ir/printer.h"
#include "dsl/ir/verifier.h"
#include "ir_test_util.h"

namespace tilejit::ir::test {
namespace {

SourceLoc at(uint32_t line) { return SourceLoc{"tests/k.cpp", line}; }

/// Verifies, expecting an exception of type E whose message holds every word.
template <class E = UserError>
void expect_reject(const Function& fn, Target t, const std::vector<std::string>& words) {
  try {
    verify(fn, t);
    ADD_FAILURE() << "verify accepted:\n" << print(fn);
  } catch (const E& e) {
    std::string msg = e.what();
    for (const std::string& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "want '" << w << "' in: " << msg;
  }
}

TEST(IrVerifier, AcceptsValidKernels) {
  std::mt19937 rng(fresh_seed());
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    EXPECT_NO_THROW(verify(make_valid(t), t)) << print(make_valid(t));
    EXPECT_NO_THROW(verify(renumber(make_valid(t), rng), t));
    EXPECT_NO_THROW(verify(make_scale(), t));
    EXPECT_NO_THROW(verify(make_loops(), t));
  }
}

TEST(IrVerifier, OperandCountFromRegistry) {
  Function fn;
  fn.name = "k";
  Builder b(fn);
  ValueId a = b.const_int(i32(), 1);
  b.emit(OpCode::Add, i32(), {a}, {}, at(7));
  expect_reject(fn, Target::Gfx950, {"add takes 2 operand(s), got 1", "tests/k.cpp:7", "%1 = add %0 : i32"});
}

TEST(IrVerifier, StructureResultsAttrsRegions) {
  {
    Function fn;
    Builder b(fn);
    ValueId p = b.emit(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {4});
    ValueId v = b.const_float(f32(), 1.0);
    b.emit(OpCode::Store, f32(), {p, v}, {}, at(3));
    expect_reject(fn, Target::Sm90a, {"store produces no result", "tests/k.cpp:3"});
  }
  {
    Function fn;
    Builder b(fn);
    b.emit(OpCode::ThreadId, i32(), {}, {}, at(4));
    expect_reject(fn, Target::Sm90a, {"thread_id has 0 attribute(s), expected 1", "tests/k.cpp:4"});
  }
  {
    Function fn;
    Builder b(fn);
    ValueId c = b.const_int(i1(), 1);
    Op& op = b.emit_with_regions(OpCode::If, {c}, at(5));
    op.regions.pop_back();
    expect_reject(fn, Target::Sm90a, {"if has 1 region(s), expected 2", "tests/k.cpp:5"});
  }
}

TEST(IrVerifier, OperandTypes) {
  {
    Function fn;
    Builder b(fn);
    ValueId i = b.const_int(i32(), 3);
    ValueId f = b.const_float(f32(), 1.0);
    b.emit(OpCode::FAdd, f32(), {i, f}, {}, at(11));
    expect_reject(fn, Target::Gfx950,
                  {"fadd operand 0 (%0: i32): expected f32", "tests/k.cpp:11", "%2 = fadd %0, %1 : f32"});
  }
  {
    Function fn;
    fn.params = {{"p", gptr(Scalar::I32)}};
    Builder b(fn);
    ValueId p = b.emit(OpCode::Param, gptr(Scalar::I32), {}, {0});
    ValueId f = b.const_float(f32(), 1.0);
    b.emit(OpCode::Store, Type::void_(), {p, f}, {}, at(12));
    expect_reject(fn, Target::Gfx950, {"store operand 1 (%1: f32): expected i32", "tests/k.cpp:12"});
  }
  {
    Function fn;
    Builder b(fn);
    ValueId f = b.const_float(f32(), 1.0);
    b.emit(OpCode::ICmp, i1(), {f, f}, {int64_t(CmpPred::Slt)}, at(13));
    expect_reject(fn, Target::Gfx950, {"icmp operand 0 (%0: f32): expected an integer type", "tests/k.cpp:13"});
  }
  {
    Function fn;
    Builder b(fn);
    ValueId v = b.const_float(f32(), 1.0);
    b.emit(OpCode::AtomicAdd, Type::void_(), {v, v}, {}, at(14));
    expect_reject(fn, Target::Gfx950, {"atomic_add operand 0 (%0: f32): expected a pointer", "tests/k.cpp:14"});
  }
}

TEST(IrVerifier, ResultTypesAndConversions) {
  {
    Function fn;
    Builder b(fn);
    ValueId f = b.const_float(f32(), 1.0);
    b.emit(OpCode::FPTrunc, Type::scalar(Scalar::F64), {f}, {}, at(21));
    expect_reject(fn, Target::Sm90a, {"fptrunc from f32 to f64", "narrower", "tests/k.cpp:21"});
  }
  {
    Function fn;
    Builder b(fn);
    ValueId i = b.const_int(i32(), 1);
    b.emit(OpCode::SExt, Type::scalar(Scalar::I16), {i}, {}, at(22));
    expect_reject(fn, Target::Sm90a, {"sext from i32 to i16", "wider", "tests/k.cpp:22"});
  }
  {
    Function fn;
    Builder b(fn);
    ValueId f = b.const_float(f32(), 1.0);
    b.emit(OpCode::Bitcast, vec(Scalar::BF16, 4), {f}, {}, at(23));
    expect_reject(fn, Target::Sm90a, {"bitcast between different sizes", "32 bits", "64 bits", "tests/k.cpp:23"});
  }
  {
    Function fn;
    Builder b(fn);
    ValueId f = b.const_float(f32(), 1.0);
    ValueId v = b.emit(OpCode::Splat, vec(Scalar::F32, 4), {f});
    b.emit(OpCode::Extract, f32(), {v}, {4}, at(24));
    expect_reject(fn, Target::Sm90a, {"extract attribute 4 is out of range: expected an index 0..3", "tests/k.cpp:24"});
  }
  {
    Function fn;
    Builder b(fn);
    b.emit(OpCode::Const, Type::scalar(Scalar::I8), {}, {200}, at(25));
    expect_reject(fn, Target::Sm90a, {"const attribute 200", "sign-extended 8-bit", "tests/k.cpp:25"});
  }
}

TEST(IrVerifier, TargetOnlyOpsOnTheWrongTarget) {
  auto ldmatrix = [] {
    Function fn;
    Builder b(fn);
    ValueId s = b.emit(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {64});
    b.emit(OpCode::LdMatrix, vec(Scalar::BF16, 8), {s}, {0}, at(31));
    return fn;
  };
  expect_reject(ldmatrix(), Target::Gfx950, {"ldmatrix is only available on sm_90a, not on gfx950", "tests/k.cpp:31"});
  EXPECT_NO_THROW(verify(ldmatrix(), Target::Sm90a));

  auto cp_async = [](std::vector<int64_t> size) {
    Function fn;
    fn.params = {{"g", gptr(Scalar::F32)}};
    Builder b(fn);
    ValueId g = b.emit(OpCode::Param, gptr(Scalar::F32), {}, {0});
    ValueId s = b.emit(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {64});
    ValueId n = b.const_int(i32(), 4);
    b.emit(OpCode::CpAsync, Type::void_(), {s, g, n}, size, at(32));
    return fn;
  };
  expect_reject(cp_async({}), Target::Gfx950, {"cp_async is only available on sm_90a", "tests/k.cpp:32"});
  for (int64_t size : {4, 8, 16}) EXPECT_NO_THROW(verify(cp_async({size}), Target::Sm90a));
  EXPECT_NO_THROW(verify(cp_async({}), Target::Sm90a));
  expect_reject(cp_async({12}), Target::Sm90a, {"cp_async copies 4, 8 or 16 bytes, not 12", "tests/k.cpp:32"});
  expect_reject(cp_async({4, 4}), Target::Sm90a, {"cp_async has 2 attribute(s), expected 0"});

  auto cvt = [] {
    Function fn;
    Builder b(fn);
    ValueId src = b.const_int(i32(), 0x12345678);
    ValueId scale = b.const_float(f32(), 1.0);
    b.emit(OpCode::CvtPkBf16Fp4, vec(Scalar::BF16, 2), {src, scale}, {1}, at(33));
    return fn;
  };
  expect_reject(cvt(), Target::Sm90a, {"cvt_pk_bf16_fp4 is only available on gfx950, not on sm_90a", "tests/k.cpp:33"});
  EXPECT_NO_THROW(verify(cvt(), Target::Gfx950));
}

TEST(IrVerifier, WgmmaShapeLayoutAndTarget) {
  auto wgmma = [](int64_t n, int acc_width, int64_t lbo, int64_t sbo, int64_t swizzle = 0) {
    Function fn;
    Builder b(fn);
    ValueId s = b.emit(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {4096});
    ValueId c = b.emit(OpCode::Splat, vec(Scalar::F32, acc_width), {b.const_float(f32(), 0.0)});
    b.emit(OpCode::WgmmaFence, Type::void_(), {});
    ValueId d = b.emit(OpCode::Wgmma, vec(Scalar::F32, acc_width), {s, s, c}, {n, lbo, sbo, swizzle}, at(51));
    b.emit(OpCode::WgmmaCommit, Type::void_(), {});
    b.emit(OpCode::WgmmaWait, vec(Scalar::F32, acc_width), {d}, {1});
    return fn;
  };
  EXPECT_NO_THROW(verify(wgmma(128, 64, 128, 1024), Target::Sm90a));
  EXPECT_NO_THROW(verify(wgmma(8, 4, 2048, 16), Target::Sm90a));
  // The fence before it is the first sm_90a-only op the verifier meets.
  expect_reject(wgmma(128, 64, 128, 1024), Target::Gfx950, {"wgmma_fence is only available on sm_90a, not on gfx950"});
  expect_reject(wgmma(136, 68, 128, 1024), Target::Sm90a, {"wgmma N = 136 is out of range", "8..128"});
  expect_reject(wgmma(12, 6, 128, 1024), Target::Sm90a, {"wgmma N = 12"});
  expect_reject(wgmma(64, 16, 128, 1024), Target::Sm90a, {"expected <32 x f32> (the accumulator of m64n64k16)"});
  expect_reject(wgmma(64, 32, 120, 1024), Target::Sm90a, {"offset 120 is out of range", "multiple of 16"});
  expect_reject(wgmma(64, 32, 128, 1 << 18), Target::Sm90a, {"offset 262144 is out of range"});
  EXPECT_NO_THROW(verify(wgmma(64, 32, 16, 1024, 1), Target::Sm90a));
  expect_reject(wgmma(64, 32, 16, 1024, 2), Target::Sm90a, {"wgmma swizzle 2 is unknown"});
}

TEST(IrVerifier, WgmmaAFromRegistersIsEightBf16) {
  auto wgmma = [](int a_width) {
    Function fn;
    fn.params = {{"h", gptr(Scalar::BF16)}};
    Builder b(fn);
    ValueId h = b.emit(OpCode::Param, gptr(Scalar::BF16), {}, {0});
    ValueId a = b.emit(OpCode::Load, vec(Scalar::BF16, a_width), {h});
    ValueId s = b.emit(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {4096});
    ValueId c = b.emit(OpCode::Splat, vec(Scalar::F32, 32), {b.const_float(f32(), 0.0)});
    b.emit(OpCode::WgmmaFence, Type::void_(), {});
    ValueId d = b.emit(OpCode::Wgmma, vec(Scalar::F32, 32), {a, s, c}, {64, 16, 1024, 1}, at(52));
    b.emit(OpCode::WgmmaCommit, Type::void_(), {});
    b.emit(OpCode::WgmmaWait, vec(Scalar::F32, 32), {d}, {0});
    return fn;
  };
  EXPECT_NO_THROW(verify(wgmma(8), Target::Sm90a));
  expect_reject(wgmma(4), Target::Sm90a, {"<8 x bf16> (the lane's A fragment)", "tests/k.cpp:52"});
}

TEST(IrVerifier, MmaOperandTypesPerInstruction) {
  auto mma = [](int64_t instr, int b_width) {
    Function fn;
    fn.params = {{"h", gptr(Scalar::BF16)}};
    Builder b(fn);
    ValueId h = b.emit(OpCode::Param, gptr(Scalar::BF16), {}, {0});
    ValueId a = b.emit(OpCode::Load, vec(Scalar::BF16, 8), {h});
    ValueId bv = b.emit(OpCode::Load, vec(Scalar::BF16, b_width), {h});
    ValueId z = b.const_float(f32(), 0.0);
    ValueId c = b.emit(OpCode::Splat, vec(Scalar::F32, 4), {z});
    b.emit(OpCode::Mma, vec(Scalar::F32, 4), {a, bv, c}, {instr}, at(41));
    return fn;
  };
  EXPECT_NO_THROW(verify(mma(0, 8), Target::Gfx950));
  EXPECT_NO_THROW(verify(mma(1, 4), Target::Sm90a));
  expect_reject(mma(1, 8), Target::Sm90a,
                {"mma operand 1 (%2: <8 x bf16>): expected <4 x bf16> (b of sm90a_mma_m16n8k16_bf16)", "tests/k.cpp:41"});
  expect_reject(mma(0, 4), Target::Gfx950,
                {"mma operand 1 (%2: <4 x bf16>): expected <8 x bf16> (b of gfx950_mfma_16x16x32_bf16)"});
  expect_reject(mma(0, 8), Target::Sm90a,
                {"mma instruction gfx950_mfma_16x16x32_bf16 is for gfx950, not available on sm_90a", "tests/k.cpp:41"});
  expect_reject(mma(1, 4), Target::Gfx950, {"mma instruction sm90a_mma_m16n8k16_bf16 is for sm_90a"});
  expect_reject(mma(7, 4), Target::Gfx950, {"mma instruction id 7 is unknown"});
}

TEST(IrVerifier, WaveReductionsTakeAndReturnI32OnBothTargets) {
  auto reduce = [](OpCode code, const Type& t) {
    Function fn;
    Builder b(fn);
    ValueId v = t == i32() ? b.const_int(t, 7) : b.const_float(t, 7.0);
    b.emit(code, t, {v}, {}, at(61));
    return fn;
  };
  for (Target target : {Target::Gfx950, Target::Sm90a}) {
    EXPECT_NO_THROW(verify(reduce(OpCode::WaveUMax, i32()), target));
    EXPECT_NO_THROW(verify(reduce(OpCode::WaveUMin, i32()), target));
  }
  expect_reject(reduce(OpCode::WaveUMax, f32()), Target::Sm90a, {"wave_umax operand 0 (%0: f32): expected i32", "tests/k.cpp:61"});
}

TEST(IrVerifier, UseBeforeDefinition) {
  {
    // An operand defined later in the same region.
    Function fn;
    Builder b(fn);
    ValueId later = fn.new_value(i32());
    ValueId one = b.const_int(i32(), 1);
    b.emit(OpCode::Add, i32(), {one, later}, {}, at(51));
    b.current().ops.push_back(Op{OpCode::Const, later, {}, {2}, {}, at(52)});
    expect_reject(fn, Target::Gfx950, {"operand 1 (%2) is used before its definition", "tests/k.cpp:51"});
  }
  {
    // A loop's induction variable used after the loop.
    Function fn;
    Builder b(fn);
    ValueId z = b.const_int(i32(), 0);
    ValueId iv_seen = kNoValue;
    emit_for(b, z, z, z, [&](ValueId iv) { iv_seen = iv; });
    b.emit(OpCode::Add, i32(), {iv_seen, z}, {}, at(53));
    expect_reject(fn, Target::Gfx950, {"operand 0 (%1) is used before its definition or outside the region", "tests/k.cpp:53"});
  }
  {
    // A value of the then-branch used in the else-branch.
    Function fn;
    Builder b(fn);
    ValueId c = b.const_int(i1(), 1);
    ValueId inner = kNoValue;
    emit_if(
        b, c, [&] { inner = b.const_int(i32(), 5); },
        [&] { b.emit(OpCode::Add, i32(), {inner, inner}, {}, at(54)); });
    expect_reject(fn, Target::Sm90a, {"outside the region that defines it", "tests/k.cpp:54"});
  }
  {
    // An id no op defines.
    Function fn;
    Builder b(fn);
    ValueId ghost = fn.new_value(i32());
    b.emit(OpCode::Add, i32(), {ghost, ghost}, {}, at(55));
    expect_reject(fn, Target::Sm90a, {"is not defined by any op", "tests/k.cpp:55"});
  }
}

TEST(IrVerifier, ValueDefinedTwice) {
  Function fn;
  Builder b(fn);
  ValueId one = b.const_int(i32(), 1);
  b.current().ops.push_back(Op{OpCode::Const, one, {}, {2}, {}, at(61)});
  expect_reject(fn, Target::Gfx950, {"value %0 is defined twice", "tests/k.cpp:61"});
}

TEST(IrVerifier, SharedMemoryOverTheTargetLimit) {
  // 3 bytes, then 16-byte alignment, then (limit - 16) bytes: exactly the limit.
  auto kernel = [](uint32_t limit, bool one_more) {
    Function fn;
    fn.name = "smem";
    Builder b(fn);
    b.emit(OpCode::SharedAlloc, sptr(Scalar::I8), {}, {3});
    b.emit(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {int64_t(limit - 16) / 4});
    if (one_more) b.emit(OpCode::SharedAlloc, sptr(Scalar::I8), {}, {1}, at(71));
    return fn;
  };
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    uint32_t limit = target_info(t).max_shared_bytes;
    EXPECT_NO_THROW(verify(kernel(limit, false), t));
    expect_reject<OutOfResources>(kernel(limit, true), t,
                                  {"shared memory", std::to_string(limit + 1) + " bytes",
                                   "max_shared_bytes of " + std::to_string(limit), "tests/k.cpp:71"});
  }
  // The sm_90a budget is larger than gfx950's.
  uint32_t sm = target_info(Target::Sm90a).max_shared_bytes;
  expect_reject<OutOfResources>(kernel(sm, false), Target::Gfx950, {"over the target's max_shared_bytes"});
}

TEST(IrVerifier, BarrierUnderDivergentIf) {
  auto kernel = [](OpCode id) {
    Function fn;
    fn.params = {{"n", i32()}};
    Builder b(fn);
    ValueId n = b.emit(OpCode::Param, i32(), {}, {0});
    ValueId who = id == OpCode::LaneId ? b.emit(id, i32()) : b.emit(id, i32(), {}, {0});
    ValueId c = b.emit(OpCode::ICmp, i1(), {who, n}, {int64_t(CmpPred::Slt)});
    emit_if(b, c, [&] { b.emit(OpCode::Barrier, Type::void_(), {}, {}, at(82)); }, {}, at(81));
    return fn;
  };
  for (OpCode id : {OpCode::ThreadId, OpCode::LaneId})
    expect_reject(kernel(id), Target::Gfx950,
                  {"barrier under lane-divergent control flow", "tests/k.cpp:82", "`if %2` at tests/k.cpp:81",
                   "condition"});
  for (OpCode id : {OpCode::BlockId, OpCode::BlockDim, OpCode::GridDim})
    EXPECT_NO_THROW(verify(kernel(id), Target::Gfx950)) << op_info(id).name;
}

TEST(IrVerifier, BarrierInLoopWithDivergentBounds) {
  auto kernel = [](bool divergent) {
    Function fn;
    fn.params = {{"p", gptr(Scalar::I32)}};
    Builder b(fn);
    ValueId p = b.emit(OpCode::Param, gptr(Scalar::I32), {}, {0});
    // A load at a uniform address is uniform; at a per-thread address it is divergent.
    ValueId tid = b.emit(OpCode::ThreadId, i32(), {}, {0});
    ValueId addr = divergent ? b.emit(OpCode::PtrAdd, gptr(Scalar::I32), {p, tid}) : p;
    ValueId hi = b.emit(OpCode::Load, i32(), {addr});
    ValueId z = b.const_int(i32(), 0);
    ValueId one = b.const_int(i32(), 1);
    emit_for(b, z, hi, one, [&](ValueId) {
      ValueId t = b.const_int(i1(), 1);
      emit_if(b, t, [&] { b.emit(OpCode::Barrier, Type::void_(), {}, {}, at(92)); });
    }, at(91));
    return fn;
  };
  EXPECT_NO_THROW(verify(kernel(false), Target::Sm90a));
  expect_reject(kernel(true), Target::Sm90a,
                {"barrier under lane-divergent control flow", "tests/k.cpp:92", "tests/k.cpp:91", "bound"});
}

TEST(IrVerifier, BarrierUnderSlotWrittenDivergently) {
  // flag = 0; for (...) { if (flag) barrier; if (tid == 0) flag = 1 }: the slot is
  // written under divergent control after its read, so only the fixpoint sees it.
  auto kernel = [](bool divergent_write) {
    Function fn;
    Builder b(fn);
    ValueId z = b.const_int(i32(), 0);
    ValueId one = b.const_int(i32(), 1);
    ValueId four = b.const_int(i32(), 4);
    ValueId tid = b.emit(OpCode::ThreadId, i32(), {}, {0});
    ValueId flag = b.emit(OpCode::VarNew, Type::slot(i32()), {z});
    emit_for(b, z, four, one, [&](ValueId i) {
      ValueId f = b.emit(OpCode::VarGet, i32(), {flag});
      ValueId set = b.emit(OpCode::ICmp, i1(), {f, one}, {int64_t(CmpPred::Eq)});
      emit_if(b, set, [&] { b.emit(OpCode::Barrier, Type::void_(), {}, {}, at(102)); }, {}, at(101));
      ValueId who = divergent_write ? tid : i;
      ValueId first = b.emit(OpCode::ICmp, i1(), {who, z}, {int64_t(CmpPred::Eq)});
      emit_if(b, first, [&] { b.emit(OpCode::VarSet, Type::void_(), {flag, one}); });
    });
    return fn;
  };
  EXPECT_NO_THROW(verify(kernel(false), Target::Gfx950));
  expect_reject(kernel(true), Target::Gfx950,
                {"barrier under lane-divergent control flow", "tests/k.cpp:102", "tests/k.cpp:101"});
}

}  // namespace
}  // namespace tilejit::ir::test
