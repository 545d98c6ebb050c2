// Appends ops to a Function, keeping a stack of open regions (for/if bodies).
#pragma once
#include <vector>

#include "dsl/ir/ir.h"

namespace tilejit::ir {

class Builder {
 public:
  explicit Builder(Function& fn) : fn_(fn) { stack_.push_back(&fn.body); }

  Function& function() { return fn_; }
  Region& current() { return *stack_.back(); }
  size_t depth() const { return stack_.size(); }

  /// Appends an op; returns its result (kNoValue when `result` is void).
  ValueId emit(OpCode code, Type result, std::vector<ValueId> operands = {},
               std::vector<int64_t> attrs = {}, SourceLoc loc = {});
  /// Appends an op with `regions` empty regions and returns it. The reference
  /// stays valid until another op is appended to the same region.
  Op& emit_with_regions(OpCode code, std::vector<ValueId> operands, SourceLoc loc = {});

  void push(Region& r) { stack_.push_back(&r); }
  void pop() { stack_.pop_back(); }

  // Convenience constructors used by tests and the front end.
  ValueId const_int(Type t, int64_t v) { return emit(OpCode::Const, t, {}, {v}); }
  ValueId const_float(Type t, double v) {
    return emit(OpCode::Const, t, {}, {const_bits_of_double(t, v)});
  }

 private:
  Function& fn_;
  std::vector<Region*> stack_;
};

}  // namespace tilejit::ir
