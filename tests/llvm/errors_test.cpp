// Malformed IR gives InternalError (LLVM's own diagnostic where LLVM finds it); compiles run in parallel threads.
#include <gtest/gtest.h>

#include <thread>

#include "dsl/error.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

std::string compile_error(const ir::Function& fn, Target t) {
  try {
    backend::compile(fn, t);
  } catch (const InternalError& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("wrong exception type: ") + e.what();
  }
  return "no error";
}

/// A value defined inside an if's then-region is used after the if: the lowering
/// accepts it, LLVM's verifier rejects the module and its message is reported.
TEST(Errors, MalformedFunctionCarriesLlvmMessage) {
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    Kernel k("broken");
    ValueId out = k.param("out", gptr(Scalar::I32));
    ValueId n = k.param("n", i32());
    ValueId inner = ir::kNoValue;
    ValueId cond = k.op(OpCode::ICmp, i1(), {n, k.ci32(3)}, {int64_t(ir::CmpPred::Sgt)});
    k.if_(cond, [&] { inner = k.op(OpCode::Mul, i32(), {n, n}); });
    k.store(out, inner);
    std::string what = compile_error(k.fn, t);
    EXPECT_NE(what.find("LLVM rejected the lowered module"), std::string::npos) << what;
    EXPECT_NE(what.find("Instruction does not dominate all uses!"), std::string::npos) << what;
    EXPECT_NE(what.find("broken"), std::string::npos) << what;
  }
}

TEST(Errors, UseBeforeDefinitionNamesTheOp) {
  Kernel k("early");
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId later = k.fn.new_value(i32());  // never defined by any op
  k.store(out, k.op(OpCode::Add, i32(), {later, k.ci32(1)}));
  std::string what = compile_error(k.fn, Target::Sm90a);
  EXPECT_NE(what.find("op 'add'"), std::string::npos) << what;
  EXPECT_NE(what.find("used before it is defined"), std::string::npos) << what;
}

TEST(Errors, TypeMismatchesAreRejected) {
  {
    Kernel k("mixed");
    ValueId out = k.param("out", gptr(Scalar::I32));
    k.store(out, k.op(OpCode::Add, i32(), {k.ci32(1), k.cf32(2.0f)}));
    std::string what = compile_error(k.fn, Target::Gfx950);
    EXPECT_NE(what.find("op 'add'"), std::string::npos) << what;
  }
  {
    Kernel k("badstore");
    ValueId out = k.param("out", gptr(Scalar::I32));
    k.store(out, k.cf32(2.0f));
    std::string what = compile_error(k.fn, Target::Sm90a);
    EXPECT_NE(what.find("op 'store'"), std::string::npos) << what;
  }
  {
    Kernel k("badarity");
    ValueId out = k.param("out", gptr(Scalar::I32));
    k.store(out, k.op(OpCode::Add, i32(), {k.ci32(1)}));
    std::string what = compile_error(k.fn, Target::Sm90a);
    EXPECT_NE(what.find("has 1 operands, expected 2"), std::string::npos) << what;
  }
  {
    Kernel k("f64exp");
    ValueId out = k.param("out", gptr(Scalar::F64));
    k.store(out, k.op(OpCode::Exp2, Type::scalar(Scalar::F64), {k.b.const_float(Type::scalar(Scalar::F64), 0.5)}));
    std::string what = compile_error(k.fn, Target::Sm90a);
    EXPECT_NE(what.find("op 'exp2'"), std::string::npos) << what;
  }
}

TEST(Errors, SharedMemoryOverTheLimitIsOutOfResources) {
  Rng rng;
  SCOPED_TRACE(rng.trace());
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    uint32_t limit = target_info(t).max_shared_bytes;
    for (int64_t floats : {int64_t(limit / 4), int64_t(limit / 4 + rng.uniform(1, 4096))}) {
      Kernel k("big_lds");
      ValueId out = k.param("out", gptr(Scalar::F32));
      ValueId tile = k.op(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {floats});
      ValueId far = k.ptr_add(tile, k.ci32(floats - 1));
      k.store(far, k.cf32(1.0f));
      k.effect(OpCode::Barrier, {});
      k.store(out, k.load(f32(), far));
      if (uint64_t(floats) * 4 <= limit) {
        EXPECT_NO_THROW(backend::compile(k.fn, t)) << target_info(t).name;
      } else {
        EXPECT_THROW(backend::compile(k.fn, t), OutOfResources) << target_info(t).name << " " << floats;
      }
    }
  }
}

/// Compiles from several threads at once give the same bytes as one compile alone.
TEST(Errors, ParallelCompilesMatchSerialOnes) {
  Kernel vadd("vadd4");
  build_vector_add(vadd);
  auto gold_amd = compile_or_fail(vadd.fn, Target::Gfx950);
  auto gold_nv = compile_or_fail(vadd.fn, Target::Sm90a);
  constexpr int kThreads = 4;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      try {
        for (int i = 0; i < 3; ++i) {
          Target target = (t + i) % 2 ? Target::Gfx950 : Target::Sm90a;
          auto r = backend::compile(vadd.fn, target);
          const auto& gold = target == Target::Gfx950 ? gold_amd : gold_nv;
          if (r.code.binary != gold.code.binary) failures[t] += "different binary; ";
          if (r.assembly != gold.assembly) failures[t] += "different assembly; ";
        }
        Kernel broken("bad");
        ValueId out = broken.param("out", gptr(Scalar::I32));
        ValueId n = broken.param("n", i32());
        ValueId inner = ir::kNoValue;
        broken.if_(broken.op(OpCode::ICmp, i1(), {n, broken.ci32(t)}, {int64_t(ir::CmpPred::Slt)}),
                   [&] { inner = broken.op(OpCode::Mul, i32(), {n, n}); });
        broken.store(out, broken.op(OpCode::Add, i32(), {inner, inner}));
        try {
          backend::compile(broken.fn, Target::Sm90a);
          failures[t] += "malformed IR compiled; ";
        } catch (const InternalError&) {
        }
      } catch (const std::exception& e) {
        failures[t] += e.what();
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

}  // namespace
}  // namespace tilejit::test
