// Golden texts of the IR printer for small hand-built functions, and the location option.
#include <gtest/gtest.h>

#include <bit>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "dsl/error.h"
#include "dsl/ir/parser.h"
#include "dsl/ir/printer.h"
#include "ir_test_util.h"

namespace tilejit::ir::test {
namespace {

TEST(IrPrinter, GoldenGuardedKernel) {
  const char* expected =
      "kernel scale(x: ptr<global, f32>, n: i32) block_size(256, 1, 1) {\n"
      "  %0 = param x : ptr<global, f32>\n"
      "  %1 = param n : i32\n"
      "  %2 = thread_id x : i32\n"
      "  %3 = block_id x : i32\n"
      "  %4 = block_dim x : i32\n"
      "  %5 = mul %3, %4 : i32\n"
      "  %6 = add %5, %2 : i32\n"
      "  %7 = icmp slt %6, %1 : i1\n"
      "  if %7 {\n"
      "    %8 = ptr_add %0, %6 : ptr<global, f32>\n"
      "    %9 = load %8 : f32\n"
      "    %10 = const 2.5 : f32\n"
      "    %11 = fmul %9, %10 : f32\n"
      "    store %8, %11\n"
      "  }\n"
      "}\n";
  EXPECT_EQ(print(make_scale()), expected);
}

TEST(IrPrinter, GoldenNestedLoopsAndBranches) {
  const char* expected =
      "kernel loops(out: ptr<global, i32>) {\n"
      "  %0 = param out : ptr<global, i32>\n"
      "  %1 = const 0 : i32\n"
      "  %2 = const 8 : i32\n"
      "  %3 = const 1 : i32\n"
      "  %4 = var %1 : var<i32>\n"
      "  for %5: i32 = %1 to %2 step %3 {\n"
      "    %6 = const 3 : i32\n"
      "    %7 = srem %5, %6 : i32\n"
      "    %8 = icmp eq %7, %1 : i1\n"
      "    if %8 {\n"
      "      %9 = var_get %4 : i32\n"
      "      %10 = add %9, %5 : i32\n"
      "      var_set %4, %10\n"
      "    } else {\n"
      "      for %11: i32 = %1 to %5 step %3 {\n"
      "        barrier\n"
      "      }\n"
      "    }\n"
      "  }\n"
      "  %12 = var_get %4 : i32\n"
      "  store %0, %12\n"
      "}\n";
  EXPECT_EQ(print(make_loops()), expected);
}

TEST(IrPrinter, GoldenConstantsOfEveryType) {
  Function fn;
  fn.name = "consts";
  Builder b(fn);
  b.const_int(i1(), 1);
  b.const_int(i1(), 0);
  b.const_int(Type::scalar(Scalar::I8), -128);
  b.const_int(Type::scalar(Scalar::I16), 32767);
  b.const_int(i64(), INT64_MIN);
  b.emit(OpCode::Const, f32(), {}, {0x80000000});  // -0
  b.emit(OpCode::Const, f32(), {}, {0x7fc00000});  // quiet NaN
  b.emit(OpCode::Const, f32(), {}, {0xff800000});  // -Inf
  b.emit(OpCode::Const, f32(), {}, {0x00000001});  // smallest denormal
  b.const_float(f32(), 0.1);
  b.const_float(f32(), 1.0);
  b.const_float(f32(), 1e10);
  b.const_float(bf16(), 0.1);   // rounds to 0x3dcd = 0.10009765625
  b.emit(OpCode::Const, bf16(), {}, {0xff81});  // NaN with a payload
  b.const_float(Type::scalar(Scalar::F16), 65504.0);
  b.emit(OpCode::Const, Type::scalar(Scalar::F16), {}, {0x0001});  // 2^-24
  b.emit(OpCode::Const, Type::scalar(Scalar::F16), {}, {0x7c00});  // +Inf
  b.const_float(Type::scalar(Scalar::F64), 0.1);
  b.emit(OpCode::Const, Type::scalar(Scalar::F64), {}, {0x7ff8000000000001});
  b.emit(OpCode::Const, f32(), {}, {-1});  // bits outside the type
  const char* expected =
      "kernel consts() {\n"
      "  %0 = const true : i1\n"
      "  %1 = const false : i1\n"
      "  %2 = const -128 : i8\n"
      "  %3 = const 32767 : i16\n"
      "  %4 = const -9223372036854775808 : i64\n"
      "  %5 = const -0.0 : f32\n"
      "  %6 = const 0x7fc00000 : f32\n"
      "  %7 = const 0xff800000 : f32\n"
      "  %8 = const 1e-45 : f32\n"
      "  %9 = const 0.1 : f32\n"
      "  %10 = const 1.0 : f32\n"
      "  %11 = const 1e+10 : f32\n"
      "  %12 = const 0.100097656 : bf16\n"
      "  %13 = const 0xff81 : bf16\n"
      "  %14 = const 65504.0 : f16\n"
      "  %15 = const 5.9604645e-08 : f16\n"
      "  %16 = const 0x7c00 : f16\n"
      "  %17 = const 0.1 : f64\n"
      "  %18 = const 0x7ff8000000000001 : f64\n"
      "  %19 = const 0xffffffffffffffff : f32\n"
      "}\n";
  EXPECT_EQ(print(fn), expected);
}

TEST(IrPrinter, GoldenVectorsAndTargetOps) {
  Function fn;
  fn.name = "vec";
  fn.params = {{"a", sptr(Scalar::BF16)}, {"g", gptr(Scalar::F32)}};
  Builder b(fn);
  ValueId a = b.emit(OpCode::Param, sptr(Scalar::BF16), {}, {0});
  ValueId g = b.emit(OpCode::Param, gptr(Scalar::F32), {}, {1});
  ValueId frag = b.emit(OpCode::Load, vec(Scalar::BF16, 8), {a});
  ValueId zero = b.const_float(f32(), 0.0);
  ValueId acc = b.emit(OpCode::Splat, vec(Scalar::F32, 4), {zero});
  ValueId d = b.emit(OpCode::Mma, vec(Scalar::F32, 4), {frag, frag, acc}, {0});
  ValueId e3 = b.emit(OpCode::Extract, f32(), {d}, {3});
  b.emit(OpCode::Insert, vec(Scalar::F32, 4), {acc, e3}, {0});
  ValueId s = b.emit(OpCode::SharedAlloc, sptr(Scalar::F32), {}, {256});
  ValueId c16 = b.const_int(i32(), 16);
  b.emit(OpCode::CpAsync, Type::void_(), {s, g, c16});
  b.emit(OpCode::CpAsyncWait, Type::void_(), {}, {1});
  ValueId one = b.const_float(f32(), 1.0);
  b.emit(OpCode::CvtPkBf16Fp4, vec(Scalar::BF16, 2), {c16, one}, {2});
  ValueId lt = b.emit(OpCode::FCmp, i1(), {e3, one}, {int64_t(CmpPred::Olt)});
  b.emit(OpCode::Select, f32(), {lt, e3, one});
  b.emit(OpCode::LdMatrix, vec(Scalar::BF16, 8), {a}, {1});
  b.emit(OpCode::GridDim, i32(), {}, {2});
  const char* expected =
      "kernel vec(a: ptr<shared, bf16>, g: ptr<global, f32>) {\n"
      "  %0 = param a : ptr<shared, bf16>\n"
      "  %1 = param g : ptr<global, f32>\n"
      "  %2 = load %0 : <8 x bf16>\n"
      "  %3 = const 0.0 : f32\n"
      "  %4 = splat %3 : <4 x f32>\n"
      "  %5 = mma gfx950_mfma_16x16x32_bf16 %2, %2, %4 : <4 x f32>\n"
      "  %6 = extract %5, 3 : f32\n"
      "  %7 = insert %4, %6, 0 : <4 x f32>\n"
      "  %8 = shared_alloc 256 : ptr<shared, f32>\n"
      "  %9 = const 16 : i32\n"
      "  cp_async %8, %1, %9\n"
      "  cp_async_wait 1\n"
      "  %10 = const 1.0 : f32\n"
      "  %11 = cvt_pk_bf16_fp4 %9, %10, 2 : <2 x bf16>\n"
      "  %12 = fcmp olt %6, %10 : i1\n"
      "  %13 = select %12, %6, %10 : f32\n"
      "  %14 = ldmatrix %0, 1 : <8 x bf16>\n"
      "  %15 = grid_dim z : i32\n"
      "}\n";
  EXPECT_EQ(print(fn), expected);
}

TEST(IrPrinter, QuotedNamesAndParamIndices) {
  Function fn;
  fn.name = "my kernel";
  fn.params = {{"a", i32()}, {"a", i32()}, {"9lives", f32()}};
  fn.block_size[2] = 4;
  Builder b(fn);
  b.emit(OpCode::Param, i32(), {}, {1});
  b.emit(OpCode::Param, f32(), {}, {2});
  const char* expected =
      "kernel \"my kernel\"(a: i32, a: i32, \"9lives\": f32) block_size(0, 0, 4) {\n"
      "  %0 = param 1 : i32\n"
      "  %1 = param 2 : f32\n"
      "}\n";
  EXPECT_EQ(print(fn), expected);
}

TEST(IrPrinter, MinBlocksPerSmRoundTrips) {
  Function fn;
  fn.name = "k";
  fn.block_size[0] = 256;
  fn.block_size[1] = fn.block_size[2] = 1;
  fn.min_blocks_per_sm = 2;
  const char* expected = "kernel k() block_size(256, 1, 1) min_blocks_per_sm(2) {\n}\n";
  EXPECT_EQ(print(fn), expected);
  Function back = parse(expected);
  EXPECT_EQ(back.min_blocks_per_sm, 2u);
  EXPECT_EQ(print(back), expected);
  EXPECT_THROW(parse("kernel k() block_size(256, 1, 1) min_blocks_per_sm(0) {\n}\n"), Error);
}

TEST(IrPrinter, LocationsAreOptionalComments) {
  Function fn;
  fn.name = "loc";
  Builder b(fn);
  ValueId c = b.emit(OpCode::Const, i1(), {}, {1}, SourceLoc{"kernels/a.cpp", 12});
  emit_if(b, c, [&] { b.emit(OpCode::Barrier, Type::void_(), {}, {}, SourceLoc{"kernels/a.cpp", 14}); }, {},
          SourceLoc{"kernels/a.cpp", 13});
  b.emit(OpCode::Barrier, Type::void_());  // unknown location: no comment
  const char* with_locs =
      "kernel loc() {\n"
      "  %0 = const true : i1  // kernels/a.cpp:12\n"
      "  if %0 {  // kernels/a.cpp:13\n"
      "    barrier  // kernels/a.cpp:14\n"
      "  }\n"
      "  barrier\n"
      "}\n";
  EXPECT_EQ(print(fn, {.locations = true}), with_locs);
  std::string canonical = print(fn);
  EXPECT_EQ(canonical.find("//"), std::string::npos) << canonical;
}

TEST(IrPrinter, RenumbersRegardlessOfInternalIds) {
  std::mt19937 rng(fresh_seed());
  Function base = make_valid(Target::Sm90a);
  std::string text = print(base);
  for (int trial = 0; trial < 20; ++trial) {
    Function shuffled = renumber(base, rng);
    ASSERT_EQ(print(shuffled), text);
  }
  // The definitions (results and induction variables) read %0, %1, ... in order.
  std::istringstream lines(text);
  std::string line;
  uint32_t expected = 0;
  while (std::getline(lines, line)) {
    size_t start = line.find_first_not_of(' ');
    if (line.compare(start, 4, "for ") == 0) start += 4;
    if (line[start] != '%') continue;
    size_t end = line.find_first_of(":= ", start);
    ASSERT_EQ(line.substr(start, end - start), "%" + std::to_string(expected)) << line;
    ++expected;
  }
  EXPECT_GT(expected, 80u);
}

TEST(IrPrinter, ShortestFloatTextRoundTrips) {
  // Independent check of the f32 decimals: strtof gives the bits back, and one
  // significant digit fewer (printf %.*e) never does.
  unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 20000; ++i) {
    uint32_t bits = uint32_t(rng());
    // Skip NaN/Inf (hex) and powers of two, whose round-trip interval is lopsided.
    if ((bits & 0x7f800000u) == 0x7f800000u || (bits & 0x7fffffu) == 0) continue;
    std::string s = format_const(f32(), int64_t(bits));
    float back = std::strtof(s.c_str(), nullptr);
    ASSERT_EQ(std::bit_cast<uint32_t>(back), bits) << s;
    bool integral_fixed = s.size() > 2 && s.ends_with(".0") && s.find('e') == std::string::npos;
    if (integral_fixed) {
      // Whole numbers print in full (to_chars' fixed form): the digits are the exact value.
      ASSERT_EQ(std::strtod(s.c_str(), nullptr), double(std::bit_cast<float>(bits))) << s;
      continue;
    }
    // Significant digits: from the first to the last nonzero digit of the mantissa.
    std::string mant = s.substr(0, s.find('e'));
    size_t first = mant.find_first_of("123456789"), last = mant.find_last_of("123456789");
    int digits = 0;
    for (size_t k = first; first != std::string::npos && k <= last; ++k) digits += mant[k] != '.';
    if (digits > 1) {
      char buf[64];
      std::snprintf(buf, sizeof buf, "%.*e", digits - 2, double(std::bit_cast<float>(bits)));
      ASSERT_NE(std::bit_cast<uint32_t>(std::strtof(buf, nullptr)), bits) << s << " vs " << buf;
    }
  }
}

}  // namespace
}  // namespace tilejit::ir::test
