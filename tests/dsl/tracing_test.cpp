// What tracing records: ops, value numbering, fma fusion, regions, slots, signatures.
#include <gtest/gtest.h>

#include <random>

#include "dsl/tilejit.h"

using namespace tilejit;
using namespace tilejit::dsl;
using ir::OpCode;

namespace {

int count(const ir::Function& f, OpCode code) {
  int n = 0;
  ir::walk(f.body, [&](const ir::Op& op) { n += op.code == code; });
  return n;
}

const ir::Op* first(const ir::Function& f, OpCode code) {
  const ir::Op* found = nullptr;
  ir::walk(f.body, [&](const ir::Op& op) { if (!found && op.code == code) found = &op; });
  return found;
}

TEST(Tracing, SignatureAndParams) {
  auto k = kernel("sig", [](Ptr<float> a, SharedPtr<int32_t>, Int n, Val<bf16>) { a[0] = 1.0f; (void)n; },
                  {.param_names = {"a", "s", "n", "h"}});
  EXPECT_EQ(k.signature(), "sig(a: ptr<global, f32>, s: ptr<shared, i32>, n: i32, h: bf16)");
  auto f = k.trace(Target::Gfx950);
  ASSERT_EQ(f.params.size(), 4u);
  EXPECT_EQ(count(f, OpCode::Param), 4);
}

TEST(Tracing, ProductPlusValueFusesToFma) {
  auto k = kernel("fuse", [](Ptr<float> a) { a[0] = a[1] * a[2] + a[3]; a[4] = a[1] * a[2] - a[3]; });
  auto f = k.trace(Target::Sm90a);
  EXPECT_EQ(count(f, OpCode::Fma), 2);
  EXPECT_EQ(count(f, OpCode::FMul), 0);
  EXPECT_EQ(count(f, OpCode::FNeg), 1);  // a*b - c = fma(a, b, -c)
}

TEST(Tracing, IntegerProductIsAMul) {
  auto k = kernel("imul", [](Ptr<int32_t> a, Int n) { a[0] = n * 3 + 1; });
  auto f = k.trace(Target::Sm90a);
  EXPECT_EQ(count(f, OpCode::Mul), 1);
  EXPECT_EQ(count(f, OpCode::Add), 1);
}

TEST(Tracing, PureOpsAreNumberedOnce) {
  auto k = kernel("cse", [](Ptr<int32_t> a) {
    Value i = block_id() * block_dim() + thread_id();
    Value j = block_id() * block_dim() + thread_id();
    a[i] = j;
  });
  auto f = k.trace(Target::Sm90a);
  EXPECT_EQ(count(f, OpCode::Mul), 1);
  EXPECT_EQ(count(f, OpCode::ThreadId), 1);
}

TEST(Tracing, LoadsAreNeverMerged) {
  auto k = kernel("loads", [](Ptr<float> a) { a[1] = a[0] + a[0]; });
  EXPECT_EQ(count(k.trace(Target::Sm90a), OpCode::Load), 2);
}

TEST(Tracing, ForRangeRecordsRegionWithInductionVariable) {
  auto k = kernel("loop", [](Ptr<float> a, Int n) {
    Var<float> acc = 0.0f;
    for_range(0, n, 2, [&](Value i) { acc += a[i]; });
    a[0] = acc;
  });
  auto f = k.trace(Target::Sm90a);
  const ir::Op* loop = first(f, OpCode::For);
  ASSERT_NE(loop, nullptr);
  ASSERT_EQ(loop->regions.size(), 1u);
  ASSERT_EQ(loop->regions[0].args.size(), 1u);
  EXPECT_EQ(f.type_of(loop->regions[0].args[0]), ir::Type::scalar(ir::Scalar::I32));
  EXPECT_EQ(count(f, OpCode::VarNew), 1);
  EXPECT_EQ(count(f, OpCode::VarSet), 1);
  EXPECT_EQ(count(f, OpCode::VarGet), 2);
}

TEST(Tracing, PlainCppLoopsUnroll) {
  std::mt19937 rng(std::random_device{}());
  int trips = 2 + int(rng() % 7);
  auto k = kernel("unroll", [trips](Ptr<float> a) {
    for (int i = 0; i < trips; ++i) a[i] = a[i] * 2.0f;
  });
  auto f = k.trace(Target::Sm90a);
  EXPECT_EQ(count(f, OpCode::Store), trips);
  EXPECT_EQ(count(f, OpCode::For), 0);
}

TEST(Tracing, IfElseRecordsTwoRegions) {
  auto k = kernel("branch", [](Ptr<float> a, Int n) {
    if_(n > 0, [&] { a[0] = 1.0f; }, [&] { a[0] = 2.0f; a[1] = 3.0f; });
  });
  auto f = k.trace(Target::Sm90a);
  const ir::Op* op = first(f, OpCode::If);
  ASSERT_NE(op, nullptr);
  EXPECT_GE(op->regions[0].ops.size(), 2u);
  EXPECT_GE(op->regions[1].ops.size(), 2u);
}

TEST(Tracing, WaveSizeFollowsTarget) {
  int seen = 0;
  auto k = kernel("wave", [&seen](Ptr<int32_t> a) { seen = wave_size(); a[0] = lane_id(); });
  k.trace(Target::Gfx950);
  EXPECT_EQ(seen, 64);
  k.trace(Target::Sm90a);
  EXPECT_EQ(seen, 32);
}

TEST(Tracing, ScalarSplatsToVector) {
  auto k = kernel("splat", [](Ptr<float> a) { store(a, load(a, 4) * 2.0f + 1.0f); });
  auto f = k.trace(Target::Sm90a);
  EXPECT_EQ(count(f, OpCode::Splat), 2);
  const ir::Op* op = first(f, OpCode::Fma);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(f.type_of(op->result), ir::Type::vector(ir::Scalar::F32, 4));
}

TEST(Tracing, CastPicksTheConversion) {
  auto k = kernel("casts", [](Ptr<float> a, Ptr<int32_t> b, Ptr<bf16> c) {
    a[0] = cast<float>(b[0]);
    b[0] = cast<int32_t>(a[1]);
    c[0] = cast<bf16>(a[2]);
    a[3] = cast<float>(c[1]);
    b[1] = cast<int32_t>(cast<int8_t>(b[2]));
  });
  auto f = k.trace(Target::Sm90a);
  EXPECT_EQ(count(f, OpCode::SIToFP), 1);
  EXPECT_EQ(count(f, OpCode::FPToSI), 1);
  EXPECT_EQ(count(f, OpCode::FPTrunc), 1);
  EXPECT_EQ(count(f, OpCode::FPExt), 1);
  EXPECT_EQ(count(f, OpCode::Trunc), 1);
  EXPECT_EQ(count(f, OpCode::SExt), 1);
}

TEST(Tracing, OpsCarryTheirSourceLine) {
  int line = __LINE__ + 1;
  auto k = kernel("lines", [](Ptr<float> a) { a[0] = exp2(a[1]); });
  auto f = k.trace(Target::Sm90a);
  const ir::Op* op = first(f, OpCode::Exp2);
  ASSERT_NE(op, nullptr);
  EXPECT_EQ(op->loc.line, uint32_t(line));
  EXPECT_EQ(op->loc.file, "dsl/tracing_test.cpp");
}

TEST(Tracing, FixedBlockSizeIsRecorded) {
  auto k = kernel("fixed", [](Ptr<float> a) { a[0] = 0.0f; }, {.block = {128, 1, 1}});
  auto f = k.trace(Target::Gfx950);
  EXPECT_EQ(f.block_size[0], 128u);
  EXPECT_THROW(kernel("too_big", [](Ptr<float>) {}, {.block = {1024, 2, 1}}), UserError);
}

}  // namespace
