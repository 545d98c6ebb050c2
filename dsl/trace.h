// The tracing context: the function being recorded, its open regions, value numbering.
#pragma once
#include <unordered_map>
#include <memory>
#include <source_location>
#include <string>
#include <tuple>
#include <vector>

#include "dsl/error.h"
#include "dsl/ir/builder.h"
#include "dsl/target.h"

namespace tilejit::dsl {

/// State of one kernel trace. A trace runs on one thread; nested traces are not allowed.
class Trace {
 public:
  Trace(std::string kernel_name, Target target);
  ~Trace();
  Trace(const Trace&) = delete;
  Trace& operator=(const Trace&) = delete;

  /// The trace running on this thread; throws UserError when called outside a kernel body.
  static Trace& current(const std::source_location& loc = std::source_location::current());
  static bool active();

  ir::Function& function() { return fn_; }
  const TargetInfo& target() const { return target_info(target_); }
  ir::Builder& builder() { return builder_; }

  /// Emits an op; pure ops with identical operands and attributes are numbered
  /// once per visible region (hash-consing gives CSE and short dumps).
  ir::ValueId emit(ir::OpCode code, ir::Type result, std::vector<ir::ValueId> operands,
                   std::vector<int64_t> attrs, const std::source_location& loc);
  /// Emits an op that owns regions and returns it (see ir::Builder::emit_with_regions).
  ir::Op& emit_with_regions(ir::OpCode code, std::vector<ir::ValueId> operands,
                            const std::source_location& loc);

  /// Enters a region of the op just emitted; `serial()` identifies it.
  void enter(ir::Region& region);
  void leave();
  /// A number unique to the innermost open region (0 = the kernel body).
  uint64_t serial() const { return scopes_.back().serial; }
  int depth() const { return int(scopes_.size()) - 1; }

  ir::Type type_of(ir::ValueId v) const { return fn_.type_of(v); }

 private:
  using Key = std::tuple<ir::OpCode, ir::Type::Kind, ir::Scalar, uint8_t, ir::AddrSpace,
                         std::vector<ir::ValueId>, std::vector<int64_t>>;
  struct KeyHash {
    size_t operator()(const Key& k) const;
  };
  struct Scope {
    uint64_t serial;
    std::unordered_map<Key, ir::ValueId, KeyHash> numbered;
  };
  ir::Function fn_;
  Target target_;
  ir::Builder builder_;
  std::vector<Scope> scopes_;
  uint64_t next_serial_ = 1;
  Trace* previous_;
};

/// The IR source location for a user's std::source_location (path shortened).
ir::SourceLoc to_ir_loc(const std::source_location& loc);

}  // namespace tilejit::dsl
