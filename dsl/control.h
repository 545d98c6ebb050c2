// Staged control flow (for_range, if_) and mutable variables (Var).
#pragma once
#include <functional>

#include "dsl/value.h"

namespace tilejit::dsl {

/// Records a loop `for (i = lo; i < hi; i += step) body(i)` (signed i32 or i64).
/// Plain C++ loops in a kernel body unroll at trace time instead.
void for_range(const Arg& lo, const Arg& hi, const Arg& step, const std::function<void(Value)>& body,
               const SrcLoc& loc = SrcLoc::current());
/// for_range with step 1.
void for_range(const Arg& lo, const Arg& hi, const std::function<void(Value)>& body,
               const SrcLoc& loc = SrcLoc::current());

/// Records `if (cond) then_body() else else_body()`; cond must be a bool (i1).
void if_(const Arg& cond, const std::function<void()>& then_body,
         const std::function<void()>& else_body = {}, const SrcLoc& loc = SrcLoc::current());

namespace detail {
Value var_new(const Value& init, const SrcLoc& loc);
Value var_get(const Value& slot, const SrcLoc& loc);
void var_set(const Value& slot, const Value& v, const SrcLoc& loc);
}  // namespace detail

/// A mutable variable: reads and writes inside for_range/if_ bodies are seen
/// after them. T is the element type (Var<float>) or void for a dynamically
/// typed variable whose type is the initial value's.
template <class T = void>
class Var {
 public:
  Var(const Arg& init, const SrcLoc& loc = SrcLoc::current())
      : slot_(detail::var_new(initial(init), loc)) {}
  Var(const Value& init, const SrcLoc& loc = SrcLoc::current()) : Var(Arg(init, loc), loc) {}
  Var(const Expr& init, const SrcLoc& loc = SrcLoc::current()) : Var(Arg(init, loc), loc) {}
  template <class N, std::enable_if_t<std::is_arithmetic_v<N>, int> = 0>
  Var(N init, const SrcLoc& loc = SrcLoc::current()) : Var(Arg(init, loc), loc) {}
  Var(const Var&) = delete;

  /// The current value.
  Value get(const SrcLoc& loc = SrcLoc::current()) const { return detail::var_get(slot_, loc); }
  operator Value() const { return get(); }
  const ir::Type& type() const { return held_; }

  Var& operator=(const Arg& v) {
    detail::var_set(slot_, v.as(held_), v.loc());
    return *this;
  }
  Var& operator=(const Var& other) { return *this = Arg(other.get(), SrcLoc::current()); }
  Var& operator=(const Value& v) { return *this = Arg(v, v.loc()); }
  Var& operator=(const Expr& e) {
    Value v = e.value();
    return *this = Arg(v, v.loc());
  }
  template <class N, std::enable_if_t<std::is_arithmetic_v<N>, int> = 0>
  Var& operator=(N v) { return *this = Arg(v, SrcLoc::current()); }
  Var& operator+=(const Arg& v) { return *this = Arg(Value(Arg(get(v.loc()), v.loc()) + v), v.loc()); }
  Var& operator-=(const Arg& v) { return *this = Arg(Value(Arg(get(v.loc()), v.loc()) - v), v.loc()); }
  Var& operator*=(const Arg& v) { return *this = Arg(Value(Arg(get(v.loc()), v.loc()) * v), v.loc()); }

 private:
  Value initial(const Arg& init) {
    if constexpr (std::is_void_v<T>) {
      Value v = init.value();
      held_ = v.type();
      return v;
    } else {
      held_ = ir::Type::scalar(scalar_of<T>());
      return init.as(held_);
    }
  }
  ir::Type held_;
  Value slot_;
};

}  // namespace tilejit::dsl
