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
  // Every op records its location: the shortened file name is computed when the file changes
  // rather than once per op.
  thread_local std::string last_file, last_short;
  if (last_file != loc.file_name()) {
    std::string s = format_location(loc);
    last_short = s.substr(0, s.rfind(':'));
    last_file = loc.file_name();
  }
  return {last_short, loc.line()};
}

size_t Trace::KeyHash::operator()(const Key& k) const {
  uint64_t h = 0x9E3779B97F4A7C15ull;
  auto mix = [&](uint64_t v) { h = (h ^ v) * 0x100000001B3ull; };
  mix(uint64_t(std::get<0>(k)));
  mix(uint64_t(std::get<1>(k)) << 16 | uint64_t(std::get<2>(k)) << 8 | uint64_t(std::get<3>(k)));
  mix(uint64_t(std::get<4>(k)));
  for (ir::ValueId v : std::get<5>(k)) mix(uint64_t(v));
  mix(~uint64_t(0));
  for (int64_t a : std::get<6>(k)) mix(uint64_t(a));
  return size_t(h ^ (h >> 29));
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
