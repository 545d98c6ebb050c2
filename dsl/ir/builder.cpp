// Op emission into the innermost open region.
#include "dsl/ir/builder.h"

namespace tilejit::ir {

ValueId Builder::emit(OpCode code, Type result, std::vector<ValueId> operands,
                      std::vector<int64_t> attrs, SourceLoc loc) {
  Op op;
  op.code = code;
  op.result = result.is_void() ? kNoValue : fn_.new_value(result);
  op.operands = std::move(operands);
  op.attrs = std::move(attrs);
  op.loc = std::move(loc);
  current().ops.push_back(std::move(op));
  return current().ops.back().result;
}

Op& Builder::emit_with_regions(OpCode code, std::vector<ValueId> operands, SourceLoc loc) {
  Op op;
  op.code = code;
  op.operands = std::move(operands);
  op.regions.resize(size_t(op_info(code).regions));
  op.loc = std::move(loc);
  current().ops.push_back(std::move(op));
  return current().ops.back();
}

}  // namespace tilejit::ir
