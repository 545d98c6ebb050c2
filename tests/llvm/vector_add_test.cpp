// Vector add on both targets: 16-byte global accesses, no scratch, a valid HSACO, compile timings.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdio>

#include "backend/amdgpu/resources.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

TEST(VectorAdd, Gfx950UsesDwordx4Accesses) {
  Kernel k("vadd4");
  build_vector_add(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check_file(r.assembly, "vector_add.txt", "GFX950"), "");
}

TEST(VectorAdd, Sm90aUsesV4Accesses) {
  Kernel k("vadd4");
  build_vector_add(k);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check_file(r.assembly, "vector_add.txt", "SM90A"), "");
  EXPECT_EQ(std::string(r.code.binary.begin(), r.code.binary.end()), r.assembly);
}

// Without keep_llvm_ir the compile skips printing the LLVM IR and changes nothing else.
TEST(VectorAdd, LlvmIrIsKeptOnlyWhenAsked) {
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    Kernel k("vadd4");
    build_vector_add(k);
    backend::CompileOptions lean;
    lean.keep_llvm_ir = false;
    auto kept = compile_or_fail(k.fn, t), not_kept = backend::compile(k.fn, t, lean);
    EXPECT_NE(kept.llvm_ir.find("define"), std::string::npos);
    EXPECT_TRUE(not_kept.llvm_ir.empty());
    EXPECT_EQ(not_kept.assembly, kept.assembly);
    EXPECT_EQ(not_kept.code.binary, kept.code.binary);
  }
}

TEST(VectorAdd, Gfx950HasNoScratch) {
  Kernel k("vadd4");
  build_vector_add(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  auto res = backend::amdgpu::parse_resource_report(r.code.binary);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].private_segment_fixed_size, 0u);
  EXPECT_EQ(res[0].vgpr_spill_count + res[0].sgpr_spill_count, 0u);
  EXPECT_EQ(count(r.assembly, "scratch_"), 0u) << r.assembly;
  EXPECT_EQ(count(r.assembly, "buffer_store"), 0u) << r.assembly;
  EXPECT_EQ(nlohmann::json::parse(r.resources_json).at("private_segment_fixed_size"), 0);
}

TEST(VectorAdd, Sm90aHasNoLocalMemory) {
  Kernel k("vadd4");
  build_vector_add(k);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(count(r.assembly, ".local"), 0u) << r.assembly;
  EXPECT_EQ(count(r.assembly, "__local_depot"), 0u) << r.assembly;
}

TEST(VectorAdd, HsacoIsElfWithKernelDescriptor) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  std::string name = "vadd_" + std::to_string(rng.uniform(0, 1 << 20));
  Kernel k(name);
  build_vector_add(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  ElfInfo elf = read_elf(r.code.binary);
  ASSERT_TRUE(elf.valid);
  EXPECT_EQ(elf.machine, 224);  // EM_AMDGPU
  EXPECT_EQ(elf.type, 3);       // ET_DYN: a shared object, as the HIP loader expects
  EXPECT_EQ(elf.os_abi, 64);    // ELFOSABI_AMDGPU_HSA
  EXPECT_EQ(elf.abi_version, 3);  // ELFABIVERSION_AMDGPU_HSA_V5: code object v5
  auto has = [&](const std::string& s) { return std::find(elf.symbols.begin(), elf.symbols.end(), s) != elf.symbols.end(); };
  EXPECT_TRUE(has(name)) << "symbols: " << ::testing::PrintToString(elf.symbols);
  EXPECT_TRUE(has(name + ".kd")) << "symbols: " << ::testing::PrintToString(elf.symbols);
  EXPECT_EQ(r.code.symbol, name);
  EXPECT_EQ(r.code.target, Target::Gfx950);
}

TEST(VectorAdd, CompileRecordsStageTimings) {
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    Kernel k("vadd4");
    build_vector_add(k);
    auto r = compile_or_fail(k.fn, t);
    EXPECT_GT(r.lower_ms, 0.0);
    EXPECT_GT(r.opt_ms, 0.0);
    EXPECT_GT(r.codegen_ms, 0.0);
    if (t == Target::Gfx950) {
      EXPECT_GT(r.link_ms, 0.0);
    }
    auto meta = nlohmann::json::parse(r.code.metadata_json);
    EXPECT_EQ(meta.at("target"), std::string(target_info(t).name));
    EXPECT_EQ(meta.at("symbol"), "vadd4");
    EXPECT_EQ(meta.at("llvm_version"), backend::llvm_version());
    double total = meta.at("timings_ms").at("total");
    EXPECT_GE(total, r.lower_ms + r.opt_ms + r.codegen_ms + r.link_ms);
    std::printf("[ timing   ] %s vadd4: lower %.2f ms, opt %.2f ms, codegen %.2f ms, link %.2f ms, total %.2f ms\n",
                std::string(target_info(t).name).c_str(), r.lower_ms, r.opt_ms, r.codegen_ms, r.link_ms, total);
    EXPECT_NE(r.llvm_ir.find("define"), std::string::npos);
  }
  EXPECT_EQ(backend::llvm_version().substr(0, 3), "22.");
}

}  // namespace
}  // namespace tilejit::test
