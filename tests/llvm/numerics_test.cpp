// Float semantics in the generated code: saturating fptosi, RNE bf16 rounding, no contraction or FTZ, minnum.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>
#include <regex>

#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

/// out[j] = fptosi(in[j]) and a second kernel that stores fptosi of constants.
TEST(Numerics, FptosiSaturates) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  {
    Kernel k("cvt_dyn");
    ValueId in = k.param("in", gptr(Scalar::F32));
    ValueId out = k.param("out", gptr(Scalar::I32));
    ValueId g = k.global_id();
    k.store(k.ptr_add(out, g), k.op(OpCode::FPToSI, i32(), {k.load(f32(), k.ptr_add(in, g))}));
    for (Target t : {Target::Gfx950, Target::Sm90a}) {
      auto r = compile_or_fail(k.fn, t);
      EXPECT_NE(r.llvm_ir.find("@llvm.fptosi.sat.i32.f32("), std::string::npos) << r.llvm_ir;
      EXPECT_EQ(count(r.llvm_ir, "fptosi float"), 0u) << r.llvm_ir;
      if (t == Target::Gfx950) EXPECT_NE(r.assembly.find("v_cvt_i32_f32"), std::string::npos) << r.assembly;
      else EXPECT_NE(r.assembly.find("cvt.rzi.s32.f32"), std::string::npos) << r.assembly;
    }
  }
  // Constants, out of range on both sides, NaN and in range: folded with saturation.
  std::vector<float> xs = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                           -std::numeric_limits<float>::infinity()};
  std::uniform_real_distribution<float> big(2.2e9f, 3e38f), small(-2.1e9f, 2.1e9f);
  for (int i = 0; i < 3; ++i) {
    xs.push_back(big(rng.gen));
    xs.push_back(-big(rng.gen));
    xs.push_back(small(rng.gen));
  }
  Kernel k("cvt_const");
  ValueId out = k.param("out", gptr(Scalar::I32));
  for (size_t j = 0; j < xs.size(); ++j)
    k.store(k.ptr_add(out, k.ci32(int64_t(3 * j))), k.op(OpCode::FPToSI, i32(), {k.cf32(xs[j])}));
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  for (size_t j = 0; j < xs.size(); ++j) {
    double x = xs[j];
    int32_t want = std::isnan(x) ? 0 : x >= 2147483647.0 ? INT32_MAX : x <= -2147483648.0 ? INT32_MIN : int32_t(std::trunc(x));
    std::string addr = j ? fmt::format("+{}", 12 * j) : "";
    std::regex store(fmt::format(R"(st\.global\.b32 \t\[%rd\d+{}\], {};)", std::regex_replace(addr, std::regex(R"(\+)"), R"(\+)"), want));
    EXPECT_TRUE(std::regex_search(r.assembly, store)) << "x = " << xs[j] << " want " << want << "\n" << r.assembly;
  }
}

TEST(Numerics, Bf16TruncationRoundsToNearestEven) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  {
    Kernel k("to_bf16");
    ValueId in = k.param("in", gptr(Scalar::F32));
    ValueId out = k.param("out", gptr(Scalar::BF16));
    ValueId g = k.global_id();
    k.store(k.ptr_add(out, g), k.op(OpCode::FPTrunc, bf16(), {k.load(f32(), k.ptr_add(in, g))}));
    auto amd = compile_or_fail(k.fn, Target::Gfx950);
    EXPECT_NE(amd.assembly.find("v_cvt_pk_bf16_f32"), std::string::npos) << amd.assembly;
    auto nv = compile_or_fail(k.fn, Target::Sm90a);
    EXPECT_NE(nv.assembly.find("cvt.rn.bf16.f32"), std::string::npos) << nv.assembly;
    for (const auto* r : {&amd, &nv}) EXPECT_NE(r->llvm_ir.find("fptrunc float"), std::string::npos) << r->llvm_ir;
  }
  // Random values and exact ties (a bf16 plus half its ulp), folded by the optimiser.
  std::vector<float> xs;
  for (int i = 0; i < 6; ++i) {
    uint32_t hi = uint32_t(rng.uniform(0x0080, 0x7f7e)) | (rng.uniform(0, 1) ? 0x8000u : 0u);
    xs.push_back(std::bit_cast<float>(hi << 16 | uint32_t(rng.uniform(1, 0xffff))));
    xs.push_back(std::bit_cast<float>(hi << 16 | 0x8000u));  // tie
  }
  Kernel k("bf16_const");
  ValueId out = k.param("out", gptr(Scalar::BF16));
  for (size_t j = 0; j < xs.size(); ++j)
    k.store(k.ptr_add(out, k.ci32(int64_t(3 * j))), k.op(OpCode::FPTrunc, bf16(), {k.cf32(xs[j])}));
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  std::string checks, inputs;
  for (size_t j = 0; j < xs.size(); ++j) {
    checks += fmt::format("CHECK: store bfloat 0xR{:04X}, ptr addrspace(1)\n", reference_bf16(xs[j]));
    inputs += fmt::format(" {:08x}", std::bit_cast<uint32_t>(xs[j]));
  }
  EXPECT_EQ(file_check(r.llvm_ir, checks), "") << "inputs:" << inputs;
}

/// fmul then fadd stays two roundings; an fma op is one.
TEST(Numerics, NoContractionNoFastMathNoFlushToZero) {
  Kernel k("muladd");
  ValueId a = k.param("a", gptr(Scalar::F32));
  ValueId g = k.global_id();
  ValueId x = k.load(f32(), k.ptr_add(a, g));
  ValueId y = k.load(f32(), k.ptr_add(a, k.op(OpCode::Add, i32(), {g, k.ci32(1 << 16)})));
  ValueId z = k.load(f32(), k.ptr_add(a, k.op(OpCode::Add, i32(), {g, k.ci32(2 << 16)})));
  ValueId two_roundings = k.op(OpCode::FAdd, f32(), {k.op(OpCode::FMul, f32(), {x, y}), z});
  ValueId one_rounding = k.op(OpCode::Fma, f32(), {x, y, z});
  k.store(k.ptr_add(a, g), two_roundings);
  k.store(k.ptr_add(a, k.op(OpCode::Add, i32(), {g, k.ci32(3 << 16)})), one_rounding);
  auto nv = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(count(nv.assembly, "mul.rn.f32"), 1u) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, "add.rn.f32"), 1u) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, "fma.rn.f32"), 1u) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, ".ftz"), 0u) << nv.assembly;
  auto amd = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(count(amd.assembly, "v_mul_f32"), 1u) << amd.assembly;
  EXPECT_EQ(count(amd.assembly, "v_add_f32"), 1u) << amd.assembly;
  EXPECT_EQ(count(amd.assembly, "v_fma_f32") + count(amd.assembly, "v_fmac_f32"), 1u) << amd.assembly;
  EXPECT_NE(amd.llvm_ir.find(R"("denormal-fp-math-f32"="ieee,ieee")"), std::string::npos) << amd.llvm_ir;
  for (const auto* r : {&nv, &amd})
    for (const char* flag : {" fast ", " contract ", " afn ", " reassoc ", " nnan ", " ninf ", " arcp "})
      EXPECT_EQ(count(r->llvm_ir, flag), 0u) << flag << "\n" << r->llvm_ir;
}

TEST(Numerics, MinMaxAreMinnumMaxnum) {
  Kernel k("minmax");
  ValueId a = k.param("a", gptr(Scalar::F32));
  ValueId g = k.global_id();
  ValueId x = k.load(f32(), k.ptr_add(a, g));
  ValueId y = k.load(f32(), k.ptr_add(a, k.op(OpCode::Add, i32(), {g, k.ci32(1 << 16)})));
  k.store(k.ptr_add(a, g), k.op(OpCode::FMin, f32(), {x, y}));
  k.store(k.ptr_add(a, k.op(OpCode::Add, i32(), {g, k.ci32(2 << 16)})), k.op(OpCode::FMax, f32(), {x, y}));
  auto nv = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_NE(nv.llvm_ir.find("@llvm.minnum.f32("), std::string::npos) << nv.llvm_ir;
  EXPECT_NE(nv.llvm_ir.find("@llvm.maxnum.f32("), std::string::npos) << nv.llvm_ir;
  EXPECT_EQ(count(nv.assembly, "min.f32"), 1u) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, "max.f32"), 1u) << nv.assembly;
  EXPECT_EQ(count(nv.assembly, ".NaN"), 0u) << nv.assembly;
  auto amd = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_NE(amd.assembly.find("v_min_f32"), std::string::npos) << amd.assembly;
  EXPECT_NE(amd.assembly.find("v_max_f32"), std::string::npos) << amd.assembly;
}

}  // namespace
}  // namespace tilejit::test
