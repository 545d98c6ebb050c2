// launch_stub(): the signature, block size, occupancy hint and shared-memory size of a kernel
// without its body, through a print/parse round trip (what the kernel cache keeps).
#include <gtest/gtest.h>

#include <random>

#include "dsl/ir/launch_stub.h"
#include "dsl/ir/parser.h"
#include "dsl/ir/printer.h"

namespace tilejit::ir {
namespace {

// A kernel with random shared allocations, one of them inside an `if`.
Function random_kernel(std::mt19937& rng, std::vector<uint64_t>& sizes) {
  Function fn;
  fn.name = "stub_probe";
  fn.params = {{"x", Type::pointer(Scalar::F32, AddrSpace::Global)}, {"n", Type::scalar(Scalar::I32)}};
  fn.block_size[0] = 32 << (rng() % 4);
  fn.block_size[1] = 1;
  fn.block_size[2] = 1;
  fn.min_blocks_per_sm = rng() % 4;
  for (size_t i = 0; i < fn.params.size(); ++i) {
    Op p;
    p.code = OpCode::Param;
    p.result = fn.new_value(fn.params[i].type);
    p.attrs = {int64_t(i)};
    fn.body.ops.push_back(p);
  }
  auto alloc = [&](Scalar elem) {
    Op a;
    a.code = OpCode::SharedAlloc;
    a.result = fn.new_value(Type::pointer(elem, AddrSpace::Shared));
    a.attrs = {int64_t(1 + rng() % 300)};
    sizes.push_back(uint64_t(a.attrs[0]) * Type::scalar(elem).size_bytes());
    return a;
  };
  fn.body.ops.push_back(alloc(Scalar::F32));
  fn.body.ops.push_back(alloc(Scalar::BF16));
  Op cond;
  cond.code = OpCode::Const;
  cond.result = fn.new_value(Type::scalar(Scalar::I1));
  cond.attrs = {1};
  fn.body.ops.push_back(cond);
  Op branch;
  branch.code = OpCode::If;
  branch.operands = {cond.result};
  branch.regions.resize(2);
  branch.regions[0].ops.push_back(alloc(Scalar::I8));
  fn.body.ops.push_back(branch);
  return fn;
}

TEST(LaunchStub, KeepsWhatALaunchNeedsThroughPrintAndParse) {
  std::random_device seed_source;
  const uint32_t seed = seed_source();
  SCOPED_TRACE(testing::Message() << "seed " << seed);
  std::mt19937 rng(seed);
  for (int round = 0; round < 20; ++round) {
    std::vector<uint64_t> sizes;
    Function fn = random_kernel(rng, sizes);
    uint64_t want = 0;  // each allocation 16-byte aligned
    for (uint64_t s : sizes) want = ((want + 15) & ~uint64_t(15)) + s;
    ASSERT_EQ(fn.shared_bytes(), want);

    Function stub = parse(print(launch_stub(fn)));
    EXPECT_EQ(stub.name, fn.name);
    ASSERT_EQ(stub.params.size(), fn.params.size());
    for (size_t i = 0; i < fn.params.size(); ++i) {
      EXPECT_EQ(stub.params[i].name, fn.params[i].name);
      EXPECT_EQ(stub.params[i].type, fn.params[i].type);
    }
    for (int d = 0; d < 3; ++d) EXPECT_EQ(stub.block_size[d], fn.block_size[d]);
    EXPECT_EQ(stub.min_blocks_per_sm, fn.min_blocks_per_sm);
    EXPECT_EQ(stub.shared_bytes(), want);
    int ops = 0;
    for (const Op& op : stub.body.ops) ops += op.code == OpCode::Param || op.code == OpCode::SharedAlloc;
    EXPECT_EQ(ops, int(stub.body.ops.size())) << "the stub holds only params and one allocation";
  }
}

TEST(LaunchStub, NoSharedMemoryMeansNoAllocation) {
  Function fn;
  fn.name = "plain";
  fn.params = {{"n", Type::scalar(Scalar::I32)}};
  Op p;
  p.code = OpCode::Param;
  p.result = fn.new_value(fn.params[0].type);
  p.attrs = {0};
  fn.body.ops.push_back(p);
  Function stub = parse(print(launch_stub(fn)));
  EXPECT_EQ(stub.shared_bytes(), 0u);
  EXPECT_EQ(stub.body.ops.size(), 1u);
}

}  // namespace
}  // namespace tilejit::ir
