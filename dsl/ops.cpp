// DSL functions: ids, math, conversions, vectors, memory, atomics, barriers.
#include "dsl/ops.h"

#include <fmt/format.h>

namespace tilejit::dsl {

using ir::OpCode;
using ir::Scalar;
using ir::Type;
using detail::emit;
using detail::type_error;

namespace {
const Type kI32 = Type::scalar(Scalar::I32);

Value id_op(OpCode code, int dim, const SrcLoc& loc) {
  if (dim < 0 || dim > 2) type_error(fmt::format("dimension must be 0, 1 or 2, got {}", dim), loc);
  return emit(code, kI32, {}, {dim}, loc);
}

Value unary_float(OpCode code, const Arg& x, const char* what, const SrcLoc& loc) {
  Value v = x.type() ? x.value() : x.as(Type::scalar(Scalar::F32));
  if (!v.type().is_float()) type_error(fmt::format("{} needs a float, got {}", what, ir::to_string(v.type())), loc);
  return emit(code, v.type(), {v}, {}, loc);
}

Value pick(const Arg& a, const Arg& b, const char* what, OpCode int_op, OpCode float_op, const SrcLoc& loc) {
  auto [x, y] = detail::unify(a, b, what);
  if (!x.type().is_value()) type_error(fmt::format("{} needs numbers, got {}", what, ir::to_string(x.type())), loc);
  OpCode code = x.type().is_float() ? float_op : int_op;
  if (code == OpCode::Count_) type_error(fmt::format("{} is not defined for {}", what, ir::to_string(x.type())), loc);
  return emit(code, x.type(), {x, y}, {}, loc);
}

Value icompare(const Arg& a, const Arg& b, ir::CmpPred p, const char* what, const SrcLoc& loc) {
  auto [x, y] = detail::unify(a, b, what);
  if (!x.type().is_int()) type_error(fmt::format("{} needs integers, got {}", what, ir::to_string(x.type())), loc);
  Type r = x.type().is_vector() ? Type::vector(Scalar::I1, x.type().width) : Type::scalar(Scalar::I1);
  return emit(OpCode::ICmp, r, {x, y}, {int64_t(p)}, loc);
}

Value typed(const Arg& x, const SrcLoc& loc) {
  if (!x.type()) type_error("a literal has no type here; wrap it in a typed value (e.g. Int(3))", loc);
  return x.value();
}
}  // namespace

Value thread_id(int dim, const SrcLoc& loc) { return id_op(OpCode::ThreadId, dim, loc); }
Value block_id(int dim, const SrcLoc& loc) { return id_op(OpCode::BlockId, dim, loc); }
Value block_dim(int dim, const SrcLoc& loc) { return id_op(OpCode::BlockDim, dim, loc); }
Value grid_dim(int dim, const SrcLoc& loc) { return id_op(OpCode::GridDim, dim, loc); }
Value lane_id(const SrcLoc& loc) { return emit(OpCode::LaneId, kI32, {}, {}, loc); }
int wave_size() { return Trace::current().target().wave_size; }
const TargetInfo& target() { return Trace::current().target(); }

Value fma(const Arg& a, const Arg& b, const Arg& c, const SrcLoc& loc) {
  auto [x, y] = detail::unify(a, b, "fma");
  if (!x.type().is_float()) type_error("fma needs floats, got " + ir::to_string(x.type()), loc);
  Value z = c.as(x.type());
  return emit(OpCode::Fma, x.type(), {x, y, z}, {}, loc);
}
Value min(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "min", OpCode::SMin, OpCode::FMin, loc); }
Value max(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "max", OpCode::SMax, OpCode::FMax, loc); }
Value umin(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "umin", OpCode::UMin, OpCode::Count_, loc); }
Value umax(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "umax", OpCode::UMax, OpCode::Count_, loc); }
Value udiv(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "udiv", OpCode::UDiv, OpCode::Count_, loc); }
Value urem(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "urem", OpCode::URem, OpCode::Count_, loc); }
Value lshr(const Arg& a, const Arg& b, const SrcLoc& loc) { return pick(a, b, "lshr", OpCode::LShr, OpCode::Count_, loc); }

Value bit_select(const Arg& mask, const Arg& a, const Arg& b, const SrcLoc& loc) {
  auto [x, y] = detail::unify(a, b, "bit_select");
  if (!x.type().is_int()) type_error("bit_select needs integers, got " + ir::to_string(x.type()), loc);
  Value m = mask.as(x.type());
  return emit(OpCode::BitSelect, x.type(), {m, x, y}, {}, loc);
}

Value abs(const Arg& x, const SrcLoc& loc) {
  Value v = typed(x, loc);
  if (v.type().is_float()) return emit(OpCode::FAbs, v.type(), {v}, {}, loc);
  if (!v.type().is_int()) type_error("abs needs a number, got " + ir::to_string(v.type()), loc);
  return max(Arg(v, loc), Arg(Value(-Arg(v, loc)), loc), loc);
}
Value sqrt(const Arg& x, const SrcLoc& loc) { return unary_float(OpCode::Sqrt, x, "sqrt", loc); }
Value rsqrt(const Arg& x, const SrcLoc& loc) { return unary_float(OpCode::Rsqrt, x, "rsqrt", loc); }
Value exp2(const Arg& x, const SrcLoc& loc) { return unary_float(OpCode::Exp2, x, "exp2", loc); }
Value log2(const Arg& x, const SrcLoc& loc) { return unary_float(OpCode::Log2, x, "log2", loc); }

Value select(const Arg& cond, const Arg& a, const Arg& b, const SrcLoc& loc) {
  Value c = cond.type() ? cond.value() : cond.as(Type::scalar(Scalar::I1));
  auto [x, y] = detail::unify(a, b, "select");
  if (c.type().elem != Scalar::I1 || !c.type().is_value() || (c.type().is_vector() && c.type().width != x.type().width))
    type_error("select needs a bool condition (i1, or <N x i1> matching the values), got " + ir::to_string(c.type()), loc);
  return emit(OpCode::Select, x.type(), {c, x, y}, {}, loc);
}

Value ult(const Arg& a, const Arg& b, const SrcLoc& loc) { return icompare(a, b, ir::CmpPred::Ult, "ult", loc); }
Value uge(const Arg& a, const Arg& b, const SrcLoc& loc) { return icompare(a, b, ir::CmpPred::Uge, "uge", loc); }

Value cast(const Arg& x, Type to, const SrcLoc& loc) {
  Value v = typed(x, loc);
  const Type& from = v.type();
  if (!from.is_value() || !to.is_value() || from.width != to.width)
    type_error(fmt::format("cannot convert {} to {} (shapes differ or not numbers)", ir::to_string(from),
                           ir::to_string(to)), loc);
  if (from == to) return v;
  int fb = ir::scalar_bits(from.elem), tb = ir::scalar_bits(to.elem);
  OpCode code;
  if (from.is_int() && to.is_int()) {
    if (to.elem == Scalar::I1) return emit(OpCode::ICmp, to, {v, Arg(0, loc).as(from)}, {int64_t(ir::CmpPred::Ne)}, loc);
    code = tb > fb ? (from.elem == Scalar::I1 ? OpCode::ZExt : OpCode::SExt) : OpCode::Trunc;
  } else if (from.is_int()) {
    code = from.elem == Scalar::I1 ? OpCode::UIToFP : OpCode::SIToFP;
  } else if (to.is_int()) {
    if (to.elem == Scalar::I1) type_error("cannot convert a float to a bool; compare it instead", loc);
    code = OpCode::FPToSI;
  } else if (fb == tb) {  // bf16 <-> f16 through f32
    Type mid = from.width == 1 ? Type::scalar(Scalar::F32) : Type::vector(Scalar::F32, from.width);
    return cast(Arg(cast(Arg(v, loc), mid, loc), loc), to, loc);
  } else {
    code = tb > fb ? OpCode::FPExt : OpCode::FPTrunc;
  }
  return emit(code, to, {v}, {}, loc);
}

Value zext(const Arg& x, Type to, const SrcLoc& loc) {
  Value v = typed(x, loc);
  if (!v.type().is_int() || !to.is_int() || v.type().width != to.width ||
      ir::scalar_bits(to.elem) <= ir::scalar_bits(v.type().elem))
    type_error(fmt::format("zext needs a wider integer type: {} to {}", ir::to_string(v.type()), ir::to_string(to)), loc);
  return emit(OpCode::ZExt, to, {v}, {}, loc);
}

Value uitofp(const Arg& x, Type to, const SrcLoc& loc) {
  Value v = typed(x, loc);
  if (!v.type().is_int() || !to.is_float() || v.type().width != to.width)
    type_error(fmt::format("uitofp converts integers to floats: {} to {}", ir::to_string(v.type()), ir::to_string(to)), loc);
  return emit(OpCode::UIToFP, to, {v}, {}, loc);
}

Value bitcast(const Arg& x, Type to, const SrcLoc& loc) {
  Value v = typed(x, loc);
  if (!v.type().is_value() || !to.is_value() || v.type().size_bytes() != to.size_bytes() ||
      v.type().elem == Scalar::I1 || to.elem == Scalar::I1)
    type_error(fmt::format("bitcast needs types of the same size: {} ({} bytes) to {} ({} bytes)",
                           ir::to_string(v.type()), v.type().size_bytes(), ir::to_string(to), to.size_bytes()), loc);
  if (v.type() == to) return v;
  return emit(OpCode::Bitcast, to, {v}, {}, loc);
}

Value extract(const Arg& x, int index, const SrcLoc& loc) {
  Value v = typed(x, loc);
  if (!v.type().is_vector() || index < 0 || index >= v.type().width)
    type_error(fmt::format("extract index {} out of range for {}", index, ir::to_string(v.type())), loc);
  return emit(OpCode::Extract, v.type().element(), {v}, {index}, loc);
}

Value insert(const Arg& x, int index, const Arg& e, const SrcLoc& loc) {
  Value v = typed(x, loc);
  if (!v.type().is_vector() || index < 0 || index >= v.type().width)
    type_error(fmt::format("insert index {} out of range for {}", index, ir::to_string(v.type())), loc);
  return emit(OpCode::Insert, v.type(), {v, e.as(v.type().element())}, {index}, loc);
}

Value splat(const Arg& x, int width, const SrcLoc& loc) {
  Value v = x.type() ? x.value() : x.as(Type::scalar(Scalar::F32));
  if (!v.type().is_scalar() || width < 2 || width > 64)
    type_error(fmt::format("splat needs a scalar and a width in [2, 64], got {} and {}", ir::to_string(v.type()), width), loc);
  return emit(OpCode::Splat, Type::vector(v.type().elem, width), {v}, {}, loc);
}

Value make_vector(const std::vector<Value>& elements, const SrcLoc& loc) {
  if (elements.size() < 2 || elements.size() > 64)
    type_error(fmt::format("make_vector needs 2..64 elements, got {}", elements.size()), loc);
  Type e = elements[0].type();
  for (const Value& v : elements)
    if (v.type() != e || !e.is_scalar())
      type_error("make_vector needs scalars of one type, got " + ir::to_string(e) + " and " + ir::to_string(v.type()), loc);
  return emit(OpCode::BuildVec, Type::vector(e.elem, int(elements.size())), elements, {}, loc);
}

Value make_vector(std::initializer_list<Value> elements, const SrcLoc& loc) {
  return make_vector(std::vector<Value>(elements), loc);
}

Value load(const Value& p, int width, const SrcLoc& loc) { return load_value(p, width, loc); }
Value load(const Value& p, const Arg& index, int width, const SrcLoc& loc) {
  return load_value(ptr_offset(p, index, loc), width, loc);
}
Value load(const Value& p, const Arg& index, int width, ir::CachePolicy policy, const SrcLoc& loc) {
  return load_value(ptr_offset(p, index, loc), width, loc, policy);
}
void store(const Value& p, const Arg& value, const SrcLoc& loc) {
  Value v = value.type() ? value.value() : value.as(p.type().element());
  store_value(p, v, loc);
}
void store(const Value& p, const Arg& index, const Arg& value, const SrcLoc& loc) {
  store(ptr_offset(p, index, loc), value, loc);
}

Value buffer_load(const Value& base, const Arg& num_records, const Arg& offset, Type type, const SrcLoc& loc) {
  return buffer_load(base, num_records, offset, type, ir::CachePolicy::Normal, loc);
}

Value buffer_load(const Value& base, const Arg& num_records, const Arg& offset, Type type, ir::CachePolicy policy,
                  const SrcLoc& loc) {
  if (!base.type().is_pointer() || base.type().space != ir::AddrSpace::Global)
    type_error("buffer_load needs a global pointer, got " + ir::to_string(base.type()), loc);
  if (!type.is_value() || type.elem != base.type().elem || type.size_bytes() % 4 != 0 || type.size_bytes() > 16)
    type_error(fmt::format("buffer_load reads 4, 8 or 16 bytes of the pointee type; {} through {}",
                           ir::to_string(type), ir::to_string(base.type())), loc);
  std::vector<int64_t> attrs;
  if (policy != ir::CachePolicy::Normal) attrs.push_back(int64_t(policy));
  return emit(OpCode::BufferLoad, type, {base, num_records.as(kI32), offset.as(kI32)}, attrs, loc);
}

void atomic_add(const Value& p, const Arg& value, const SrcLoc& loc) {
  if (!p.type().is_pointer() || p.type().space != ir::AddrSpace::Global)
    type_error("atomic_add needs a global pointer, got " + ir::to_string(p.type()), loc);
  Value v = value.type() ? value.value() : value.as(p.type().element());
  const Type& t = v.type();
  bool ok = t.elem == p.type().elem &&
            (t == Type::scalar(Scalar::F32) || t == kI32 || t == Type::vector(Scalar::BF16, 2));
  if (!ok)
    type_error(fmt::format("atomic_add adds f32, i32 or <2 x bf16> through a pointer of that element "
                           "type; got {} through {}", ir::to_string(t), ir::to_string(p.type())), loc);
  emit(OpCode::AtomicAdd, Type::void_(), {p, v}, {}, loc);
}

Value shared_alloc(Scalar elem, int64_t count, const SrcLoc& loc) {
  if (count <= 0) type_error(fmt::format("shared_alloc needs a positive element count, got {}", count), loc);
  Trace& t = Trace::current(loc);
  if (t.depth() != 0) type_error("shared memory must be allocated at the top level of the kernel body", loc);
  return emit(OpCode::SharedAlloc, Type::pointer(elem, ir::AddrSpace::Shared), {}, {count}, loc);
}

void barrier(const SrcLoc& loc) { emit(OpCode::Barrier, Type::void_(), {}, {}, loc); }

}  // namespace tilejit::dsl
