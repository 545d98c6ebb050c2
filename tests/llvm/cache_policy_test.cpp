// The stream cache policy of load / buffer_load: ld.global.nc.L1::no_allocate on sm_90a, nt on
// gfx950; normal loads keep the default caching.
#include <gtest/gtest.h>

#include "dsl/error.h"
#include "dsl/ir/verifier.h"
#include "tests/llvm/test_util.h"

namespace tilejit::test {
namespace {

constexpr int64_t kStream = int64_t(ir::CachePolicy::Stream);

std::string verify_error(const ir::Function& fn) {
  try {
    ir::verify(fn, Target::Sm90a);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(verified)";
}

/// out[i] = a 16-byte, an 8-byte and a 4-byte stream load plus a 16-byte stream buffer_load
/// (words summed), and a normal 16-byte load of `b`.
ir::Function stream_loads() {
  Kernel k("stream_loads");
  ValueId a = k.param("a", gptr(Scalar::I32));
  ValueId b = k.param("b", gptr(Scalar::I32));
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId i4 = k.op(OpCode::Mul, i32(), {k.global_id(), k.ci32(16)});
  ValueId v4 = k.op(OpCode::Load, vec(Scalar::I32, 4), {k.ptr_add(a, i4)}, {kStream});
  ValueId v2 = k.op(OpCode::Load, vec(Scalar::I32, 2), {k.ptr_add(a, k.op(OpCode::Add, i32(), {i4, k.ci32(4)}))}, {kStream});
  ValueId v1 = k.op(OpCode::Load, i32(), {k.ptr_add(a, k.op(OpCode::Add, i32(), {i4, k.ci32(6)}))}, {kStream});
  ValueId bl = k.op(OpCode::BufferLoad, vec(Scalar::I32, 4),
                    {a, k.ci32(1 << 20), k.op(OpCode::Add, i32(), {k.op(OpCode::Mul, i32(), {i4, k.ci32(4)}), k.ci32(32)})},
                    {kStream});
  ValueId nb = k.load(vec(Scalar::I32, 4), k.ptr_add(b, i4));
  ValueId s = k.op(OpCode::Add, vec(Scalar::I32, 4), {v4, bl});
  s = k.op(OpCode::Add, vec(Scalar::I32, 4), {s, nb});
  ValueId e = k.op(OpCode::Add, i32(), {k.op(OpCode::Extract, i32(), {v2}, {1}), v1});
  s = k.op(OpCode::Insert, vec(Scalar::I32, 4), {s, e}, {0});
  k.store(k.ptr_add(out, i4), s);
  return k.fn;
}

TEST(CachePolicy, Sm90aStreamLoadsSkipL1AndNormalLoadsDoNot) {
  auto r = compile_or_fail(stream_loads(), Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-DAG: ld.global.nc.L1::no_allocate.v4.b32
CHECK-DAG: ld.global.nc.L1::no_allocate.v2.b32
CHECK-DAG: ld.global.nc.L1::no_allocate.b32
)"), "");
  // Two 16-byte stream loads (the plain one and buffer_load's whole-range path); the load of b is normal.
  size_t n = 0;
  for (size_t p = 0; (p = r.assembly.find("L1::no_allocate.v4", p)) != std::string::npos; ++p) ++n;
  EXPECT_EQ(n, 2u) << r.assembly;
  EXPECT_NE(r.assembly.find("ld.global.v4.b32"), std::string::npos) << "the normal load of b\n" << r.assembly;
}

// Byte and 16-bit stream loads (MXFP4 scales) are non-coherent too, widened into 32-bit registers.
TEST(CachePolicy, Sm90aNarrowStreamLoadsAreNonCoherent) {
  Kernel k("narrow_stream_loads");
  ValueId a = k.param("a", gptr(Scalar::I8));
  ValueId h = k.param("h", gptr(Scalar::I16));
  ValueId out = k.param("out", gptr(Scalar::I32));
  ValueId byte = k.op(OpCode::Load, ir::Type::scalar(Scalar::I8), {k.ptr_add(a, k.global_id())}, {kStream});
  ValueId half = k.op(OpCode::Load, ir::Type::scalar(Scalar::I16), {k.ptr_add(h, k.global_id())}, {kStream});
  ValueId sum = k.op(OpCode::Add, i32(), {k.op(OpCode::ZExt, i32(), {byte}), k.op(OpCode::ZExt, i32(), {half})});
  k.store(k.ptr_add(out, k.global_id()), sum);
  auto r = compile_or_fail(k.fn, Target::Sm90a);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-DAG: ld.global.nc.L1::no_allocate.u8
CHECK-DAG: ld.global.nc.L1::no_allocate.u16
)"), "");
  EXPECT_EQ(r.assembly.find("ld.global.u8"), std::string::npos) << r.assembly;
}

TEST(CachePolicy, Gfx950StreamLoadsAreNontemporal) {
  auto r = compile_or_fail(stream_loads(), Target::Gfx950);
  EXPECT_EQ(file_check(r.assembly, R"(
CHECK-DAG: global_load_dwordx4 {{.*}} nt
CHECK-DAG: buffer_load_dword{{x?[0-9]?}} {{.*}} nt
)"), "");
  // LLVM may merge the 8- and 4-byte loads (adjacent, unaligned to 16): whatever it makes is nt.
  size_t plain = 0;
  for (size_t p = 0; (p = r.assembly.find("global_load_dword", p)) != std::string::npos; ++p) {
    std::string line = r.assembly.substr(p, r.assembly.find('\n', p) - p);
    if (line.find(" nt") == std::string::npos) ++plain;
  }
  EXPECT_EQ(plain, 1u) << "exactly the load of b is not nontemporal\n" << r.assembly;
}

TEST(CachePolicy, VerifierRejectsAnUnknownPolicyAndStreamOnShared) {
  {
    Kernel k("bad_policy");
    ValueId a = k.param("a", gptr(Scalar::I32));
    k.store(a, k.op(OpCode::Load, i32(), {a}, {2}));
    std::string err = verify_error(k.fn);
    EXPECT_NE(err.find("cache policy"), std::string::npos) << err;
  }
  {
    Kernel k("stream_shared");
    ValueId a = k.param("a", gptr(Scalar::I32));
    ValueId t = k.op(OpCode::SharedAlloc, sptr(Scalar::I32), {}, {64});
    k.store(a, k.op(OpCode::Load, i32(), {t}, {kStream}));
    std::string err = verify_error(k.fn);
    EXPECT_NE(err.find("global pointer"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace tilejit::test
