// Trace-time errors name the user's file:line and say what was expected.
#include <gtest/gtest.h>

#include <string>

#include "dsl/tilejit.h"

using namespace tilejit;
using namespace tilejit::dsl;

namespace {

/// Runs the trace and returns the UserError text (fails the test when none is thrown).
std::string trace_error(const KernelDef& k, Target t = Target::Sm90a) {
  try {
    k.trace(t);
  } catch (const UserError& e) {
    return e.what();
  }
  ADD_FAILURE() << "expected a UserError from tracing " << k.name();
  return {};
}

std::string here(int line) { return "dsl/trace_errors_test.cpp:" + std::to_string(line); }

TEST(TraceErrors, MixedTypesNameTheLine) {
  int line = __LINE__ + 1;
  auto k = kernel("mixed", [](Ptr<float> a, Int n) { Value x = a[0] + n; });
  std::string msg = trace_error(k);
  EXPECT_NE(msg.find(here(line)), std::string::npos) << msg;
  EXPECT_NE(msg.find("different types: f32 and i32"), std::string::npos) << msg;
}

TEST(TraceErrors, OperatorOnSecondLineOfStatement) {
  auto k = kernel("mixed2", [](Ptr<float> a, Int n) {
    Value x = a[0];
    int line = __LINE__ + 1;
    Value y = x * n;
    (void)y;
    (void)line;
  });
  std::string msg = trace_error(k);
  EXPECT_NE(msg.find("trace_errors_test.cpp:"), std::string::npos) << msg;
  EXPECT_NE(msg.find("f32 and i32"), std::string::npos) << msg;
}

TEST(TraceErrors, AssignmentToOuterValueInsideLoop) {
  int line = __LINE__ + 3;
  auto k = kernel("outer_assign", [](Ptr<float> a, Int n) {
    Value x = a[0];
    for_range(0, n, [&](Value) { x = x + 1.0f; });
    a[0] = x;
  });
  std::string msg = trace_error(k);
  EXPECT_NE(msg.find(here(line)), std::string::npos) << msg;
  EXPECT_NE(msg.find("declare it as a Var"), std::string::npos) << msg;
}

TEST(TraceErrors, AssignmentToOuterValueInsideIf) {
  auto k = kernel("outer_assign_if", [](Ptr<float> a, Int n) {
    Value x = a[0];
    if_(n > 0, [&] { x = a[1]; });
  });
  EXPECT_NE(trace_error(k).find("declare it as a Var"), std::string::npos);
}

TEST(TraceErrors, IfNeedsBool) {
  int line = __LINE__ + 1;
  auto k = kernel("if_int", [](Ptr<float> a, Int n) { if_(n, [&] { a[0] = 1.0f; }); });
  std::string msg = trace_error(k);
  EXPECT_NE(msg.find(here(line)), std::string::npos) << msg;
  EXPECT_NE(msg.find("bool (i1) condition"), std::string::npos) << msg;
}

TEST(TraceErrors, StoreOfWrongType) {
  int line = __LINE__ + 1;
  auto k = kernel("store_type", [](Ptr<float> a, Int n) { a[0] = n; });
  std::string msg = trace_error(k);
  EXPECT_NE(msg.find(here(line)), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a value of type f32, got i32"), std::string::npos) << msg;
}

TEST(TraceErrors, FloatLiteralForInteger) {
  auto k = kernel("float_lit", [](Ptr<int32_t> a, Int n) { a[0] = n + 1.5; });
  EXPECT_NE(trace_error(k).find("floating-point literal 1.5 cannot be used as i32"), std::string::npos);
}

TEST(TraceErrors, TypedValueFromWrongType) {
  int line = __LINE__ + 1;
  auto k = kernel("typed", [](Ptr<float> a, Int n) { Float f = n; (void)f; });
  std::string msg = trace_error(k);
  EXPECT_NE(msg.find(here(line)), std::string::npos) << msg;
  EXPECT_NE(msg.find("expected a value of type f32, got i32"), std::string::npos) << msg;
}

TEST(TraceErrors, VectorLoadTooWide) {
  auto k = kernel("wide", [](Ptr<float> a) { Value v = load(a, 8); (void)v; });
  EXPECT_NE(trace_error(k).find("at most 16 bytes"), std::string::npos);
}

TEST(TraceErrors, BitcastSizeMismatch) {
  auto k = kernel("bitcast_size", [](Ptr<float> a) { Value v = bitcast(a[0], ir::Type::scalar(ir::Scalar::I64)); (void)v; });
  EXPECT_NE(trace_error(k).find("same size"), std::string::npos);
}

TEST(TraceErrors, AtomicAddWrongType) {
  auto k = kernel("atomic_type", [](Ptr<double> a) { atomic_add(a, a[0]); });
  EXPECT_NE(trace_error(k).find("atomic_add adds f32, i32 or <2 x bf16>"), std::string::npos);
}

TEST(TraceErrors, SharedAllocInsideLoop) {
  auto k = kernel("shared_loop", [](Ptr<float> a, Int n) {
    for_range(0, n, [&](Value) { auto s = shared_array<float>(16); (void)s; });
  });
  EXPECT_NE(trace_error(k).find("top level"), std::string::npos);
}

TEST(TraceErrors, ExtractOutOfRange) {
  auto k = kernel("extract_range", [](Ptr<float> a) { Value v = load(a, 4); Value e = extract(v, 4); (void)e; });
  EXPECT_NE(trace_error(k).find("extract index 4 out of range for <4 x f32>"), std::string::npos);
}

TEST(TraceErrors, DslOutsideKernelIsAnError) {
  EXPECT_THROW(thread_id(), UserError);
}

TEST(TraceErrors, BadKernelName) {
  EXPECT_THROW(kernel("has space", [](Int) {}), UserError);
}

TEST(TraceErrors, FindUnknownKernelListsKnownOnes) {
  try {
    find_kernel("definitely_not_registered");
    FAIL();
  } catch (const UserError& e) {
    EXPECT_NE(std::string(e.what()).find("no kernel named 'definitely_not_registered'"), std::string::npos);
  }
}

}  // namespace
