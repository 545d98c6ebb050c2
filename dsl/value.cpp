// Value handles, operand unification and the arithmetic operators.
#include "dsl/value.h"

#include <fmt/format.h>

namespace tilejit::dsl {

using ir::OpCode;
using ir::Type;

// ---- Value

Value::Value(ir::ValueId id, ir::Type type, const SrcLoc& loc) : id_(id), type_(type), loc_(loc) {
  if (Trace::active()) {
    bound_ = true;
    scope_ = Trace::current().serial();
  }
}

Value::Value(const Value& other) : id_(other.id_), type_(other.type_), loc_(other.loc_) {
  if (Trace::active()) {
    bound_ = true;
    scope_ = Trace::current().serial();
  }
}

Value& Value::operator=(const Value& other) {
  if (this == &other) return *this;
  if (Trace::active() && bound_ && scope_ != Trace::current().serial())
    detail::type_error(
        "assignment to a value declared outside the for_range/if_ body being traced; the "
        "assignment would not be seen after the body: declare it as a Var",
        other.loc_);
  id_ = other.id_;
  type_ = other.type_;
  loc_ = other.loc_;
  return *this;
}

// ---- Arg / Expr

Arg::Arg(const Expr& e, const SrcLoc& loc) : loc_(loc) {
  if (e.is_product()) v_ = Product{e.a(), e.b()};
  else v_ = e.value();
}

std::optional<ir::Type> Arg::type() const {
  if (auto* v = std::get_if<Value>(&v_)) return v->type();
  if (auto* p = std::get_if<Product>(&v_)) return p->a.type();
  return std::nullopt;
}

namespace {
Value make_const(const Type& t, int64_t bits, const SrcLoc& loc) {
  return detail::emit(OpCode::Const, t, {}, {bits}, loc);
}

Value literal_as(const Type& hint, const Arg& arg, double d, std::optional<int64_t> i,
                 std::optional<bool> b, const SrcLoc& loc) {
  Type elem = hint.is_pointer() || hint.is_slot() ? Type::scalar(hint.elem) : hint.element();
  if (!hint.is_value())
    detail::type_error("a literal cannot stand for a value of type " + ir::to_string(hint), loc);
  int64_t bits;
  if (b) {
    if (elem.elem != ir::Scalar::I1)
      detail::type_error("a bool literal cannot be used as " + ir::to_string(elem), loc);
    bits = *b;
  } else if (elem.is_float()) {
    bits = ir::const_bits_of_double(elem, i ? double(*i) : d);
  } else if (elem.elem == ir::Scalar::I1) {
    detail::type_error("a numeric literal cannot be used as a bool (i1); use true/false", loc);
  } else {
    if (!i) detail::type_error(fmt::format("the floating-point literal {} cannot be used as {}", d,
                                           ir::to_string(elem)), loc);
    int bits_n = ir::scalar_bits(elem.elem);
    bits = bits_n == 64 ? *i : (int64_t(uint64_t(*i) << (64 - bits_n)) >> (64 - bits_n));
    if (bits != *i && int64_t(uint64_t(*i) & ((uint64_t(1) << bits_n) - 1)) != *i)
      detail::type_error(fmt::format("the literal {} does not fit in {}", *i, ir::to_string(elem)), loc);
  }
  Value c = make_const(elem, bits, loc);
  if (hint.is_vector()) return detail::emit(OpCode::Splat, hint, {c}, {}, loc);
  return c;
}
}  // namespace

Value Arg::as(const ir::Type& hint) const {
  if (auto* d = std::get_if<double>(&v_)) return literal_as(hint, *this, *d, std::nullopt, std::nullopt, loc_);
  if (auto* i = std::get_if<int64_t>(&v_)) return literal_as(hint, *this, 0, *i, std::nullopt, loc_);
  if (auto* b = std::get_if<Bool>(&v_)) return literal_as(hint, *this, 0, std::nullopt, b->value, loc_);
  Value v = value();
  if (v.type() != hint) {
    if (hint.is_vector() && v.type() == hint.element())
      return detail::emit(OpCode::Splat, hint, {v}, {}, loc_);
    detail::type_error("expected a value of type " + ir::to_string(hint) + ", got " +
                           ir::to_string(v.type()), loc_);
  }
  return v;
}

Value Arg::value() const {
  if (auto* v = std::get_if<Value>(&v_)) {
    if (!v->valid()) detail::type_error("use of an uninitialised Value", loc_);
    return *v;
  }
  if (auto* p = std::get_if<Product>(&v_)) return Expr(p->a, p->b, loc_).value();
  if (std::holds_alternative<double>(v_)) return as(Type::scalar(ir::Scalar::F32));
  if (std::holds_alternative<int64_t>(v_)) return as(Type::scalar(ir::Scalar::I32));
  return as(Type::scalar(ir::Scalar::I1));
}

Value Expr::value() const {
  if (!product_) return v_;
  return detail::emit(a_.type().is_float() ? OpCode::FMul : OpCode::Mul, a_.type(), {a_, b_}, {}, loc_);
}

// ---- detail

namespace detail {

[[noreturn]] void type_error(const std::string& message, const SrcLoc& loc) {
  throw UserError(message, loc);
}

Value emit(OpCode code, Type result, std::vector<Value> operands, std::vector<int64_t> attrs,
           const SrcLoc& loc) {
  Trace& t = Trace::current(loc);
  std::vector<ir::ValueId> ids;
  ids.reserve(operands.size());
  for (const Value& v : operands) {
    if (!v.valid()) type_error(fmt::format("'{}' got an uninitialised Value", ir::op_info(code).name), loc);
    ids.push_back(v.id());
  }
  ir::ValueId id = t.emit(code, result, std::move(ids), std::move(attrs), loc);
  return Value(id, result, loc);
}

std::pair<Value, Value> unify(const Arg& a, const Arg& b, const char* what) {
  auto ta = a.type(), tb = b.type();
  if (!ta && !tb) return {a.value(), b.as(a.value().type())};
  if (!ta) return {a.as(*tb), b.value()};
  if (!tb) return {a.value(), b.as(*ta)};
  Value va = a.value(), vb = b.value();
  if (va.type() == vb.type()) return {va, vb};
  if (va.type().is_vector() && vb.type() == va.type().element())
    return {va, emit(OpCode::Splat, va.type(), {vb}, {}, b.loc())};
  if (vb.type().is_vector() && va.type() == vb.type().element())
    return {emit(OpCode::Splat, vb.type(), {va}, {}, a.loc()), vb};
  type_error(fmt::format("operands of '{}' have different types: {} and {} (convert one with cast<T>())",
                         what, ir::to_string(va.type()), ir::to_string(vb.type())), a.loc());
}

}  // namespace detail

// ---- operators

namespace {
using detail::type_error;

Value binary(const Arg& a, const Arg& b, const char* what, OpCode int_op, OpCode float_op) {
  auto [x, y] = detail::unify(a, b, what);
  const Type& t = x.type();
  if (!t.is_value()) type_error(fmt::format("'{}' needs numbers, got {}", what, ir::to_string(t)), a.loc());
  OpCode code = t.is_float() ? float_op : int_op;
  if (code == OpCode::Count_)
    type_error(fmt::format("'{}' is not defined for {}", what, ir::to_string(t)), a.loc());
  return detail::emit(code, t, {x, y}, {}, a.loc());
}

Value int_only(const Arg& a, const Arg& b, const char* what, OpCode op) {
  return binary(a, b, what, op, OpCode::Count_);
}

Expr add_or_sub(const Arg& a, const Arg& b, bool sub) {
  const char* what = sub ? "-" : "+";
  // Pointer arithmetic: p + i moves by i elements.
  if (a.type() && a.type()->is_pointer()) {
    Value off = sub ? Value(-b) : b.value();
    return ptr_offset(a.value(), Arg(off, b.loc()), a.loc());
  }
  // A pending float product fuses into an fma (one rounding).
  auto fused = [&](const Arg& p, const Arg& other, bool negate_other, bool negate_product) -> std::optional<Expr> {
    if (!p.is_product() || !p.product().a.type().is_float()) return std::nullopt;
    Value x = p.product().a, y = p.product().b;
    Value c = other.as(x.type());
    if (negate_other) c = detail::emit(OpCode::FNeg, c.type(), {c}, {}, other.loc());
    if (negate_product) x = detail::emit(OpCode::FNeg, x.type(), {x}, {}, p.loc());
    return Expr(detail::emit(OpCode::Fma, x.type(), {x, y, c}, {}, p.loc()));
  };
  if (auto e = fused(a, b, sub, false)) return *e;
  if (auto e = fused(b, a, false, sub)) return *e;
  return binary(a, b, what, sub ? OpCode::Sub : OpCode::Add, sub ? OpCode::FSub : OpCode::FAdd);
}

Expr compare(const Arg& a, const Arg& b, const char* what, ir::CmpPred ip, ir::CmpPred fp) {
  auto [x, y] = detail::unify(a, b, what);
  const Type& t = x.type();
  if (!t.is_value()) type_error(fmt::format("'{}' needs numbers, got {}", what, ir::to_string(t)), a.loc());
  Type result = t.is_vector() ? Type::vector(ir::Scalar::I1, t.width) : Type::scalar(ir::Scalar::I1);
  bool f = t.is_float();
  return detail::emit(f ? OpCode::FCmp : OpCode::ICmp, result, {x, y}, {int64_t(f ? fp : ip)}, a.loc());
}
}  // namespace

Expr operator+(const Arg& a, const Arg& b) { return add_or_sub(a, b, false); }
Expr operator-(const Arg& a, const Arg& b) { return add_or_sub(a, b, true); }

Expr operator*(const Arg& a, const Arg& b) {
  auto [x, y] = detail::unify(a, b, "*");
  if (!x.type().is_value() || x.type().is_bool())
    type_error("'*' needs numbers, got " + ir::to_string(x.type()), a.loc());
  return Expr(x, y, a.loc());
}

Expr operator/(const Arg& a, const Arg& b) { return binary(a, b, "/", OpCode::SDiv, OpCode::FDiv); }
Expr operator%(const Arg& a, const Arg& b) { return int_only(a, b, "%", OpCode::SRem); }
Expr operator&(const Arg& a, const Arg& b) { return int_only(a, b, "&", OpCode::And); }
Expr operator|(const Arg& a, const Arg& b) { return int_only(a, b, "|", OpCode::Or); }
Expr operator^(const Arg& a, const Arg& b) { return int_only(a, b, "^", OpCode::Xor); }
Expr operator<<(const Arg& a, const Arg& b) { return int_only(a, b, "<<", OpCode::Shl); }
Expr operator>>(const Arg& a, const Arg& b) { return int_only(a, b, ">>", OpCode::AShr); }

Expr operator-(const Arg& a) {
  Value v = a.value();
  if (v.type().is_float()) return detail::emit(OpCode::FNeg, v.type(), {v}, {}, a.loc());
  return binary(Arg(0, a.loc()), Arg(v, a.loc()), "-", OpCode::Sub, OpCode::FSub);
}

Expr operator~(const Arg& a) {
  Value v = a.value();
  if (!v.type().is_int()) type_error("'~' needs an integer, got " + ir::to_string(v.type()), a.loc());
  return int_only(Arg(v, a.loc()), Arg(v.type().is_bool() ? Arg(true, a.loc()) : Arg(-1, a.loc())), "~",
                  OpCode::Xor);
}

using P = ir::CmpPred;
Expr operator<(const Arg& a, const Arg& b) { return compare(a, b, "<", P::Slt, P::Olt); }
Expr operator<=(const Arg& a, const Arg& b) { return compare(a, b, "<=", P::Sle, P::Ole); }
Expr operator>(const Arg& a, const Arg& b) { return compare(a, b, ">", P::Sgt, P::Ogt); }
Expr operator>=(const Arg& a, const Arg& b) { return compare(a, b, ">=", P::Sge, P::Oge); }
Expr operator==(const Arg& a, const Arg& b) { return compare(a, b, "==", P::Eq, P::Oeq); }
Expr operator!=(const Arg& a, const Arg& b) { return compare(a, b, "!=", P::Ne, P::Une); }

// ---- memory primitives used by Ptr / ElemRef

Value ptr_offset(const Value& p, const Arg& index, const SrcLoc& loc) {
  if (!p.type().is_pointer()) type_error("expected a pointer, got " + ir::to_string(p.type()), loc);
  Value i = index.type() ? index.value() : index.as(Type::scalar(ir::Scalar::I32));
  if (!i.type().is_scalar() || !(i.type().elem == ir::Scalar::I32 || i.type().elem == ir::Scalar::I64))
    type_error("a pointer offset must be i32 or i64, got " + ir::to_string(i.type()), loc);
  return detail::emit(OpCode::PtrAdd, p.type(), {p, i}, {}, loc);
}

Value load_value(const Value& p, int width, const SrcLoc& loc, ir::CachePolicy policy) {
  if (!p.type().is_pointer()) type_error("load needs a pointer, got " + ir::to_string(p.type()), loc);
  if (width < 1 || width > 64 || (width & (width - 1)))
    type_error(fmt::format("load width must be a power of two in [1, 64], got {}", width), loc);
  Type t = width == 1 ? p.type().element() : Type::vector(p.type().elem, width);
  if (t.size_bytes() > 16) type_error(fmt::format("a load moves at most 16 bytes, {} asks for {}", ir::to_string(t), t.size_bytes()), loc);
  if (policy == ir::CachePolicy::Normal) return detail::emit(OpCode::Load, t, {p}, {}, loc);
  if (p.type().space != ir::AddrSpace::Global)
    type_error("the stream cache policy is for global loads, got " + ir::to_string(p.type()), loc);
  return detail::emit(OpCode::Load, t, {p}, {int64_t(policy)}, loc);
}

void store_value(const Value& p, const Value& v, const SrcLoc& loc) {
  if (!p.type().is_pointer()) type_error("store needs a pointer, got " + ir::to_string(p.type()), loc);
  if (!v.type().is_value() || v.type().elem != p.type().elem)
    type_error("cannot store " + ir::to_string(v.type()) + " through " + ir::to_string(p.type()), loc);
  if (v.type().size_bytes() > 16) type_error("a store moves at most 16 bytes", loc);
  detail::emit(OpCode::Store, Type::void_(), {p, v}, {}, loc);
}

}  // namespace tilejit::dsl
