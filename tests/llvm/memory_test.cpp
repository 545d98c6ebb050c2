// Shared memory, barriers and shared allocation layout on both targets.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <regex>

#include "backend/amdgpu/resources.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

constexpr int kThreads = 256;

/// Each thread writes 16 bytes of a shared tile, waits at a barrier, reads its neighbour's 16 bytes.
void build_shared_exchange(Kernel& k) {
  k.fn.block_size[0] = kThreads;
  ValueId a = k.param("a", gptr(Scalar::F32));
  ValueId c = k.param("c", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {kThreads * 4});
  ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
  ValueId g4 = k.op(OpCode::Mul, i32(), {k.global_id(), k.ci32(4)});
  ValueId v = k.load(vec(Scalar::F32, 4), k.ptr_add(a, g4));
  k.store(k.ptr_add(tile, k.op(OpCode::Mul, i32(), {tid, k.ci32(4)})), v);
  k.effect(OpCode::Barrier, {});
  ValueId next = k.op(OpCode::URem, i32(), {k.op(OpCode::Add, i32(), {tid, k.ci32(1)}), k.ci32(kThreads)});
  ValueId w = k.load(vec(Scalar::F32, 4), k.ptr_add(tile, k.op(OpCode::Mul, i32(), {next, k.ci32(4)})));
  k.store(k.ptr_add(c, g4), w);
}

TEST(SharedMemory, Gfx950UsesDsB128AndBarrier) {
  Kernel k("exchange");
  build_shared_exchange(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: exchange:
CHECK: ds_write_b128
CHECK: s_barrier
CHECK: ds_read_b128
CHECK: global_store_dwordx4
CHECK: group_segment_fixed_size: 4096
)"), "");
  auto res = backend::amdgpu::parse_resource_report(r.code.binary);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_EQ(res[0].group_segment_fixed_size, k.fn.shared_bytes());
  EXPECT_EQ(res[0].max_flat_workgroup_size, uint32_t(kThreads));
}

TEST(SharedMemory, Sm90aUsesV4SharedAccessesAndBarSync) {
  Kernel k("exchange");
  build_shared_exchange(k);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK: .extern .shared .align 16 .b8 tilejit_smem[];
CHECK: .visible .entry exchange(
CHECK: .maxntid 256, 1, 1
CHECK: st.shared.v4.{{[bf]}}32
CHECK: bar.sync 0;
CHECK: ld.shared.v4.{{[bf]}}32
CHECK: st.global.v4.{{[bf]}}32
)"), "");
}

/// Several allocations of random element counts and types: each one sits at the
/// next 16-byte aligned offset in program order, on both targets.
TEST(SharedMemory, AllocationsAreLaidOutInProgramOrder) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const Scalar kinds[] = {Scalar::I8, Scalar::I16, Scalar::I32, Scalar::I64};
  const int kBytes[] = {1, 2, 4, 8};
  Kernel k("layout");
  ValueId out = k.param("out", gptr(Scalar::I64));
  int n = rng.uniform(3, 7);
  std::vector<uint64_t> offsets;
  std::vector<int> kind;
  std::vector<ValueId> ptrs;
  uint64_t end = 0;
  for (int j = 0; j < n; ++j) {
    kind.push_back(rng.uniform(0, 3));
    int elems = rng.uniform(1, 300);
    uint64_t off = (end + 15) / 16 * 16;
    offsets.push_back(off);
    end = off + uint64_t(elems) * kBytes[kind[j]];
    ptrs.push_back(k.op(OpCode::SharedAlloc, sptr(kinds[kind[j]]), {}, {elems}));
  }
  // Thread-dependent values, so that no store folds into its load.
  ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
  for (int j = 0; j < n; ++j) {
    ValueId v = k.op(OpCode::Add, i32(), {tid, k.ci32(11 + 7 * j)});
    Type t = Type::scalar(kinds[kind[j]]);
    if (t == i64()) v = k.op(OpCode::SExt, t, {v});
    else if (t != i32()) v = k.op(OpCode::Trunc, t, {v});
    k.store(ptrs[j], v);
    k.effect(OpCode::Barrier, {});  // keeps gfx950 from pairing stores into ds_write2
  }
  for (int j = 0; j < n; ++j) {
    ValueId v = k.load(Type::scalar(kinds[kind[j]]), ptrs[j]);
    if (kinds[kind[j]] != Scalar::I64) v = k.op(OpCode::ZExt, i64(), {v});
    k.store(k.ptr_add(out, k.ci32(j)), v);
  }
  ASSERT_EQ(k.fn.shared_bytes(), end);

  auto ptx = compile_or_fail(k.fn, Target::Sm90a);
  for (int j = 0; j < n; ++j) {
    std::string addr = offsets[j] ? "[tilejit_smem+" + std::to_string(offsets[j]) + "]" : "[tilejit_smem]";
    std::string want = fmt::format("st.shared.b{} \t{}, %", kBytes[kind[j]] * 8, addr);
    EXPECT_EQ(count(ptx.assembly, want), 1u) << want << "\n" << ptx.assembly;
  }

  auto hsaco = compile_or_fail(k.fn, Target::Gfx950);
  for (int j = 0; j < n; ++j) {
    std::string addr = offsets[j] ? fmt::format("getelementptr inbounds nuw (i8, ptr addrspace(3) @tilejit.lds, i32 {})",
                                                offsets[j])
                                  : std::string("@tilejit.lds");
    std::string pattern = fmt::format("store i{} %[.\\w]+, ptr addrspace\\(3\\) {},", kBytes[kind[j]] * 8,
                                      std::regex_replace(addr, std::regex("[()]"), "\\$&"));
    EXPECT_TRUE(std::regex_search(hsaco.llvm_ir, std::regex(pattern))) << pattern << "\n" << hsaco.llvm_ir;
  }
  auto res = backend::amdgpu::parse_resource_report(hsaco.code.binary);
  ASSERT_EQ(res.size(), 1u);
  EXPECT_GE(res[0].group_segment_fixed_size, end);
  // The final ISA addresses each allocation at its offset from LDS address 0.
  for (int j = 0; j < n; ++j) {
    std::string off = offsets[j] ? fmt::format(" offset:{}", offsets[j]) : "";
    std::string pattern = fmt::format(R"(ds_write_b{} v\d+, v(\d+|\[\d+:\d+\]){}\s)", kBytes[kind[j]] * 8, off);
    EXPECT_TRUE(std::regex_search(hsaco.assembly, std::regex(pattern))) << pattern << "\n" << hsaco.assembly;
  }
  EXPECT_LE(res[0].group_segment_fixed_size, (end + 15) / 16 * 16);
}

}  // namespace
}  // namespace tilejit::test
