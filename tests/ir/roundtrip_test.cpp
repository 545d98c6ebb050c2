// print -> parse -> print round trips: every op, every type, exact constants, random functions.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <set>

#include "dsl/ir/numeric.h"
#include "dsl/ir/parser.h"
#include "dsl/ir/printer.h"
#include "ir_test_util.h"

namespace tilejit::ir::test {
namespace {

/// Parses the printed text and checks that the structure and the text survive.
void expect_round_trip(const Function& fn) {
  std::string text = print(fn);
  Function back = parse(text);
  EXPECT_TRUE(same_structure(fn, back, false)) << text;
  EXPECT_EQ(print(back), text);
  std::string with_locs = print(fn, {.locations = true});
  Function back_locs = parse(with_locs);
  EXPECT_TRUE(same_structure(fn, back_locs, true)) << with_locs;
  EXPECT_EQ(print(back_locs, {.locations = true}), with_locs);
  EXPECT_EQ(print(back_locs), text);
}

TEST(IrRoundTrip, EveryOpKind) {
  std::set<OpCode> seen;
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    Function fn = make_valid(t);
    walk(fn.body, [&](const Op& op) { seen.insert(op.code); });
    expect_round_trip(fn);
  }
  for (size_t c = 0; c < size_t(OpCode::Count_); ++c)
    EXPECT_TRUE(seen.count(OpCode(c))) << "no sample uses " << op_info(OpCode(c)).name;
}

TEST(IrRoundTrip, NestedRegions) {
  expect_round_trip(make_loops());
  expect_round_trip(make_scale());
  // Deep nesting, empty regions, and an if whose then-branch is empty but else is not.
  Function fn;
  fn.name = "deep";
  Builder b(fn);
  ValueId c = b.const_int(i1(), 1);
  ValueId z = b.const_int(i32(), 0);
  std::function<void(int)> nest = [&](int depth) {
    if (depth == 0) {
      b.emit(OpCode::Barrier, Type::void_());
      return;
    }
    emit_for(b, z, z, z, [&](ValueId) {
      emit_if(b, c, [] {}, [&] { nest(depth - 1); });
    });
  };
  nest(6);
  emit_if(b, c, [] {});
  expect_round_trip(fn);
}

TEST(IrRoundTrip, EveryType) {
  Function fn;
  fn.name = "types";
  std::vector<Type> types;
  for (Scalar s : {Scalar::I1, Scalar::I8, Scalar::I16, Scalar::I32, Scalar::I64, Scalar::F16, Scalar::BF16,
                   Scalar::F32, Scalar::F64}) {
    types.push_back(Type::scalar(s));
    for (int w : {2, 3, 8, 64}) types.push_back(Type::vector(s, w));
    types.push_back(gptr(s));
    types.push_back(sptr(s));
    types.push_back(Type::slot(Type::scalar(s)));
    types.push_back(Type::slot(Type::vector(s, 4)));
  }
  for (size_t i = 0; i < types.size(); ++i) fn.params.push_back({"p" + std::to_string(i), types[i]});
  Builder b(fn);
  for (size_t i = 0; i < types.size(); ++i) b.emit(OpCode::Param, types[i], {}, {int64_t(i)});
  expect_round_trip(fn);
  Function back = parse(print(fn));
  ASSERT_EQ(back.params.size(), types.size());
  for (size_t i = 0; i < types.size(); ++i) EXPECT_EQ(back.params[i].type, types[i]) << to_string(types[i]);
}

TEST(IrRoundTrip, SpecialFloatConstantsAreBitExact) {
  struct Case {
    Scalar s;
    uint64_t bits;
  };
  std::vector<Case> cases = {
      {Scalar::F32, 0x80000000}, {Scalar::F32, 0x7f800000}, {Scalar::F32, 0xff800000},
      {Scalar::F32, 0x7fc00000}, {Scalar::F32, 0x7f800001}, {Scalar::F32, 0xffffffff},
      {Scalar::F32, 0x00000001}, {Scalar::F32, 0x807fffff}, {Scalar::F32, 0x7f7fffff},
      {Scalar::F32, 0x00800000}, {Scalar::F64, 0x8000000000000000}, {Scalar::F64, 0x0000000000000001},
      {Scalar::F64, 0x7ff0000000000000}, {Scalar::F64, 0xfff8000000000abc}, {Scalar::F64, 0x7fefffffffffffff},
      {Scalar::BF16, 0x8000}, {Scalar::BF16, 0x0001}, {Scalar::BF16, 0x7f80}, {Scalar::BF16, 0xffc1},
      {Scalar::BF16, 0x7f7f}, {Scalar::BF16, 0x3dcd}, {Scalar::F16, 0x8000}, {Scalar::F16, 0x0001},
      {Scalar::F16, 0x03ff}, {Scalar::F16, 0x7bff}, {Scalar::F16, 0x7c00}, {Scalar::F16, 0xfe01},
  };
  Function fn;
  fn.name = "special";
  Builder b(fn);
  for (const Case& c : cases) b.emit(OpCode::Const, Type::scalar(c.s), {}, {int64_t(c.bits)});
  Function back = parse(print(fn));
  ASSERT_EQ(back.body.ops.size(), cases.size());
  for (size_t i = 0; i < cases.size(); ++i)
    EXPECT_EQ(uint64_t(back.body.ops[i].attrs.at(0)), cases[i].bits)
        << scalar_name(cases[i].s) << " " << print_op(fn, fn.body.ops[i]);
  expect_round_trip(fn);
}

TEST(IrRoundTrip, RandomFloatAndIntConstants) {
  unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 g(seed);
  Function fn;
  fn.name = "random_consts";
  Builder b(fn);
  std::vector<std::pair<Scalar, int64_t>> want;
  for (int i = 0; i < 4000; ++i) {
    Scalar s = Scalar(g() % 9);
    int bits = scalar_bits(s);
    int64_t v = int64_t(g());
    if (scalar_is_float(s)) {
      if (bits < 64) v = int64_t(uint64_t(v) & ((1ull << bits) - 1));
    } else if (s == Scalar::I1) {
      v &= 1;
    } else if (bits < 64) {
      v = (v << (64 - bits)) >> (64 - bits);
    }
    want.push_back({s, v});
    b.emit(OpCode::Const, Type::scalar(s), {}, {v});
  }
  std::string text = print(fn);
  Function back = parse(text);
  ASSERT_EQ(back.body.ops.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(back.body.ops[i].attrs.at(0), want[i].second) << print_op(fn, fn.body.ops[i]);
    // The decimal text of a finite float names the same value (independently via strtod).
    if (scalar_is_float(want[i].first)) {
      std::string line = print_op(fn, fn.body.ops[i]);
      std::string lit = line.substr(line.find("const ") + 6);
      lit = lit.substr(0, lit.find(' '));
      if (lit.rfind("0x", 0) != 0) {
        double exact = const_bits_to_double(Type::scalar(want[i].first), want[i].second);
        double printed = want[i].first == Scalar::F64 ? std::strtod(lit.c_str(), nullptr)
                                                      : double(std::strtof(lit.c_str(), nullptr));
        ASSERT_EQ(printed, exact) << line;
        ASSERT_EQ(std::signbit(printed), std::signbit(exact)) << line;
      }
    }
  }
  EXPECT_EQ(print(back), text);
}

TEST(IrRoundTrip, RandomFunctions) {
  unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int trial = 0; trial < 300; ++trial) {
    Function fn = random_function(rng);
    SCOPED_TRACE("trial " + std::to_string(trial));
    expect_round_trip(fn);
    if (HasFailure()) return;
  }
}

TEST(IrRoundTrip, HandWrittenTextWithForwardReferencesAndGaps) {
  // Whitespace, blank lines, comments, numbers with gaps and a use before its
  // definition are all accepted (the verifier, not the parser, rejects the latter).
  const char* text =
      "\n// a hand-written kernel\n"
      "kernel   k ( p : ptr< global ,f32 > )  {\n"
      "\n"
      "  %7 = add %3, %3 : i32   // somewhere.cpp:9\n"
      "  %3 = const -5 : i32\n"
      "  for %10: i32 = %3 to %7 step %3 {\n"
      "      // nothing\n"
      "  }\n"
      "}\n";
  Function fn = parse(text);
  ASSERT_EQ(fn.body.ops.size(), 3u);
  EXPECT_EQ(fn.body.ops[0].code, OpCode::Add);
  EXPECT_EQ(fn.body.ops[0].result, 7u);
  EXPECT_EQ(fn.body.ops[0].operands, (std::vector<ValueId>{3, 3}));
  EXPECT_EQ(fn.body.ops[0].loc.file, "somewhere.cpp");
  EXPECT_EQ(fn.body.ops[0].loc.line, 9u);
  EXPECT_EQ(fn.body.ops[1].attrs, (std::vector<int64_t>{-5}));
  EXPECT_EQ(fn.body.ops[2].regions.at(0).args, (std::vector<ValueId>{10}));
  EXPECT_EQ(fn.type_of(10), i32());
  EXPECT_EQ(fn.params.at(0).type, gptr(Scalar::F32));
  // Canonical form after one trip: renumbered in definition order.
  EXPECT_EQ(print(fn),
            "kernel k(p: ptr<global, f32>) {\n"
            "  %0 = add %1, %1 : i32\n"
            "  %1 = const -5 : i32\n"
            "  for %2: i32 = %1 to %0 step %1 {\n"
            "  }\n"
            "}\n");
}

}  // namespace
}  // namespace tilejit::ir::test
