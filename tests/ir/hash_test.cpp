// The stable hash: XXH3-128 of the canonical text, blind to ids and locations, sensitive to everything else.
#include <gtest/gtest.h>
#include <xxhash.h>

#include <fmt/format.h>

#include <functional>
#include <set>

#include "dsl/ir/hash.h"
#include "dsl/ir/printer.h"
#include "ir_test_util.h"

namespace tilejit::ir::test {
namespace {

TEST(IrHash, HashTextIsXxh3_128AsLowercaseHex) {
  unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int i = 0; i < 200; ++i) {
    std::string s(rng() % 300, '\0');
    for (char& c : s) c = char(rng());
    XXH128_hash_t h = XXH3_128bits(s.data(), s.size());
    std::string want = fmt::format("{:016x}{:016x}", h.high64, h.low64);
    std::string got = hash_text(s);
    ASSERT_EQ(got, want);
    ASSERT_EQ(got.size(), 32u);
    ASSERT_EQ(got.find_first_not_of("0123456789abcdef"), std::string::npos) << got;
  }
  Function fn = make_scale();
  EXPECT_EQ(stable_hash(fn), hash_text(print(fn)));
}

TEST(IrHash, StableAcrossRenumberingAndLocations) {
  unsigned seed = fresh_seed();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (Target t : {Target::Gfx950, Target::Sm90a}) {
    Function base = make_valid(t);
    std::string h = stable_hash(base);
    for (int trial = 0; trial < 10; ++trial) {
      Function other = renumber(base, rng);
      // Give every op a fresh random location too.
      std::function<void(Region&)> relocate = [&](Region& r) {
        for (Op& op : r.ops) {
          op.loc = rng() % 3 ? SourceLoc{fmt::format("f{}.cpp", rng() % 9), 1 + uint32_t(rng() % 900)}
                             : SourceLoc{};
          for (Region& sub : op.regions) relocate(sub);
        }
      };
      relocate(other.body);
      ASSERT_EQ(stable_hash(other), h);
    }
  }
}

/// Collects `fn`'s ops in walk order as mutable pointers.
void ops_of(Region& r, std::vector<Op*>& out) {
  for (Op& op : r.ops) {
    out.push_back(&op);
    for (Region& sub : op.regions) ops_of(sub, out);
  }
}

TEST(IrHash, ChangesWhenAnyOpTypeOrConstantChanges) {
  const Function base = make_valid(Target::Gfx950);
  std::set<std::string> hashes = {stable_hash(base)};
  size_t mutations = 0;
  auto record = [&](const Function& fn, const std::string& what) {
    ++mutations;
    EXPECT_TRUE(hashes.insert(stable_hash(fn)).second) << "hash unchanged or repeated after " << what;
  };
  size_t op_count = 0;
  walk(base.body, [&](const Op&) { ++op_count; });
  // Applies `change` to op i of a fresh copy of the base kernel.
  auto mutate = [&](size_t i, const std::function<void(Function&, Op&)>& change, const std::string& what) {
    Function fn = base;
    std::vector<Op*> ops;
    ops_of(fn.body, ops);
    change(fn, *ops[i]);
    record(fn, what + " of op " + std::to_string(i));
  };
  for (size_t i = 0; i < op_count; ++i) {
    Function copy = base;
    std::vector<Op*> ops;
    ops_of(copy.body, ops);
    const Op& op = *ops[i];
    if (op.regions.empty())
      mutate(i, [](Function&, Op& o) {
        OpCode c = OpCode((size_t(o.code) + 1) % size_t(OpCode::Count_));
        if (c == OpCode::For || c == OpCode::If) c = OpCode::Barrier;
        if (c == o.code) c = OpCode::Add;
        o.code = c;
      }, "opcode");
    if (op.result != kNoValue)
      mutate(i, [](Function& f, Op& o) {
        Type& t = f.value_types[o.result];
        t = t == Type::scalar(Scalar::F64) ? Type::scalar(Scalar::F32) : Type::scalar(Scalar::F64);
      }, "result type");
    for (size_t a = 0; a < op.attrs.size(); ++a)
      mutate(i, [a](Function&, Op& o) { o.attrs[a] ^= 1; }, "attribute " + std::to_string(a));
    if (op.operands.size() >= 2 && op.operands.front() != op.operands.back())
      mutate(i, [](Function&, Op& o) { std::swap(o.operands.front(), o.operands.back()); }, "operand order");
  }
  EXPECT_EQ(hashes.size(), mutations + 1);
  EXPECT_GT(mutations, 150u);

  // Kernel-level changes.
  auto kernel_change = [&](const std::function<void(Function&)>& change, const std::string& what) {
    Function fn = base;
    change(fn);
    record(fn, what);
  };
  kernel_change([](Function& f) { f.name += "2"; }, "kernel name");
  kernel_change([](Function& f) { f.params[3].name = "m"; }, "param name");
  kernel_change([](Function& f) { f.params[3].type = Type::scalar(Scalar::I64); }, "param type");
  kernel_change([](Function& f) { f.block_size[0] = 128; }, "block size");
  kernel_change([](Function& f) { f.body.ops.pop_back(); }, "dropped op");
  EXPECT_EQ(hashes.size(), mutations + 1);
}

TEST(IrHash, DistinguishesNearbyConstants) {
  // Bit patterns that print close together must still hash apart.
  std::vector<std::pair<Type, int64_t>> consts = {
      {f32(), 0x00000000}, {f32(), 0x80000000}, {f32(), 0x7fc00000}, {f32(), 0x7fc00001},
      {f32(), 0xffc00000}, {f32(), 0x7f800000}, {f32(), 0x3f800000}, {f32(), 0x3f800001},
      {f32(), 0x00000001}, {bf16(), 0x3f80}, {bf16(), 0x3f81}, {bf16(), 0x8000},
      {Type::scalar(Scalar::F16), 0x3c00}, {Type::scalar(Scalar::F64), 0x3ff0000000000000},
      {Type::scalar(Scalar::F64), 0x3ff0000000000001}, {i32(), 1}, {i32(), -1}, {i64(), 1},
      {i1(), 1}, {i1(), 0}, {Type::scalar(Scalar::I8), 1},
  };
  std::set<std::string> hashes;
  for (const auto& [t, bits] : consts) {
    Function fn;
    fn.name = "c";
    Builder b(fn);
    b.emit(OpCode::Const, t, {}, {bits});
    EXPECT_TRUE(hashes.insert(stable_hash(fn)).second) << print(fn);
  }
}

}  // namespace
}  // namespace tilejit::ir::test
