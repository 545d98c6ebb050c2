// Traced values: dynamically typed handles to IR values, their static-typed
// wrappers, literals, and the operators that record arithmetic.
#pragma once
#include <cstdint>
#include <source_location>
#include <type_traits>
#include <variant>

#include "dsl/trace.h"

namespace tilejit::dsl {

using SrcLoc = std::source_location;

/// Tag types for the 16-bit float formats in kernel signatures (Ptr<bf16>).
struct bf16 {};
struct f16 {};

/// The IR scalar type of a C++ element type.
template <class T>
constexpr ir::Scalar scalar_of() {
  if constexpr (std::is_same_v<T, bool>) return ir::Scalar::I1;
  else if constexpr (std::is_same_v<T, float>) return ir::Scalar::F32;
  else if constexpr (std::is_same_v<T, double>) return ir::Scalar::F64;
  else if constexpr (std::is_same_v<T, bf16>) return ir::Scalar::BF16;
  else if constexpr (std::is_same_v<T, f16>) return ir::Scalar::F16;
  else if constexpr (std::is_integral_v<T> && sizeof(T) == 1) return ir::Scalar::I8;
  else if constexpr (std::is_integral_v<T> && sizeof(T) == 2) return ir::Scalar::I16;
  else if constexpr (std::is_integral_v<T> && sizeof(T) == 4) return ir::Scalar::I32;
  else if constexpr (std::is_integral_v<T> && sizeof(T) == 8) return ir::Scalar::I64;
  else static_assert(sizeof(T) == 0, "unsupported element type");
}

/// A handle to one traced IR value. Copying a Value copies the handle.
/// Assigning to a Value that was declared outside the for_range/if_ body being
/// traced is an error (the assignment would not be visible to the loop): use Var.
class Value {
 public:
  Value() = default;
  Value(ir::ValueId id, ir::Type type, const SrcLoc& loc = SrcLoc::current());
  Value(const Value& other);
  Value& operator=(const Value& other);

  bool valid() const { return id_ != ir::kNoValue; }
  ir::ValueId id() const { return id_; }
  const ir::Type& type() const { return type_; }
  /// Where the value was created (for error messages).
  const SrcLoc& loc() const { return loc_; }

 private:
  ir::ValueId id_ = ir::kNoValue;
  ir::Type type_;
  SrcLoc loc_;
  uint64_t scope_ = 0;
  bool bound_ = false;
};

class Expr;
template <class T> class Var;
enum class Space;
template <class T, Space S> class ElemRef;

/// An operand as the user wrote it: a value, a C++ literal (typed by the other
/// operand), or a pending product (a * b, which becomes an fma when added).
/// Its implicit constructors capture the user's source line.
class Arg {
 public:
  Arg(const Value& v, const SrcLoc& loc = SrcLoc::current()) : v_(v), loc_(loc) {}
  Arg(const Expr& e, const SrcLoc& loc = SrcLoc::current());
  template <class T>
  Arg(const Var<T>& var, const SrcLoc& loc = SrcLoc::current()) : v_(var.get(loc)), loc_(loc) {}
  template <class T, Space S>
  Arg(const ElemRef<T, S>& ref, const SrcLoc& loc = SrcLoc::current()) : v_(Value(ref)), loc_(loc) {}
  template <class N, std::enable_if_t<std::is_arithmetic_v<N>, int> = 0>
  Arg(N literal, const SrcLoc& loc = SrcLoc::current()) : loc_(loc) {
    if constexpr (std::is_floating_point_v<N>) v_ = double(literal);
    else if constexpr (std::is_same_v<N, bool>) v_ = Bool{literal};
    else v_ = int64_t(literal);
  }

  struct Bool { bool value; };
  struct Product { Value a, b; };

  const SrcLoc& loc() const { return loc_; }
  bool is_literal() const { return std::holds_alternative<double>(v_) || std::holds_alternative<int64_t>(v_) || std::holds_alternative<Bool>(v_); }
  bool is_product() const { return std::holds_alternative<Product>(v_); }
  const Product& product() const { return std::get<Product>(v_); }
  /// The operand's type when it has one (literals have none until paired).
  std::optional<ir::Type> type() const;
  /// Materialises the operand as a value of `hint` (used for literals; a value
  /// of another type is a located UserError).
  Value as(const ir::Type& hint) const;
  /// Materialises the operand with its own type (literals: i32, f32 or i1).
  Value value() const;

 private:
  std::variant<Value, double, int64_t, Bool, Product> v_;
  SrcLoc loc_;
};

/// The result of an operator: a value, or a pending product that is fused into
/// an fma when it is added to or subtracted from something.
class Expr {
 public:
  Expr(Value v) : v_(std::move(v)) {}
  Expr(Value a, Value b, const SrcLoc& loc) : a_(std::move(a)), b_(std::move(b)), loc_(loc), product_(true) {}
  bool is_product() const { return product_; }
  const Value& a() const { return a_; }
  const Value& b() const { return b_; }
  /// Materialises (a pending product becomes a mul/fmul at the product's location).
  Value value() const;
  operator Value() const { return value(); }
  const ir::Type& type() const { return product_ ? a_.type() : v_.type(); }

 private:
  Value v_, a_, b_;
  SrcLoc loc_;
  bool product_ = false;
};

/// A statically typed value; constructing one from a value of another type is
/// a located UserError at trace time.
template <class T>
class Val : public Value {
 public:
  Val() = default;
  Val(const Value& v, const SrcLoc& loc = SrcLoc::current()) : Value(checked(v, loc)) {}
  Val(const Expr& e, const SrcLoc& loc = SrcLoc::current()) : Val(e.value(), loc) {}
  template <class N, std::enable_if_t<std::is_arithmetic_v<N>, int> = 0>
  Val(N literal, const SrcLoc& loc = SrcLoc::current())
      : Value(Arg(literal, loc).as(ir::Type::scalar(scalar_of<T>()))) {}
  static ir::Type ir_type() { return ir::Type::scalar(scalar_of<T>()); }

 private:
  static Value checked(const Value& v, const SrcLoc& loc);
};

using Int = Val<int32_t>;
using Long = Val<int64_t>;
using Float = Val<float>;
using Bool = Val<bool>;
using BF16 = Val<bf16>;

enum class Space { Global, Shared };


template <class T, Space S> class Ptr;

/// An element reference `p[i]`: reads load, assignment stores.
template <class T, Space S>
class ElemRef {
 public:
  ElemRef(Value addr, const SrcLoc& loc) : addr_(std::move(addr)), loc_(loc) {}
  operator Value() const;
  operator Val<T>() const { return Val<T>(Value(*this), loc_); }
  const ElemRef& operator=(const Arg& v) const;
  const ElemRef& operator=(const ElemRef& other) const { return *this = Arg(Value(other), other.loc_); }

 private:
  Value addr_;
  SrcLoc loc_;
};

/// A pointer to elements of T in global or shared memory.
template <class T, Space S = Space::Global>
class Ptr : public Value {
 public:
  Ptr() = default;
  Ptr(const Value& v, const SrcLoc& loc = SrcLoc::current()) : Value(checked(v, loc)) {}
  Ptr(const Expr& e, const SrcLoc& loc = SrcLoc::current()) : Ptr(e.value(), loc) {}
  static ir::Type ir_type() {
    return ir::Type::pointer(scalar_of<T>(), S == Space::Shared ? ir::AddrSpace::Shared : ir::AddrSpace::Global);
  }
  ElemRef<T, S> operator[](const Arg& index) const;

 private:
  static Value checked(const Value& v, const SrcLoc& loc);
};

template <class T> using SharedPtr = Ptr<T, Space::Shared>;

// ---- operators (each records one op; operands must have equal types, a
// scalar paired with a vector is splatted, a literal takes the other's type)
Expr operator+(const Arg& a, const Arg& b);
Expr operator-(const Arg& a, const Arg& b);
Expr operator*(const Arg& a, const Arg& b);
Expr operator/(const Arg& a, const Arg& b);
Expr operator%(const Arg& a, const Arg& b);
Expr operator&(const Arg& a, const Arg& b);
Expr operator|(const Arg& a, const Arg& b);
Expr operator^(const Arg& a, const Arg& b);
Expr operator<<(const Arg& a, const Arg& b);
Expr operator>>(const Arg& a, const Arg& b);  // arithmetic shift; lshr() for logical
Expr operator-(const Arg& a);
Expr operator~(const Arg& a);
Expr operator<(const Arg& a, const Arg& b);   // signed for integers, ordered for floats
Expr operator<=(const Arg& a, const Arg& b);
Expr operator>(const Arg& a, const Arg& b);
Expr operator>=(const Arg& a, const Arg& b);
Expr operator==(const Arg& a, const Arg& b);
Expr operator!=(const Arg& a, const Arg& b);  // unordered for floats (true on NaN)

// ---- helpers used by the other DSL headers
namespace detail {
/// Pairs two operands to one type (literal adoption, scalar-to-vector splat).
std::pair<Value, Value> unify(const Arg& a, const Arg& b, const char* what);
Value emit(ir::OpCode code, ir::Type result, std::vector<Value> operands, std::vector<int64_t> attrs,
           const SrcLoc& loc);
[[noreturn]] void type_error(const std::string& message, const SrcLoc& loc);
}  // namespace detail

// ---- template definitions
template <class T>
Value Val<T>::checked(const Value& v, const SrcLoc& loc) {
  if (v.valid() && v.type() != ir_type())
    detail::type_error("expected a value of type " + ir::to_string(ir_type()) + ", got " +
                           ir::to_string(v.type()), loc);
  return v;
}

template <class T, Space S>
Value Ptr<T, S>::checked(const Value& v, const SrcLoc& loc) {
  if (v.valid() && v.type() != ir_type())
    detail::type_error("expected a pointer of type " + ir::to_string(ir_type()) + ", got " +
                           ir::to_string(v.type()), loc);
  return v;
}

Value ptr_offset(const Value& p, const Arg& index, const SrcLoc& loc);
Value load_value(const Value& p, int width, const SrcLoc& loc, ir::CachePolicy policy = ir::CachePolicy::Normal);
void store_value(const Value& p, const Value& v, const SrcLoc& loc);

template <class T, Space S>
ElemRef<T, S> Ptr<T, S>::operator[](const Arg& index) const {
  return ElemRef<T, S>(ptr_offset(*this, index, index.loc()), index.loc());
}

template <class T, Space S>
ElemRef<T, S>::operator Value() const { return load_value(addr_, 1, loc_); }

template <class T, Space S>
const ElemRef<T, S>& ElemRef<T, S>::operator=(const Arg& v) const {
  store_value(addr_, v.as(addr_.type().element()), v.loc());
  return *this;
}

}  // namespace tilejit::dsl
