// launch_stub(): a kernel's signature and shared-memory size without its body.
#include "dsl/ir/launch_stub.h"

#include <algorithm>

namespace tilejit::ir {

Function launch_stub(const Function& fn) {
  Function stub;
  stub.name = fn.name;
  stub.params = fn.params;
  std::copy(std::begin(fn.block_size), std::end(fn.block_size), stub.block_size);
  stub.min_blocks_per_sm = fn.min_blocks_per_sm;
  for (const Op& op : fn.body.ops) {
    if (op.code != OpCode::Param) continue;
    Op p = op;
    p.result = stub.new_value(fn.type_of(op.result));
    stub.body.ops.push_back(std::move(p));
  }
  if (uint64_t bytes = fn.shared_bytes()) {
    Op alloc;
    alloc.code = OpCode::SharedAlloc;
    alloc.result = stub.new_value(Type::pointer(Scalar::I8, AddrSpace::Shared));
    alloc.attrs = {int64_t(bytes)};
    stub.body.ops.push_back(std::move(alloc));
  }
  return stub;
}

}  // namespace tilejit::ir
