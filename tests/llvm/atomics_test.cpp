// Global atomics: native f32, packed bf16x2 and i32 adds on both targets, never a compare-and-swap loop.
#include <gtest/gtest.h>

#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

/// Each thread adds to its own f32, bf16x2 and i32 element (divergent addresses),
/// and to one f32 in shared memory.
void build_atomics(Kernel& k) {
  ValueId pf = k.param("pf", gptr(Scalar::F32));
  ValueId pb = k.param("pb", gptr(Scalar::BF16));
  ValueId pi = k.param("pi", gptr(Scalar::I32));
  ValueId vf = k.param("vf", f32());
  ValueId vb = k.param("vb", vec(Scalar::BF16, 2));
  ValueId vi = k.param("vi", i32());
  ValueId g = k.global_id();
  k.effect(OpCode::AtomicAdd, {k.ptr_add(pf, g), vf});
  k.effect(OpCode::AtomicAdd, {k.ptr_add(pb, k.op(OpCode::Mul, i32(), {g, k.ci32(2)})), vb});
  k.effect(OpCode::AtomicAdd, {k.ptr_add(pi, g), vi});
  ValueId sm = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {64});
  ValueId lane = k.op(OpCode::LaneId, i32(), {});
  k.effect(OpCode::AtomicAdd, {k.ptr_add(sm, lane), vf});
  k.effect(OpCode::Barrier, {});
  k.store(k.ptr_add(pf, k.op(OpCode::Add, i32(), {g, k.ci32(1 << 20)})), k.load(f32(), k.ptr_add(sm, lane)));
}

TEST(Atomics, Gfx950UsesNativeGlobalAtomics) {
  Kernel k("atomics");
  build_atomics(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: atomics:
CHECK-DAG: global_atomic_add_f32 v
CHECK-DAG: global_atomic_pk_add_bf16 v
CHECK-DAG: global_atomic_add v
CHECK-DAG: ds_add_f32 v
CHECK: s_endpgm
)"), "");
  EXPECT_EQ(count(r.assembly, "cmpswap"), 0u) << r.assembly;
  EXPECT_EQ(count(r.llvm_ir, "cmpxchg"), 0u) << r.llvm_ir;
  EXPECT_NE(r.llvm_ir.find(R"(syncscope("agent") monotonic, align 4, !amdgpu.no.fine.grained.memory)"),
            std::string::npos)
      << r.llvm_ir;
}

TEST(Atomics, Sm90aUsesAtomAndRed) {
  Kernel k("atomics");
  build_atomics(k);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: .visible .entry atomics(
CHECK-DAG: {{atom|red}}.global.add.f32
CHECK-DAG: red.global.add.noftz.bf16x2 [%rd{{[0-9]+}}], %r{{[0-9]+}};
CHECK-DAG: {{atom|red}}.global.add.{{u32|s32}}
CHECK-DAG: {{atom|red}}.shared.add.f32
CHECK: ret;
)"), "");
  EXPECT_EQ(count(r.assembly, "cas"), 0u) << r.assembly;
  EXPECT_EQ(count(r.assembly, ".ftz"), 0u) << r.assembly;
}

}  // namespace
}  // namespace tilejit::test
