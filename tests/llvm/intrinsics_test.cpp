// Target intrinsics: mfma / mma.sync, cvt_scalef32_pk_bf16_fp4, ldmatrix, cp.async, wgmma, buffer loads,
// wave reductions; wrong-target errors.
#include <gtest/gtest.h>

#include <algorithm>

#include "dsl/error.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

/// d = mma(a, b, c) with one lane's registers loaded from memory; attr0 picks the instruction.
void build_mma(Kernel& k, int instr) {
  int b_elems = instr == 0 ? 8 : 4;
  ValueId pa = k.param("a", gptr(Scalar::BF16));
  ValueId pb = k.param("b", gptr(Scalar::BF16));
  ValueId pc = k.param("c", gptr(Scalar::F32));
  ValueId lane = k.op(OpCode::LaneId, i32(), {});
  ValueId a = k.load(vec(Scalar::BF16, 8), k.ptr_add(pa, k.op(OpCode::Mul, i32(), {lane, k.ci32(8)})));
  ValueId b = k.load(vec(Scalar::BF16, b_elems), k.ptr_add(pb, k.op(OpCode::Mul, i32(), {lane, k.ci32(b_elems)})));
  ValueId cp = k.ptr_add(pc, k.op(OpCode::Mul, i32(), {lane, k.ci32(4)}));
  ValueId c = k.load(vec(Scalar::F32, 4), cp);
  k.store(cp, k.op(OpCode::Mma, vec(Scalar::F32, 4), {a, b, c}, {instr}));
}

TEST(Intrinsics, Gfx950Mfma16x16x32Bf16) {
  Kernel k("mfma");
  build_mma(k, 0);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: mfma:
CHECK-COUNT-3: global_load_dwordx4
CHECK: v_mfma_f32_16x16x32_bf16 {{[av]}}[{{[0-9]+}}:{{[0-9]+}}], v[{{[0-9]+}}:{{[0-9]+}}], v[{{[0-9]+}}:{{[0-9]+}}], {{[av]}}[{{[0-9]+}}:{{[0-9]+}}]
CHECK: global_store_dwordx4
)"), "");
  EXPECT_NE(r.llvm_ir.find("@llvm.amdgcn.mfma.f32.16x16x32.bf16(<8 x bfloat> %"), std::string::npos) << r.llvm_ir;
}

TEST(Intrinsics, Sm90aMmaSyncM16n8k16) {
  Kernel k("mma");
  build_mma(k, 1);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK: .entry mma(
CHECK: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
CHECK-NEXT: {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}},
CHECK-NEXT: {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}},
CHECK-NEXT: {%r{{[0-9]+}}, %r{{[0-9]+}}},
CHECK-NEXT: {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}};
CHECK: st.global.v4
)"), "");
}

TEST(Intrinsics, Gfx950CvtScalePkBf16Fp4AllByteSelects) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  std::vector<int> sels = {0, 1, 2, 3};
  std::shuffle(sels.begin(), sels.end(), rng.gen);
  Kernel k("cvt_fp4");
  ValueId src = k.param("src", gptr(Scalar::I32));
  ValueId scale = k.param("scale", f32());
  ValueId out = k.param("out", gptr(Scalar::BF16));
  ValueId g = k.global_id();
  ValueId word = k.load(i32(), k.ptr_add(src, g));
  for (int i = 0; i < 4; ++i) {
    ValueId pair = k.op(OpCode::CvtPkBf16Fp4, vec(Scalar::BF16, 2), {word, scale}, {sels[i]});
    ValueId at = k.op(OpCode::Add, i32(), {k.op(OpCode::Mul, i32(), {g, k.ci32(8)}), k.ci32(2 * i)});
    k.store(k.ptr_add(out, at), pair);
  }
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  const char* opsel[] = {"", " op_sel:[1,0,0]", " op_sel:[0,1,0]", " op_sel:[1,1,0]"};
  for (int s = 0; s < 4; ++s) {
    std::string checks = std::string("CHECK: v_cvt_scalef32_pk_bf16_fp4 v{{[0-9]+}}, v{{[0-9]+}}, s{{[0-9]+}}") +
                         opsel[s] + "{{ +}}//\n";
    EXPECT_EQ(file_check(r.assembly, checks), "") << "byte_sel " << s;
  }
  EXPECT_EQ(count(r.assembly, "v_cvt_scalef32_pk_bf16_fp4"), 4u) << r.assembly;
}

TEST(Intrinsics, Sm90aLdmatrixPlainAndTransposed) {
  Kernel k("ldm");
  ValueId out = k.param("out", gptr(Scalar::BF16));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {16 * 16 * 2});
  ValueId lane = k.op(OpCode::LaneId, i32(), {});
  ValueId row = k.ptr_add(tile, k.op(OpCode::Mul, i32(), {lane, k.ci32(8)}));
  ValueId a = k.op(OpCode::LdMatrix, vec(Scalar::BF16, 8), {row}, {0});
  ValueId t = k.op(OpCode::LdMatrix, vec(Scalar::BF16, 8), {k.ptr_add(row, k.ci32(256))}, {1});
  k.store(k.ptr_add(out, k.op(OpCode::Mul, i32(), {lane, k.ci32(16)})), a);
  k.store(k.ptr_add(out, k.op(OpCode::Add, i32(), {k.op(OpCode::Mul, i32(), {lane, k.ci32(16)}), k.ci32(8)})), t);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK: .entry ldm(
CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [%r{{d?}}{{[0-9]+}}];
CHECK-DAG: ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}}, [%r{{d?}}{{[0-9]+}}+512];
)"), "");
}

/// out[lane] = wave_umax(in[lane]), out[lane + 64] = wave_umin(in[lane]).
void build_wave_reduce(Kernel& k) {
  ValueId in = k.param("in", gptr(Scalar::I32));
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId lane = k.op(OpCode::LaneId, i32(), {});
  ValueId v = k.load(i32(), k.ptr_add(in, lane));
  k.store(k.ptr_add(out, lane), k.op(OpCode::WaveUMax, i32(), {v}));
  k.store(k.ptr_add(out, k.op(OpCode::Add, i32(), {lane, k.ci32(64)})), k.op(OpCode::WaveUMin, i32(), {v}));
}

TEST(Intrinsics, Sm90aWaveReduceIsReduxSync) {
  Kernel k("wave_reduce");
  build_wave_reduce(k);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK: .entry wave_reduce(
CHECK: mov.b32 [[MASK:%r[0-9]+]], -1;
CHECK-DAG: redux.sync.max.u32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[MASK]];
CHECK-DAG: redux.sync.min.u32 %r{{[0-9]+}}, %r{{[0-9]+}}, [[MASK]];
)"), "");
}

TEST(Intrinsics, Gfx950WaveReduceReadsEveryLane) {
  Kernel k("wave_reduce");
  build_wave_reduce(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  // The default strategy on a VGPR value: a loop over the active lanes (s_ff1 picks the next,
  // v_readlane reads it) with scalar max / min.
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: wave_reduce:
CHECK-DAG: v_readlane_b32
CHECK-DAG: s_max_u32
CHECK-DAG: s_min_u32
)"), "");
  EXPECT_NE(r.llvm_ir.find("@llvm.amdgcn.wave.reduce.umax.i32("), std::string::npos) << r.llvm_ir;
}

/// out[lane] = bit_select(m, a, b) with all three loaded, and out[64 + lane] with the constant
/// mask 0x00770077 (the FP4 decode's use).
void build_bit_select(Kernel& k) {
  ValueId in = k.param("in", gptr(Scalar::I32));
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId lane = k.op(OpCode::LaneId, i32(), {});
  auto at = [&](ValueId p, int base) { return k.ptr_add(p, k.op(OpCode::Add, i32(), {lane, k.ci32(base)})); };
  ValueId m = k.load(i32(), at(in, 0)), a = k.load(i32(), at(in, 64)), b = k.load(i32(), at(in, 128));
  k.store(at(out, 0), k.op(OpCode::BitSelect, i32(), {m, a, b}));
  k.store(at(out, 64), k.op(OpCode::BitSelect, i32(), {k.ci32(0x00770077), a, b}));
}

TEST(Intrinsics, Sm90aBitSelectIsOneLop3) {
  Kernel k("bit_select");
  build_bit_select(k);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK: .entry bit_select(
CHECK-COUNT-2: lop3.b32 %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, %r{{[0-9]+}}, 0xE2;
CHECK-NOT: and.b32
CHECK: ret;
)"), "");
}

TEST(Intrinsics, Gfx950BitSelectIsOneInstruction) {
  Kernel k("bit_select");
  build_bit_select(k);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: bit_select:
CHECK-COUNT-2: {{v_bfi_b32|v_bitop3_b32}}
CHECK-NOT: v_and_b32
CHECK: s_endpgm
)"), "");
}

TEST(Intrinsics, Sm90aCpAsyncCommitWait) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  int pending = rng.uniform(0, 7);
  Kernel k("cpasync");
  ValueId src = k.param("src", gptr(Scalar::F32));
  ValueId n = k.param("n", i32());
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {1024});
  ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
  ValueId t4 = k.op(OpCode::Mul, i32(), {tid, k.ci32(4)});
  ValueId g4 = k.op(OpCode::Mul, i32(), {k.global_id(), k.ci32(4)});
  k.effect(OpCode::CpAsync, {k.ptr_add(tile, t4), k.ptr_add(src, g4), n});
  k.effect(OpCode::CpAsyncCommit, {});
  k.effect(OpCode::CpAsyncWait, {}, {pending});
  k.effect(OpCode::Barrier, {});
  k.store(k.ptr_add(out, g4), k.load(vec(Scalar::F32, 4), k.ptr_add(tile, t4)));
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, "CHECK: cp.async.cg.shared.global [%r{{d?}}{{[0-9]+}}], [%rd{{[0-9]+}}], 16, %r{{[0-9]+}};\n"
                                   "CHECK-NEXT: cp.async.commit_group;\n"
                                   "CHECK-NEXT: cp.async.wait_group " + std::to_string(pending) + ";\n"
                                   "CHECK-NEXT: bar.sync 0;\n"
                                   "CHECK: ld.shared.v4\n"),
            "");
}

// Four- and eight-byte copies lower to cp.async.ca with their size.
TEST(Intrinsics, Sm90aCpAsyncSmallCopiesUseCa) {
  for (int size : {4, 8}) {
    Kernel k("cpasync_small");
    ValueId src = k.param("src", gptr(Scalar::F32));
    ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {1024});
    ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
    ValueId at = k.op(OpCode::Mul, i32(), {tid, k.ci32(size / 4)});
    k.effect(OpCode::CpAsync, {k.ptr_add(tile, at), k.ptr_add(src, at), k.ci32(size)}, {size});
    k.effect(OpCode::CpAsyncCommit, {});
    k.effect(OpCode::CpAsyncWait, {}, {0});
    auto r = compile_or_fail(k.fn, Target::Sm90a);
    EXPECT_EQ(file_check(r.assembly, "CHECK: cp.async.ca.shared.global [%r{{d?}}{{[0-9]+}}], [%rd{{[0-9]+}}], " +
                                         std::to_string(size) + ", " + std::to_string(size) + ";\n"),
              "") << size;
  }
}

// prefetch_l2: one cp.async.bulk.prefetch.L2 on sm_90a with the size operand as given; nothing
// on gfx950 (no such instruction), where the kernel still compiles.
TEST(Intrinsics, PrefetchL2IsABulkPrefetchOnSm90aAndNothingOnGfx950) {
  Kernel k("prefetch");
  ValueId src = k.param("src", gptr(Scalar::F32));
  ValueId n = k.param("n", i32());
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId g4 = k.op(OpCode::Mul, i32(), {k.global_id(), k.ci32(4)});
  k.effect(OpCode::PrefetchL2, {k.ptr_add(src, g4), n});
  k.store(k.ptr_add(out, g4), k.load(vec(Scalar::F32, 4), k.ptr_add(src, g4)));
  auto nv = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(nv.assembly, "CHECK: cp.async.bulk.prefetch.L2.global [%rd{{[0-9]+}}], %r{{[0-9]+}};\n"
                                    "CHECK: ld.global.v4\n"),
            "");
  auto amd = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(amd.assembly, "CHECK-LABEL: prefetch:\nCHECK: global_load_dwordx4\nCHECK: s_endpgm\n"), "");
}

// The mbarrier and bulk-copy ops: inline PTX (ISA 8.0) in program order, shared addresses as 32-bit
// registers, the wait a try_wait loop in its own scope, and the load of the copied bytes after it.
TEST(Intrinsics, Sm90aBulkCopyCompletesOnAnMbarrier) {
  Kernel k("bulk");
  ValueId src = k.param("src", gptr(Scalar::F32));
  ValueId n = k.param("n", i32());
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {1024});
  ValueId bar = k.op(OpCode::SharedAlloc, sptr(Scalar::I64), {}, {1});
  k.effect(OpCode::MbarrierInit, {bar, k.ci32(1)});
  k.effect(OpCode::Barrier, {});
  k.effect(OpCode::MbarrierArriveExpectTx, {bar, n});
  k.effect(OpCode::BulkCopyToShared, {tile, src, n, bar});
  k.effect(OpCode::MbarrierWait, {bar, k.ci32(0)});
  ValueId g4 = k.op(OpCode::Mul, i32(), {k.global_id(), k.ci32(4)});
  k.store(k.ptr_add(out, g4), k.load(vec(Scalar::F32, 4), k.ptr_add(tile, g4)));
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, "CHECK: mbarrier.init.shared.b64 [%r{{[0-9]+}}], %r{{[0-9]+}};\n"
                                   "CHECK-NEXT: fence.mbarrier_init.release.cluster;\n"
                                   "CHECK: bar.sync 0;\n"
                                   "CHECK: mbarrier.arrive.expect_tx.shared.b64 tj_state, [%r{{[0-9]+}}], %r{{[0-9]+}};\n"
                                   "CHECK: cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes "
                                   "[%r{{[0-9]+}}], [%rd{{[0-9]+}}], %r{{[0-9]+}}, [%r{{[0-9]+}}];\n"
                                   "CHECK: TJ_WAIT_[[ID:[0-9]+]]:\n"
                                   "CHECK-NEXT: mbarrier.try_wait.parity.shared.b64 tj_done, [%r{{[0-9]+}}], %r{{[0-9]+}};\n"
                                   "CHECK-NEXT: @!tj_done bra TJ_WAIT_[[ID]];\n"
                                   "CHECK: ld.shared.v4\n"),
            "") << r.assembly;
}

// named_barrier: bar.sync with an id and a thread count (the non-aligned form: the warps of one
// side of a branch reach it), between the shared store and the load it orders.
TEST(Intrinsics, Sm90aNamedBarrierIsBarSyncWithACount) {
  Kernel k("named");
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {256});
  ValueId t = k.op(OpCode::ThreadId, i32(), {}, {0});
  k.store(k.ptr_add(tile, t), k.op(OpCode::SIToFP, f32(), {t}));
  k.effect(OpCode::NamedBarrier, {}, {3, 96});
  ValueId other = k.op(OpCode::Xor, i32(), {t, k.ci32(1)});
  k.store(k.ptr_add(out, t), k.load(f32(), k.ptr_add(tile, other)));
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, "CHECK: st.shared.b32\n"
                                   "CHECK: barrier.sync 3, 96;\n"
                                   "CHECK: ld.shared.b32\n"),
            "") << r.assembly;
}

// wait_prior_grids / launch_dependents: griddepcontrol on sm_90a, in program order around the
// memory operations: a load after the wait is not merged with the same load before it (the prior
// grid may have written there meanwhile). Nothing on gfx950, where the kernel still compiles.
TEST(Intrinsics, GridDependencyControlOnSm90aAndNothingOnGfx950) {
  Kernel k("pdl");
  ValueId src = k.param("src", gptr(Scalar::F32));
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId g = k.global_id();
  k.effect(OpCode::LaunchDependents, {});
  ValueId before = k.load(f32(), k.ptr_add(src, g));
  k.effect(OpCode::WaitPriorGrids, {});
  ValueId after = k.load(f32(), k.ptr_add(src, g));
  k.store(k.ptr_add(out, g), k.op(OpCode::FAdd, f32(), {before, after}));
  auto nv = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(nv.assembly, "CHECK: griddepcontrol.launch_dependents;\n"
                                    "CHECK: ld.global.b32\n"
                                    "CHECK: griddepcontrol.wait;\n"
                                    "CHECK: ld.global.b32\n"
                                    "CHECK: st.global.b32\n"),
            "");
  auto amd = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(amd.assembly, "CHECK-LABEL: pdl:\nCHECK: global_load_dword\nCHECK: global_store_dword\nCHECK: s_endpgm\n"), "");
}

TEST(Intrinsics, Sm90aWgmmaFenceCommitWait) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int n = 8 * rng.uniform(1, 16), pending = rng.uniform(0, 7);
  const int lbo = 16 * rng.uniform(1, 64), sbo = 16 * rng.uniform(1, 64), swizzle = rng.uniform(0, 1);
  Kernel k("wgmma");
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {16384});
  ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
  ValueId acc = k.load(vec(Scalar::F32, n / 2), k.ptr_add(out, k.op(OpCode::Mul, i32(), {tid, k.ci32(n / 2)})));
  k.effect(OpCode::FenceProxyAsync, {});
  k.effect(OpCode::Barrier, {});
  k.effect(OpCode::WgmmaFence, {});
  acc = k.op(OpCode::Wgmma, vec(Scalar::F32, n / 2), {tile, k.ptr_add(tile, k.ci32(4096)), acc}, {n, lbo, sbo, swizzle});
  k.effect(OpCode::WgmmaCommit, {});
  acc = k.op(OpCode::WgmmaWait, vec(Scalar::F32, n / 2), {acc}, {pending});
  k.store(k.ptr_add(out, k.op(OpCode::Mul, i32(), {tid, k.ci32(n / 2)})), acc);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  // The descriptors: start >> 4 | lbo >> 4 << 16 | sbo >> 4 << 32 | layout type << 62.
  const uint64_t fields = uint64_t(lbo >> 4) << 16 | uint64_t(sbo >> 4) << 32 | uint64_t(swizzle) << 62;
  EXPECT_EQ(file_check(r.assembly, "CHECK: fence.proxy.async.shared::cta;\n"
                                   "CHECK: bar.sync 0;\n"
                                   "CHECK: wgmma.fence.sync.aligned;\n"
                                   "CHECK: or.b64 %rd{{[0-9]+}}, %rd{{[0-9]+}}, " + std::to_string(fields) + ";\n"
                                   "CHECK: wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) +
                                       "k16.f32.bf16.bf16 {{[{]}}{{[^}]*}}{{[}]}}, %rd{{[0-9]+}}, %rd{{[0-9]+}}, p, 1, 1, 0, 0;\n"
                                   "CHECK: wgmma.commit_group.sync.aligned;\n"
                                   "CHECK: wgmma.wait_group.sync.aligned " + std::to_string(pending) + ";\n"
                                   "CHECK: st.global\n"),
            "");
  // One 32-bit register per accumulator element.
  size_t at = r.assembly.find("wgmma.mma_async");
  ASSERT_NE(at, std::string::npos);
  std::string regs = r.assembly.substr(at, r.assembly.find('}', at) - at);
  size_t count = 0;
  for (size_t p = regs.find("%r"); p != std::string::npos; p = regs.find("%r", p + 1)) count += regs[p + 2] != 'd';
  EXPECT_EQ(count, size_t(n / 2)) << regs;
}

TEST(Intrinsics, Sm90aWgmmaWithAInRegisters) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int n = 8 * rng.uniform(1, 16);
  Kernel k("wgmma_rs");
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {16384});
  ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
  ValueId acc = k.load(vec(Scalar::F32, n / 2), k.ptr_add(out, k.op(OpCode::Mul, i32(), {tid, k.ci32(n / 2)})));
  // The fragment from shared memory: its load is the only ld.shared.
  ValueId a = k.load(vec(Scalar::BF16, 8), k.ptr_add(tile, k.op(OpCode::Mul, i32(), {tid, k.ci32(8)})));
  k.effect(OpCode::WgmmaFence, {});
  acc = k.op(OpCode::Wgmma, vec(Scalar::F32, n / 2), {a, tile, acc}, {n, 16, 1024, 1});
  k.effect(OpCode::WgmmaCommit, {});
  acc = k.op(OpCode::WgmmaWait, vec(Scalar::F32, n / 2), {acc}, {0});
  k.store(k.ptr_add(out, k.op(OpCode::Mul, i32(), {tid, k.ci32(n / 2)})), acc);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  // Four 32-bit A registers, one descriptor, and no transpose immediate for A.
  EXPECT_EQ(file_check(r.assembly, "CHECK: ld.shared.v4.b32 {[[A0:%r[0-9]+]], [[A1:%r[0-9]+]], [[A2:%r[0-9]+]], "
                                   "[[A3:%r[0-9]+]]}\n"
                                   "CHECK: wgmma.fence.sync.aligned;\n"
                                   "CHECK: wgmma.mma_async.sync.aligned.m64n" + std::to_string(n) +
                                       "k16.f32.bf16.bf16 {{[{]}}{{[^}]*}}{{[}]}}, {[[A0]], [[A1]], [[A2]], [[A3]]}, "
                                       "%rd{{[0-9]+}}, p, 1, 1, 0;\n"
                                   "CHECK: wgmma.wait_group.sync.aligned 0;\n"),
            "");
}

// Retiring several accumulators of one group takes one wgmma.wait_group: a wait right after a wait
// for the same count is dropped (ptxas would keep each as an issued WARPGROUP.DEPBAR). A wait for
// another count, or one after a new commit, stays.
TEST(Intrinsics, Sm90aBackToBackWgmmaWaitsAreOne) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  const int n = 8 * rng.uniform(1, 8), accs = rng.uniform(2, 5), pending = rng.uniform(1, 7);
  Kernel k("wgmma_waits");
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {16384});
  ValueId tid = k.op(OpCode::ThreadId, i32(), {}, {0});
  auto slot = [&](int i) { return k.ptr_add(out, k.op(OpCode::Mul, i32(), {tid, k.ci32(n / 2 * (i + 1))})); };
  std::vector<ValueId> acc;
  for (int i = 0; i < accs; ++i) acc.push_back(k.load(vec(Scalar::F32, n / 2), slot(i)));
  auto multiply_all = [&] {
    k.effect(OpCode::WgmmaFence, {});
    for (auto& a : acc) a = k.op(OpCode::Wgmma, vec(Scalar::F32, n / 2), {tile, k.ptr_add(tile, k.ci32(4096)), a}, {n, 16, 1024, 1});
    k.effect(OpCode::WgmmaCommit, {});
  };
  multiply_all();
  for (auto& a : acc) a = k.op(OpCode::WgmmaWait, vec(Scalar::F32, n / 2), {a}, {pending});  // one wait
  for (auto& a : acc) a = k.op(OpCode::WgmmaWait, vec(Scalar::F32, n / 2), {a}, {0});        // and one more
  multiply_all();
  for (auto& a : acc) a = k.op(OpCode::WgmmaWait, vec(Scalar::F32, n / 2), {a}, {0});  // a new group: one more
  for (int i = 0; i < accs; ++i) k.store(slot(i), acc[size_t(i)]);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  const std::string p = std::to_string(pending);
  EXPECT_EQ(file_check(r.assembly, "CHECK: wgmma.commit_group.sync.aligned;\n"
                                   "CHECK-NOT: wgmma.mma_async\n"
                                   "CHECK: wgmma.wait_group.sync.aligned " + p + ";\n"
                                   "CHECK-NOT: wgmma.wait_group.sync.aligned " + p + ";\n"
                                   "CHECK: wgmma.wait_group.sync.aligned 0;\n"
                                   "CHECK-NOT: wgmma.wait_group\n"
                                   "CHECK: wgmma.mma_async\n"
                                   "CHECK: wgmma.commit_group.sync.aligned;\n"
                                   "CHECK: wgmma.wait_group.sync.aligned 0;\n"
                                   "CHECK-NOT: wgmma.wait_group\n"
                                   "CHECK: st.global\n"),
            "");
}

/// out[g] = buffer_load(base, n, 4 * elems * g) of <elems x f32>.
void build_buffer_load(Kernel& k, int elems) {
  ValueId base = k.param("base", gptr(Scalar::F32));
  ValueId n = k.param("num_records", i32());
  ValueId out = k.param("out", gptr(Scalar::F32));
  ValueId g = k.global_id();
  ValueId off = k.op(OpCode::Mul, i32(), {g, k.ci32(4 * elems)});
  ValueId v = k.op(OpCode::BufferLoad, vec(Scalar::F32, elems), {base, n, off});
  k.store(k.ptr_add(out, k.op(OpCode::Mul, i32(), {g, k.ci32(elems)})), v);
}

TEST(Intrinsics, Gfx950BufferLoadDwordx4) {
  Kernel k("bufload");
  build_buffer_load(k, 4);
  auto r = compile_or_fail(k.fn, Target::Gfx950);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-LABEL: bufload:
CHECK-DAG: s_mov_b32 s{{[0-9]+}}, 0x20000
CHECK-DAG: buffer_load_dwordx4 v[{{[0-9]+}}:{{[0-9]+}}], v{{[0-9]+}}, s[{{[0-9]+}}:{{[0-9]+}}], 0 offen{{ +}}//
CHECK: global_store_dwordx4
)"), "");
  EXPECT_NE(r.llvm_ir.find("@llvm.amdgcn.make.buffer.rsrc.p8.p1(ptr addrspace(1) %base, i16 0, i64 "), std::string::npos)
      << r.llvm_ir;
  EXPECT_NE(r.llvm_ir.find(", i32 131072)"), std::string::npos) << r.llvm_ir;

  Kernel k8("bufload8");
  build_buffer_load(k8, 8);
  auto r8 = compile_or_fail(k8.fn, Target::Gfx950);
  EXPECT_EQ(file_check(r8.assembly, R"(
CHECK-DAG: buffer_load_dwordx4 v[{{[0-9]+}}:{{[0-9]+}}], v{{[0-9]+}}, s[{{[0-9]+}}:{{[0-9]+}}], 0 offen{{ +}}//
CHECK-DAG: buffer_load_dwordx4 v[{{[0-9]+}}:{{[0-9]+}}], v{{[0-9]+}}, s[{{[0-9]+}}:{{[0-9]+}}], 0 offen offset:16
)"), "");
}

TEST(Intrinsics, Sm90aBufferLoadIsPredicated) {
  Kernel k("bufload");
  build_buffer_load(k, 4);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  // One 16-byte load when the whole access is in range, else guarded dword loads: three,
  // since the last dword is in range only when the whole access is.
  EXPECT_EQ(count(r.assembly, "ld.global.v4."), 1u) << r.assembly;
  EXPECT_EQ(count(r.assembly, "ld.global.b32"), 3u) << r.assembly;
  EXPECT_GE(count(r.assembly, "setp.gt.u64"), 4u) << r.assembly;
  EXPECT_EQ(count(r.assembly, ".local"), 0u) << r.assembly;
}

/// One kernel per target intrinsic, each compiled for the target that lacks it.
TEST(Intrinsics, WrongTargetIsInternalError) {
  struct Case {
    const char* what;
    Target target;
    std::function<void(Kernel&)> build;
  };
  std::vector<Case> cases = {
      {"mma", Target::Sm90a, [](Kernel& k) { build_mma(k, 0); }},
      {"mma", Target::Gfx950, [](Kernel& k) { build_mma(k, 1); }},
      {"cvt_pk_bf16_fp4", Target::Sm90a,
       [](Kernel& k) {
         ValueId out = k.param("out", gptr(Scalar::BF16));
         ValueId v = k.op(OpCode::CvtPkBf16Fp4, vec(Scalar::BF16, 2), {k.ci32(0x12345678), k.cf32(1.0f)}, {1});
         k.store(out, v);
       }},
      {"ldmatrix", Target::Gfx950,
       [](Kernel& k) {
         ValueId out = k.param("out", gptr(Scalar::BF16));
         ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {512});
         k.store(out, k.op(OpCode::LdMatrix, vec(Scalar::BF16, 8), {tile}, {0}));
       }},
      {"cp_async", Target::Gfx950,
       [](Kernel& k) {
         ValueId src = k.param("src", gptr(Scalar::F32));
         ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {4});
         k.effect(OpCode::CpAsync, {tile, src, k.ci32(16)});
       }},
      {"cp_async_commit", Target::Gfx950, [](Kernel& k) { k.effect(OpCode::CpAsyncCommit, {}); }},
      {"cp_async_wait", Target::Gfx950, [](Kernel& k) { k.effect(OpCode::CpAsyncWait, {}, {0}); }},
      {"wgmma", Target::Gfx950,
       [](Kernel& k) {
         ValueId out = k.param("out", gptr(Scalar::F32));
         ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::BF16), {}, {2048});
         ValueId zero = k.load(vec(Scalar::F32, 4), out);
         k.store(out, k.op(OpCode::Wgmma, vec(Scalar::F32, 4), {tile, tile, zero}, {8, 128, 256, 0}));
       }},
      {"wgmma_fence", Target::Gfx950, [](Kernel& k) { k.effect(OpCode::WgmmaFence, {}); }},
      {"fence_proxy_async", Target::Gfx950, [](Kernel& k) { k.effect(OpCode::FenceProxyAsync, {}); }},
  };
  for (const Case& c : cases) {
    Kernel k("wrong");
    c.build(k);
    try {
      backend::compile(k.fn, c.target);
      ADD_FAILURE() << c.what << " compiled for " << target_info(c.target).name;
    } catch (const InternalError& e) {
      EXPECT_NE(std::string(e.what()).find(c.what), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace tilejit::test
