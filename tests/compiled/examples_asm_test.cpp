// The examples' kernels compiled for both targets: the LLVM IR, the PTX and the gfx950 assembly
// say what the kernels mean (16-byte accesses, barriers, no scratch or local memory).
#include <gtest/gtest.h>

#include <regex>

#include "backend/llvm/compile.h"
#include "dsl/ir/verifier.h"
#include "examples/kernels.h"

using namespace tilejit;

namespace {

backend::CompileResult build(const KernelDef& def, Target t) {
  ir::Function fn = def.trace(t);
  ir::verify(fn, t);
  return backend::compile(fn, t);
}

bool has(const std::string& text, const std::string& what) { return text.find(what) != std::string::npos; }

size_t count(const std::string& text, const std::regex& re) {
  return size_t(std::distance(std::sregex_iterator(text.begin(), text.end(), re), std::sregex_iterator()));
}

void expect_no_scratch(const backend::CompileResult& r) {
  EXPECT_TRUE(has(r.assembly, "private_segment_fixed_size: 0")) << r.assembly.substr(r.assembly.size() - 2000);
  EXPECT_FALSE(has(r.assembly, "scratch_store")) << "scratch spill";
}

TEST(ExamplesCompiled, VectorAddUses16ByteAccesses) {
  auto ptx = build(examples::vector_add, Target::Sm90a);
  std::string p(ptx.code.binary.begin(), ptx.code.binary.end());
  EXPECT_EQ(count(p, std::regex(R"(ld\.global\.v4\.(f32|b32))")), 2u);
  EXPECT_EQ(count(p, std::regex(R"(st\.global\.v4\.(f32|b32))")), 1u);
  EXPECT_FALSE(has(p, ".local")) << "local memory in the PTX";
  EXPECT_TRUE(has(ptx.llvm_ir, "load <4 x float>")) << ptx.llvm_ir;
  auto amd = build(examples::vector_add, Target::Gfx950);
  EXPECT_EQ(count(amd.assembly, std::regex(R"(global_load_dwordx4)")), 2u);
  EXPECT_EQ(count(amd.assembly, std::regex(R"(global_store_dwordx4)")), 1u);
  expect_no_scratch(amd);
}

TEST(ExamplesCompiled, RowSoftmaxSharedMemoryAndBarriers) {
  auto ptx = build(examples::row_softmax, Target::Sm90a);
  std::string p(ptx.code.binary.begin(), ptx.code.binary.end());
  EXPECT_GE(count(p, std::regex(R"(bar\.sync|barrier\.sync)")), 9u);  // 1 + 8 per reduction, twice
  EXPECT_TRUE(has(p, "ld.shared") && has(p, "st.shared"));
  EXPECT_TRUE(has(p, "ex2.approx"));
  EXPECT_FALSE(has(p, ".local"));
  auto amd = build(examples::row_softmax, Target::Gfx950);
  EXPECT_GE(count(amd.assembly, std::regex(R"(s_barrier)")), 9u);
  EXPECT_TRUE(has(amd.assembly, "ds_write") && has(amd.assembly, "ds_read"));
  EXPECT_TRUE(has(amd.assembly, "group_segment_fixed_size: 1024")) << "256 floats of LDS";
  expect_no_scratch(amd);
}

TEST(ExamplesCompiled, SiluMulRoundsToBf16Once) {
  auto ptx = build(examples::silu_mul, Target::Sm90a);
  std::string p(ptx.code.binary.begin(), ptx.code.binary.end());
  EXPECT_TRUE(has(p, "cvt.rn.bf16.f32")) << "one RNE rounding to bf16";
  EXPECT_TRUE(has(p, "div.rn.f32")) << "IEEE division, not an approximation";
  EXPECT_FALSE(has(p, ".local"));
  auto amd = build(examples::silu_mul, Target::Gfx950);
  EXPECT_TRUE(has(amd.llvm_ir, "fptrunc float") && has(amd.llvm_ir, "to bfloat"));
  expect_no_scratch(amd);
}

}  // namespace

namespace {

// The reduced sm_90a O3 pipeline (backend/nvptx/sm90a.cpp) gives the examples' kernels the PTX of
// LLVM's full O3 pipeline too (it was cut down on them as well as on the stage-2 table).
TEST(ExamplesAsm, ReducedPipelineKeepsThePtx) {
  for (const KernelDef* def : {&examples::vector_add, &examples::silu_mul, &examples::row_softmax}) {
    ir::Function fn = def->trace(Target::Sm90a);
    backend::CompileOptions full;
    full.default_pipeline = true;
    EXPECT_EQ(backend::compile(fn, Target::Sm90a).assembly, backend::compile(fn, Target::Sm90a, full).assembly)
        << def->name() << ": the reduced pipeline's PTX differs from O3's";
  }
}

}  // namespace
