// Structured control flow and slots: loops and ifs become a CFG, var slots leave no alloca; every op lowers.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include "backend/amdgpu/resources.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

/// sum = 0; for (i = 0; i < n; i += step) sum += a[g * n + i]; out[g] = sum
void build_loop_sum(Kernel& k, int step) {
  ValueId a = k.param("a", gptr(Scalar::F32));
  ValueId n = k.param("n", i32());
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId g = k.global_id();
  ValueId sum = k.op(OpCode::VarNew, Type::slot(f32()), {k.cf32(0.0f)});
  ValueId row = k.op(OpCode::Mul, i32(), {g, n});
  k.for_(k.ci32(0), n, k.ci32(step), [&](ValueId i) {
    ValueId x = k.load(f32(), k.ptr_add(a, k.op(OpCode::Add, i32(), {row, i})));
    k.effect(OpCode::VarSet, {sum, k.op(OpCode::FAdd, f32(), {k.op(OpCode::VarGet, f32(), {sum}), x})});
  });
  k.store(k.ptr_add(out, g), k.op(OpCode::VarGet, f32(), {sum}));
}

TEST(ControlFlow, ForLoopWithVarSlotLeavesNoAlloca) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  Kernel k("loop_sum");
  build_loop_sum(k, rng.uniform(1, 5));
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    auto r = compile_or_fail(k.fn, t);
    EXPECT_EQ(count(r.llvm_ir, "alloca"), 0u) << r.llvm_ir;
    EXPECT_NE(r.llvm_ir.find("phi float"), std::string::npos) << r.llvm_ir;
    if (t == Target::Gfx950) {
      auto res = backend::amdgpu::parse_resource_report(r.code.binary);
      ASSERT_EQ(res.size(), 1u);
      EXPECT_EQ(res[0].private_segment_fixed_size, 0u);
      EXPECT_EQ(count(r.assembly, "scratch_"), 0u) << r.assembly;
      EXPECT_NE(r.assembly.find("s_cbranch"), std::string::npos) << r.assembly;
    } else {
      EXPECT_EQ(count(r.assembly, ".local"), 0u) << r.assembly;
      EXPECT_NE(r.assembly.find("bra"), std::string::npos) << r.assembly;
    }
  }
}

/// At opt_level 0 nothing promotes the slot, which shows the O3 check above can fail.
TEST(ControlFlow, OptLevelZeroKeepsTheSlotInMemory) {
  Kernel k("loop_sum");
  build_loop_sum(k, 1);
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    backend::CompileOptions o0;
    o0.opt_level = 0;
    auto r = backend::compile(k.fn, t, o0);
    EXPECT_GE(count(r.llvm_ir, "alloca float"), 1u) << r.llvm_ir;
    EXPECT_FALSE(r.code.binary.empty());
    if (t == Target::Gfx950) {
      auto res = backend::amdgpu::parse_resource_report(r.code.binary);
      ASSERT_EQ(res.size(), 1u);
      EXPECT_GT(res[0].private_segment_fixed_size, 0u);
    } else {
      EXPECT_NE(r.assembly.find(".local"), std::string::npos) << r.assembly;
    }
  }
}

/// Nested loops with an if/else inside that writes a slot on both paths.
TEST(ControlFlow, NestedLoopsAndIfElse) {
  Kernel k("nested");
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId n = k.param("n", i32());
  ValueId acc = k.op(OpCode::VarNew, Type::slot(i32()), {k.ci32(0)});
  k.for_(k.ci32(0), n, k.ci32(1), [&](ValueId i) {
    k.for_(k.ci32(0), i, k.ci32(2), [&](ValueId j) {
      ValueId odd = k.op(OpCode::ICmp, i1(), {k.op(OpCode::And, i32(), {j, k.ci32(4)}), k.ci32(0)},
                         {int64_t(ir::CmpPred::Ne)});
      k.if_(
          odd,
          [&] { k.effect(OpCode::VarSet, {acc, k.op(OpCode::Add, i32(), {k.op(OpCode::VarGet, i32(), {acc}), j})}); },
          [&] { k.effect(OpCode::VarSet, {acc, k.op(OpCode::Xor, i32(), {k.op(OpCode::VarGet, i32(), {acc}), i})}); });
    });
  });
  k.store(k.ptr_add(out, k.global_id()), k.op(OpCode::VarGet, i32(), {acc}));
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    auto r = compile_or_fail(k.fn, t);
    EXPECT_EQ(count(r.llvm_ir, "alloca"), 0u) << r.llvm_ir;
    EXPECT_NE(r.llvm_ir.find("xor i32"), std::string::npos) << r.llvm_ir;
    EXPECT_GE(count(r.llvm_ir, "phi i32"), 2u) << r.llvm_ir;
  }
}

/// A fixed block size becomes constants and launch bounds on both targets.
/// The occupancy hint becomes .minnctapersm on sm_90a; ptxas then caps the registers.
TEST(ControlFlow, MinBlocksPerSmBecomesMinnctapersm) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  uint32_t blocks = uint32_t(rng.uniform(2, 8));
  Kernel k("occupancy");
  k.fn.block_size[0] = 256;
  ValueId out = k.param("out", gptr(Scalar::I32));
  k.store(out, k.op(OpCode::ThreadId, i32(), {}, {0}));
  auto plain = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(count(plain.assembly, ".minnctapersm"), 0u) << plain.assembly;
  k.fn.min_blocks_per_sm = blocks;
  auto hinted = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_NE(hinted.assembly.find(fmt::format(".minnctapersm {}", blocks)), std::string::npos) << hinted.assembly;
  EXPECT_NE(hinted.code.metadata_json.find(fmt::format("\"min_blocks_per_sm\":{}", blocks)), std::string::npos);
  EXPECT_NO_THROW(compile_or_fail(k.fn, Target::Gfx950));  // accepted, and left to gfx950's own allocation
}

TEST(ControlFlow, FixedBlockSizeBecomesLaunchBounds) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  uint32_t x = uint32_t(rng.uniform(1, 8)) * 32, y = uint32_t(rng.uniform(1, 4)), z = 1;
  Kernel k("fixed");
  k.fn.block_size[0] = x;
  k.fn.block_size[1] = y;
  k.fn.block_size[2] = z;
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId bx = k.op(OpCode::BlockDim, i32(), {}, {0});
  ValueId by = k.op(OpCode::BlockDim, i32(), {}, {1});
  ValueId tz = k.op(OpCode::ThreadId, i32(), {}, {2});
  k.store(out, k.op(OpCode::Add, i32(), {k.op(OpCode::Mul, i32(), {bx, k.ci32(1000)}), by}));
  k.store(k.ptr_add(out, k.ci32(1)), tz);
  auto nv = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_NE(nv.assembly.find(fmt::format(".maxntid {}, {}, {}", x, y, z)), std::string::npos) << nv.assembly;
  EXPECT_NE(nv.assembly.find(fmt::format(", {};", x * 1000 + y)), std::string::npos) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, "%ntid"), 0u) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, "%tid.z"), 0u) << nv.assembly;
  auto amd = compile_or_fail(k.fn, Target::Gfx950);
  auto res = backend::amdgpu::parse_resource_report(amd.code.binary);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].max_flat_workgroup_size, x * y * z);
  EXPECT_EQ(res[0].reqd_workgroup_size[0], x);
  EXPECT_EQ(res[0].reqd_workgroup_size[1], y);
  EXPECT_EQ(res[0].reqd_workgroup_size[2], z);
  EXPECT_NE(amd.assembly.find(fmt::format("0x{:x}", x * 1000 + y)), std::string::npos) << amd.assembly;
}

/// Without a fixed size, block_dim / grid_dim read the dispatch packet on gfx950 and sregs on sm_90a.
TEST(ControlFlow, DynamicBlockAndGridDims) {
  Kernel k("dims");
  ValueId out = k.param("out", gptr(Scalar::I32));
  for (int d = 0; d < 3; ++d) {
    k.store(k.ptr_add(out, k.ci32(d)), k.op(OpCode::BlockDim, i32(), {}, {d}));
    k.store(k.ptr_add(out, k.ci32(3 + d)), k.op(OpCode::GridDim, i32(), {}, {d}));
    k.store(k.ptr_add(out, k.ci32(6 + d)), k.op(OpCode::BlockId, i32(), {}, {d}));
  }
  k.store(k.ptr_add(out, k.ci32(9)), k.op(OpCode::LaneId, i32(), {}));
  auto nv = compile_or_fail(k.fn, Target::Sm90a);
  for (const char* s : {"%ntid.x", "%ntid.y", "%ntid.z", "%nctaid.x", "%nctaid.y", "%nctaid.z", "%ctaid.x",
                        "%ctaid.y", "%ctaid.z", "%laneid"})
    EXPECT_NE(nv.assembly.find(s), std::string::npos) << s << "\n" << nv.assembly;
  auto amd = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_NE(amd.llvm_ir.find("@llvm.amdgcn.dispatch.ptr()"), std::string::npos) << amd.llvm_ir;
  EXPECT_NE(amd.llvm_ir.find("@llvm.amdgcn.mbcnt.hi("), std::string::npos) << amd.llvm_ir;
  EXPECT_NE(amd.assembly.find("v_mbcnt_hi_u32_b32"), std::string::npos) << amd.assembly;
  EXPECT_GE(count(amd.assembly, "s_load_dword"), 1u) << amd.assembly;
}

/// One kernel that uses every non-target op on scalars and vectors; it must lower and
/// generate code with no library calls on both targets.
TEST(ControlFlow, EveryGenericOpLowers) {
  Kernel k("every_op");
  ValueId pi = k.param("pi", gptr(Scalar::I32));
  ValueId pf = k.param("pf", gptr(Scalar::F32));
  ValueId ph = k.param("ph", gptr(Scalar::BF16));
  ValueId g = k.global_id();
  ValueId a = k.load(i32(), k.ptr_add(pi, g));
  ValueId b = k.op(OpCode::Or, i32(), {k.load(i32(), k.ptr_add(pi, k.op(OpCode::Add, i32(), {g, k.ci32(1)}))), k.ci32(1)});
  ValueId acc = a;
  for (OpCode c : {OpCode::Add, OpCode::Sub, OpCode::Mul, OpCode::SDiv, OpCode::UDiv, OpCode::SRem, OpCode::URem,
                   OpCode::And, OpCode::Or, OpCode::Xor, OpCode::SMin, OpCode::SMax, OpCode::UMin, OpCode::UMax})
    acc = k.op(c, i32(), {acc, b});
  ValueId sh = k.op(OpCode::And, i32(), {b, k.ci32(31)});
  for (OpCode c : {OpCode::Shl, OpCode::LShr, OpCode::AShr}) acc = k.op(c, i32(), {acc, sh});
  ValueId x = k.load(f32(), k.ptr_add(pf, g));
  ValueId y = k.load(f32(), k.ptr_add(pf, k.op(OpCode::Add, i32(), {g, k.ci32(1)})));
  ValueId f = x;
  for (OpCode c : {OpCode::FAdd, OpCode::FSub, OpCode::FMul, OpCode::FDiv, OpCode::FMin, OpCode::FMax})
    f = k.op(c, f32(), {f, y});
  for (OpCode c : {OpCode::FNeg, OpCode::FAbs, OpCode::Sqrt, OpCode::Rsqrt, OpCode::Exp2, OpCode::Log2})
    f = k.op(c, f32(), {f});
  f = k.op(OpCode::Fma, f32(), {f, x, y});
  // bf16 arithmetic and transcendental ops (computed through f32).
  ValueId h = k.load(bf16(), k.ptr_add(ph, g));
  h = k.op(OpCode::FMul, bf16(), {h, k.op(OpCode::FPTrunc, bf16(), {f})});
  h = k.op(OpCode::Exp2, bf16(), {h});
  h = k.op(OpCode::Rsqrt, bf16(), {h});
  // Comparisons, select, conversions.
  ValueId lt = k.op(OpCode::ICmp, i1(), {acc, b}, {int64_t(ir::CmpPred::Slt)});
  ValueId fl = k.op(OpCode::FCmp, i1(), {f, x}, {int64_t(ir::CmpPred::Une)});
  ValueId both = k.op(OpCode::And, i1(), {lt, fl});
  ValueId sel = k.op(OpCode::Select, i32(), {both, acc, b});
  ValueId wide = k.op(OpCode::Add, i64(), {k.op(OpCode::SExt, i64(), {sel}), k.op(OpCode::ZExt, i64(), {acc})});
  ValueId narrow = k.op(OpCode::Trunc, i32(), {wide});
  ValueId fs = k.op(OpCode::SIToFP, f32(), {narrow});
  ValueId fu = k.op(OpCode::UIToFP, f32(), {acc});
  ValueId d = k.op(OpCode::FPExt, Type::scalar(Scalar::F64), {k.op(OpCode::FAdd, f32(), {fs, fu})});
  ValueId back = k.op(OpCode::FPTrunc, f32(), {d});
  ValueId si = k.op(OpCode::FPToSI, i32(), {back});
  ValueId ui = k.op(OpCode::FPToUI, i32(), {k.op(OpCode::FPExt, f32(), {h})});
  ValueId bits = k.op(OpCode::Bitcast, i32(), {back});
  // Vectors.
  ValueId v = k.op(OpCode::Splat, vec(Scalar::I32, 4), {si});
  v = k.op(OpCode::Insert, vec(Scalar::I32, 4), {v, ui}, {1});
  v = k.op(OpCode::Add, vec(Scalar::I32, 4), {v, k.op(OpCode::BuildVec, vec(Scalar::I32, 4), {bits, acc, b, sel})});
  ValueId vf = k.op(OpCode::Bitcast, vec(Scalar::F32, 4), {v});
  ValueId vc = k.op(OpCode::FCmp, vec(Scalar::I1, 4), {vf, k.op(OpCode::Splat, vec(Scalar::F32, 4), {x})},
                    {int64_t(ir::CmpPred::Olt)});
  v = k.op(OpCode::Select, vec(Scalar::I32, 4), {vc, v, k.op(OpCode::Splat, vec(Scalar::I32, 4), {a})});
  ValueId e = k.op(OpCode::Extract, i32(), {v}, {2});
  k.store(k.ptr_add(pi, g), k.op(OpCode::Add, i32(), {e, narrow}));
  k.store(k.ptr_add(pi, k.op(OpCode::Mul, i32(), {g, k.ci32(4)})), v);
  k.store(k.ptr_add(ph, g), h);
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    auto r = compile_or_fail(k.fn, t);
    EXPECT_FALSE(r.code.binary.empty());
    if (t == Target::Sm90a) {
      EXPECT_EQ(count(r.assembly, "call"), 0u) << r.assembly;
      EXPECT_EQ(count(r.assembly, ".local"), 0u) << r.assembly;
      for (const char* s : {"ex2.approx", "lg2.approx", "rsqrt.approx", "sqrt.rn.f32", "div.rn.f32"})
        EXPECT_NE(r.assembly.find(s), std::string::npos) << s << "\n" << r.assembly;
    } else {
      EXPECT_EQ(count(r.assembly, "s_swappc"), 0u) << r.assembly;
      for (const char* s : {"v_exp_f32", "v_log_f32", "v_sqrt_f32", "v_div_scale_f32"})
        EXPECT_NE(r.assembly.find(s), std::string::npos) << s << "\n" << r.assembly;
    }
  }
}

}  // namespace
}  // namespace tilejit::test
