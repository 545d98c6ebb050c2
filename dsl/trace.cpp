// Trace context implementation.
#include "dsl/trace.h"

namespace tilejit::dsl {

namespace {
thread_local Trace* g_current = nullptr;
}

Trace::Trace(std::string kernel_name, Target target)
    : target_(target), builder_(fn_), previous_(g_current) {
  if (g_current) throw UserError("a kernel cannot be traced while another kernel is being traced");
  fn_.name = std::move(kernel_name);
  scopes_.push_back({0, {}});
  g_current = this;
}

Trace::~Trace() { g_current = previous_; }

Trace& Trace::current(const std::source_location& loc) {
  if (!g_current)
    throw UserError("DSL operations are only valid inside a kernel body while it is traced", loc);
  return *g_current;
}

bool Trace::active() { return g_current != nullptr; }

ir::SourceLoc to_ir_loc(const std::source_location& loc) {
  std::string s = format_location(loc);
  auto colon = s.rfind(':');
  return {s.substr(0, colon), loc.line()};
}

ir::ValueId Trace::emit(ir::OpCode code, ir::Type result, std::vector<ir::ValueId> operands,
                        std::vector<int64_t> attrs, const std::source_location& loc) {
  bool pure = ir::op_info(code).kind == ir::OpKind::Pure && code != ir::OpCode::Param;
  if (!pure) return builder_.emit(code, result, std::move(operands), std::move(attrs), to_ir_loc(loc));
  Key key{code, result.kind, result.elem, result.width, result.space, operands, attrs};
  for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
    auto found = it->numbered.find(key);
    if (found != it->numbered.end()) return found->second;
  }
  ir::ValueId v = builder_.emit(code, result, std::move(operands), std::move(attrs), to_ir_loc(loc));
  scopes_.back().numbered.emplace(std::move(key), v);
  return v;
}

ir::Op& Trace::emit_with_regions(ir::OpCode code, std::vector<ir::ValueId> operands,
                                 const std::source_location& loc) {
  return builder_.emit_with_regions(code, std::move(operands), to_ir_loc(loc));
}

void Trace::enter(ir::Region& region) {
  builder_.push(region);
  scopes_.push_back({next_serial_++, {}});
}

void Trace::leave() {
  builder_.pop();
  scopes_.pop_back();
}

}  // namespace tilejit::dsl
