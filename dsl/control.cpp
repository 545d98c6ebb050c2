// for_range, if_ and variable slots.
#include "dsl/control.h"

#include <fmt/format.h>

namespace tilejit::dsl {

using ir::OpCode;

void for_range(const Arg& lo, const Arg& hi, const Arg& step, const std::function<void(Value)>& body,
               const SrcLoc& loc) {
  Trace& t = Trace::current(loc);
  Value l = lo.type() ? lo.value() : hi.type() ? lo.as(*hi.type()) : lo.as(ir::Type::scalar(ir::Scalar::I32));
  if (!l.type().is_scalar() || !(l.type().elem == ir::Scalar::I32 || l.type().elem == ir::Scalar::I64))
    detail::type_error("for_range bounds must be i32 or i64, got " + ir::to_string(l.type()), loc);
  Value h = hi.as(l.type()), s = step.as(l.type());
  ir::Op& op = t.emit_with_regions(OpCode::For, {l.id(), h.id(), s.id()}, loc);
  ir::Region& region = op.regions[0];
  ir::ValueId iv = t.function().new_value(l.type());
  region.args.push_back(iv);
  t.enter(region);
  try {
    body(Value(iv, l.type(), loc));
  } catch (...) {
    t.leave();
    throw;
  }
  t.leave();
}

void for_range(const Arg& lo, const Arg& hi, const std::function<void(Value)>& body, const SrcLoc& loc) {
  for_range(lo, hi, Arg(1, loc), body, loc);
}

void if_(const Arg& cond, const std::function<void()>& then_body, const std::function<void()>& else_body,
         const SrcLoc& loc) {
  Trace& t = Trace::current(loc);
  Value c = cond.type() ? cond.value() : cond.as(ir::Type::scalar(ir::Scalar::I1));
  if (c.type() != ir::Type::scalar(ir::Scalar::I1))
    detail::type_error("if_ needs a bool (i1) condition, got " + ir::to_string(c.type()) +
                           " (compare it, e.g. x != 0)", loc);
  ir::Op& op = t.emit_with_regions(OpCode::If, {c.id()}, loc);
  ir::Region* then_region = &op.regions[0];
  ir::Region* else_region = &op.regions[1];
  for (auto [region, body] : {std::pair{then_region, &then_body}, std::pair{else_region, &else_body}}) {
    if (!*body) continue;
    t.enter(*region);
    try {
      (*body)();
    } catch (...) {
      t.leave();
      throw;
    }
    t.leave();
  }
}

namespace detail {

Value var_new(const Value& init, const SrcLoc& loc) {
  if (!init.type().is_value()) type_error("a Var holds numbers or vectors, got " + ir::to_string(init.type()), loc);
  return emit(OpCode::VarNew, ir::Type::slot(init.type()), {init}, {}, loc);
}

Value var_get(const Value& slot, const SrcLoc& loc) {
  return emit(OpCode::VarGet, slot.type().held(), {slot}, {}, loc);
}

void var_set(const Value& slot, const Value& v, const SrcLoc& loc) {
  emit(OpCode::VarSet, ir::Type::void_(), {slot, v}, {}, loc);
}

}  // namespace detail
}  // namespace tilejit::dsl
