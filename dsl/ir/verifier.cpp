// The IR verifier: one walk for structure, scoping and types, then a uniformity
// analysis that finds barriers under lane-divergent control flow.
#include "dsl/ir/verifier.h"

#include <fmt/format.h>

#include <string>
#include <vector>

#include "dsl/error.h"
#include "dsl/ir/printer.h"

namespace tilejit::ir {

namespace {

bool has_result(OpCode c) {
  switch (c) {
    case OpCode::Store: case OpCode::AtomicAdd: case OpCode::Barrier: case OpCode::VarSet:
    case OpCode::For: case OpCode::If: case OpCode::CpAsync: case OpCode::CpAsyncCommit:
    case OpCode::CpAsyncWait: case OpCode::WgmmaFence: case OpCode::WgmmaCommit: case OpCode::FenceProxyAsync:
    case OpCode::PrefetchL2: case OpCode::WaitPriorGrids: case OpCode::LaunchDependents:
    case OpCode::MbarrierInit: case OpCode::MbarrierArriveExpectTx: case OpCode::BulkCopyToShared:
    case OpCode::MbarrierWait: case OpCode::NamedBarrier:
      return false;
    default:
      return true;
  }
}

int expected_attrs(OpCode c) {
  switch (c) {
    case OpCode::Const: case OpCode::Param: case OpCode::ThreadId: case OpCode::BlockId:
    case OpCode::BlockDim: case OpCode::GridDim: case OpCode::ICmp: case OpCode::FCmp:
    case OpCode::Extract: case OpCode::Insert: case OpCode::SharedAlloc: case OpCode::Mma:
    case OpCode::CvtPkBf16Fp4: case OpCode::LdMatrix: case OpCode::CpAsyncWait: case OpCode::WgmmaWait:
      return 1;
    case OpCode::NamedBarrier:
      return 2;
    case OpCode::Wgmma:
      return 4;
    default:
      return 0;
  }
}

/// load / buffer_load may carry one attr, the cache policy; cp_async one, the copy size.
bool optional_attr(const Op& op) {
  return (op.code == OpCode::Load || op.code == OpCode::BufferLoad || op.code == OpCode::CpAsync) && op.attrs.size() == 1;
}

int value_bits(const Type& t) { return t.width * scalar_bits(t.elem); }

/// The one target an op or mma instruction exists on; nullopt when both have it.
std::optional<Target> only_target(const Op& op) {
  switch (op.code) {
    case OpCode::CvtPkBf16Fp4: return Target::Gfx950;
    case OpCode::LdMatrix: case OpCode::CpAsync: case OpCode::CpAsyncCommit: case OpCode::CpAsyncWait:
    case OpCode::Wgmma: case OpCode::WgmmaFence: case OpCode::WgmmaCommit: case OpCode::WgmmaWait:
    case OpCode::FenceProxyAsync: case OpCode::MbarrierInit: case OpCode::MbarrierArriveExpectTx:
    case OpCode::BulkCopyToShared: case OpCode::MbarrierWait: case OpCode::NamedBarrier:
      return Target::Sm90a;
    case OpCode::Mma:
      if (op.attrs.size() == 1 && op.attrs[0] == 0) return Target::Gfx950;
      if (op.attrs.size() == 1 && op.attrs[0] == 1) return Target::Sm90a;
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

class Verifier {
 public:
  Verifier(const Function& fn, Target t)
      : fn_(fn), target_(t), info_(target_info(t)), n_(fn.value_types.size()) {}

  void run() {
    defined_anywhere_.assign(n_, false);
    walk(fn_.body, [&](const Op& op) {
      if (op.result < n_) defined_anywhere_[op.result] = true;
      for (const Region& r : op.regions)
        for (ValueId a : r.args)
          if (a < n_) defined_anywhere_[a] = true;
    });
    visible_.assign(n_, false);
    def_count_.assign(n_, 0);
    if (!fn_.body.args.empty())
      throw UserError(fmt::format("error: in kernel '{}' for {}: the kernel body has region arguments",
                                  fn_.name, info_.name));
    check_region(fn_.body, nullptr);
    uniformity();
  }

 private:
  // ---- diagnostics -------------------------------------------------------
  std::string prefix(const Op& op) const {
    return fmt::format("{}error: in kernel '{}' for {}: ", op.loc.known() ? op.loc.str() + ": " : "", fn_.name,
                       info_.name);
  }
  [[noreturn]] void fail(const Op& op, const std::string& what) const {
    throw UserError(prefix(op) + what + fmt::format(" [op: {}]", print_op(fn_, op)));
  }
  std::string val(ValueId v) const { return print_value(fn_, v); }
  const Type& ty(const Op& op, size_t i) const { return fn_.value_types[op.operands[i]]; }
  std::string operand(const Op& op, size_t i) const {
    return fmt::format("operand {} ({}: {})", i, val(op.operands[i]), to_string(ty(op, i)));
  }
  std::string name(const Op& op) const { return std::string(op_info(op.code).name); }

  void want_operand(const Op& op, size_t i, bool ok, std::string_view expected) const {
    if (!ok) fail(op, fmt::format("{} {}: expected {}", name(op), operand(op, i), expected));
  }
  void want_result(const Op& op, bool ok, std::string_view expected) const {
    if (!ok)
      fail(op, fmt::format("{} result has type {}: expected {}", name(op), to_string(result_), expected));
  }
  void want_attr(const Op& op, bool ok, std::string_view expected) const {
    if (!ok) fail(op, fmt::format("{} attribute {} is out of range: expected {}", name(op), op.attrs[0], expected));
  }

  // ---- structure and scoping ---------------------------------------------
  void define(const Op& owner, ValueId v, std::vector<ValueId>& scope) {
    if (v >= n_) fail(owner, fmt::format("{} defines value id {}, outside the value table", name(owner), v));
    if (++def_count_[v] > 1) fail(owner, fmt::format("value {} is defined twice", val(v)));
    visible_[v] = true;
    scope.push_back(v);
  }

  void check_region(const Region& r, const Op* owner) {
    std::vector<ValueId> scope;
    for (ValueId a : r.args) define(*owner, a, scope);
    for (const Op& op : r.ops) {
      check_op(op);
      for (const Region& sub : op.regions) check_region(sub, &op);
      if (op.result != kNoValue) define(op, op.result, scope);
    }
    for (ValueId v : scope) visible_[v] = false;
  }

  void check_structure(const Op& op) {
    if (size_t(op.code) >= size_t(OpCode::Count_))
      throw UserError(prefix(op) + fmt::format("unknown op code {}", size_t(op.code)));
    const OpInfo& info = op_info(op.code);
    if (info.operands >= 0 && op.operands.size() != size_t(info.operands))
      fail(op, fmt::format("{} takes {} operand(s), got {}", info.name, info.operands, op.operands.size()));
    if (info.operands < 0 && op.operands.empty())
      fail(op, fmt::format("{} takes at least one operand", info.name));
    if (op.regions.size() != size_t(info.regions))
      fail(op, fmt::format("{} has {} region(s), expected {}", info.name, op.regions.size(), info.regions));
    if (op.attrs.size() != size_t(expected_attrs(op.code)) && !optional_attr(op))
      fail(op, fmt::format("{} has {} attribute(s), expected {}", info.name, op.attrs.size(),
                           expected_attrs(op.code)));
    if (has_result(op.code) && op.result == kNoValue) fail(op, fmt::format("{} must produce a result", info.name));
    if (!has_result(op.code) && op.result != kNoValue)
      fail(op, fmt::format("{} produces no result", info.name));
    if (op.result != kNoValue) {
      if (op.result >= n_) fail(op, fmt::format("result id {} is outside the value table", op.result));
      if (fn_.value_types[op.result].is_void()) fail(op, fmt::format("{} result has type void", info.name));
    }
    for (const Region& r : op.regions)
      for (ValueId a : r.args)
        if (a >= n_) fail(op, fmt::format("region argument id {} is outside the value table", a));
    for (size_t i = 0; i < op.operands.size(); ++i) {
      ValueId v = op.operands[i];
      if (v >= n_) fail(op, fmt::format("operand {} refers to value id {}, outside the value table", i, v));
      if (visible_[v]) continue;
      if (defined_anywhere_[v])
        fail(op, fmt::format("operand {} ({}) is used before its definition or outside the region that "
                             "defines it (use-before-def)",
                             i, val(v)));
      fail(op, fmt::format("operand {} ({}) is not defined by any op (use-before-def)", i, val(v)));
    }
  }

  void check_op(const Op& op) {
    check_structure(op);
    if (auto only = only_target(op); only && *only != target_) {
      if (op.code == OpCode::Mma)
        fail(op, fmt::format("mma instruction {} is for {}, not available on {}", mma_instr_name(op.attrs[0]),
                             target_info(*only).name, info_.name));
      fail(op, fmt::format("{} is only available on {}, not on {}", name(op), target_info(*only).name,
                           info_.name));
    }
    result_ = op.result != kNoValue ? fn_.value_types[op.result] : Type::void_();
    check_types(op);
    if (op.code == OpCode::SharedAlloc) check_shared(op);
  }

  void check_shared(const Op& op) {
    uint64_t count = uint64_t(op.attrs[0]);
    uint64_t elem = uint64_t(std::max(1, scalar_bits(result_.elem) / 8));
    uint64_t limit = info_.max_shared_bytes;
    shared_total_ = (shared_total_ + 15) & ~uint64_t(15);
    shared_total_ = count > limit ? limit + 1 + shared_total_ : shared_total_ + count * elem;
    if (shared_total_ > limit)
      throw OutOfResources(prefix(op) +
                           fmt::format("shared memory: this allocation of {} x {} brings the kernel to {} bytes, "
                                       "over the target's max_shared_bytes of {} [op: {}]",
                                       count, scalar_name(result_.elem), shared_total_, limit,
                                       print_op(fn_, op)));
  }

  // ---- types -------------------------------------------------------------
  void same_as_result(const Op& op) const {
    for (size_t i = 0; i < op.operands.size(); ++i)
      want_operand(op, i, ty(op, i) == result_, to_string(result_) + " (the result type)");
  }

  void lanes_match(const Op& op) const {
    if (ty(op, 0).width != result_.width)
      fail(op, fmt::format("{} changes the vector width: {} -> {}", name(op), to_string(ty(op, 0)),
                           to_string(result_)));
  }

  void check_types(const Op& op) {
    const OpCode c = op.code;
    switch (c) {
      case OpCode::Const: {
        want_result(op, result_.is_scalar(), "a scalar type (use splat for vectors)");
        int64_t a = op.attrs[0];
        int bits = scalar_bits(result_.elem);
        if (result_.elem == Scalar::I1) {
          want_attr(op, a == 0 || a == 1, "0 or 1 for i1");
        } else if (result_.is_int() && bits < 64) {
          int64_t lo = -(int64_t(1) << (bits - 1)), hi = (int64_t(1) << (bits - 1)) - 1;
          want_attr(op, a >= lo && a <= hi, fmt::format("a sign-extended {}-bit integer", bits));
        } else if (result_.is_float() && bits < 64) {
          want_attr(op, a >= 0 && a < (int64_t(1) << bits), fmt::format("the raw {} bits of the type", bits));
        }
        break;
      }
      case OpCode::Param: {
        int64_t a = op.attrs[0];
        if (a < 0 || size_t(a) >= fn_.params.size())
          fail(op, fmt::format("param index {} is out of range: the kernel has {} parameter(s)", a,
                               fn_.params.size()));
        want_result(op, result_ == fn_.params[size_t(a)].type,
                    to_string(fn_.params[size_t(a)].type) + " (the parameter's type)");
        break;
      }
      case OpCode::ThreadId: case OpCode::BlockId: case OpCode::BlockDim: case OpCode::GridDim:
        want_attr(op, op.attrs[0] >= 0 && op.attrs[0] <= 2, "a dimension 0..2");
        [[fallthrough]];
      case OpCode::LaneId:
        want_result(op, result_ == Type::scalar(Scalar::I32), "i32");
        break;
      case OpCode::Add: case OpCode::Sub: case OpCode::Mul: case OpCode::SDiv: case OpCode::UDiv:
      case OpCode::SRem: case OpCode::URem: case OpCode::And: case OpCode::Or: case OpCode::Xor:
      case OpCode::Shl: case OpCode::LShr: case OpCode::AShr: case OpCode::SMin: case OpCode::SMax:
      case OpCode::UMin: case OpCode::UMax: case OpCode::BitSelect: {
        want_result(op, result_.is_int(), "an integer type");
        bool logic = c == OpCode::And || c == OpCode::Or || c == OpCode::Xor || c == OpCode::BitSelect;
        want_result(op, logic || result_.elem != Scalar::I1, "an integer type wider than i1 (i1 only for and/or/xor)");
        same_as_result(op);
        break;
      }
      case OpCode::FAdd: case OpCode::FSub: case OpCode::FMul: case OpCode::FDiv: case OpCode::FNeg:
      case OpCode::FAbs: case OpCode::Fma: case OpCode::FMin: case OpCode::FMax: case OpCode::Sqrt:
      case OpCode::Rsqrt: case OpCode::Exp2: case OpCode::Log2:
        want_result(op, result_.is_float(), "a float type");
        same_as_result(op);
        break;
      case OpCode::ICmp: case OpCode::FCmp: {
        bool is_i = c == OpCode::ICmp;
        int64_t p = op.attrs[0];
        if (is_i) want_attr(op, p >= int64_t(CmpPred::Eq) && p <= int64_t(CmpPred::Uge), "an integer predicate (eq..uge)");
        else want_attr(op, p >= int64_t(CmpPred::Oeq) && p <= int64_t(CmpPred::Oge), "a float predicate (oeq..oge)");
        want_operand(op, 0, is_i ? ty(op, 0).is_int() : ty(op, 0).is_float(), is_i ? "an integer type" : "a float type");
        want_operand(op, 1, ty(op, 1) == ty(op, 0), to_string(ty(op, 0)) + " (the type of operand 0)");
        want_result(op, result_ == Type{Type::Kind::Value, Scalar::I1, ty(op, 0).width, AddrSpace::Global},
                    ty(op, 0).width == 1 ? std::string("i1") : fmt::format("<{} x i1>", ty(op, 0).width));
        break;
      }
      case OpCode::Select: {
        want_result(op, result_.is_value() || result_.is_pointer(), "a value or pointer type");
        const Type& cond = ty(op, 0);
        bool ok = cond == Type::scalar(Scalar::I1) ||
                  (cond.is_bool() && result_.is_vector() && cond.width == result_.width);
        want_operand(op, 0, ok, "i1, or <N x i1> matching the result's width");
        want_operand(op, 1, ty(op, 1) == result_, to_string(result_) + " (the result type)");
        want_operand(op, 2, ty(op, 2) == result_, to_string(result_) + " (the result type)");
        break;
      }
      case OpCode::SExt: case OpCode::ZExt: case OpCode::Trunc: {
        want_operand(op, 0, ty(op, 0).is_int(), "an integer type");
        want_result(op, result_.is_int(), "an integer type");
        lanes_match(op);
        int from = scalar_bits(ty(op, 0).elem), to = scalar_bits(result_.elem);
        if (c == OpCode::Trunc ? to >= from : to <= from)
          fail(op, fmt::format("{} from {} to {}: the destination must be {} than the source", name(op),
                               to_string(ty(op, 0)), to_string(result_), c == OpCode::Trunc ? "narrower" : "wider"));
        break;
      }
      case OpCode::SIToFP: case OpCode::UIToFP:
        want_operand(op, 0, ty(op, 0).is_int(), "an integer type");
        want_result(op, result_.is_float(), "a float type");
        lanes_match(op);
        break;
      case OpCode::FPToSI: case OpCode::FPToUI:
        want_operand(op, 0, ty(op, 0).is_float(), "a float type");
        want_result(op, result_.is_int(), "an integer type");
        lanes_match(op);
        break;
      case OpCode::FPExt: case OpCode::FPTrunc: {
        want_operand(op, 0, ty(op, 0).is_float(), "a float type");
        want_result(op, result_.is_float(), "a float type");
        lanes_match(op);
        int from = scalar_bits(ty(op, 0).elem), to = scalar_bits(result_.elem);
        if (c == OpCode::FPTrunc ? to >= from : to <= from)
          fail(op, fmt::format("{} from {} to {}: the destination must be {} than the source", name(op),
                               to_string(ty(op, 0)), to_string(result_), c == OpCode::FPTrunc ? "narrower" : "wider"));
        break;
      }
      case OpCode::Bitcast:
        want_operand(op, 0, ty(op, 0).is_value(), "a scalar or vector type");
        want_result(op, result_.is_value(), "a scalar or vector type");
        if (value_bits(ty(op, 0)) != value_bits(result_))
          fail(op, fmt::format("bitcast between different sizes: {} ({} bits) -> {} ({} bits)", to_string(ty(op, 0)),
                               value_bits(ty(op, 0)), to_string(result_), value_bits(result_)));
        break;
      case OpCode::Extract:
        want_operand(op, 0, ty(op, 0).is_vector(), "a vector type");
        want_result(op, result_ == ty(op, 0).element(), to_string(ty(op, 0).element()) + " (the element type)");
        want_attr(op, op.attrs[0] >= 0 && op.attrs[0] < ty(op, 0).width,
                  fmt::format("an index 0..{}", ty(op, 0).width - 1));
        break;
      case OpCode::Insert:
        want_result(op, result_.is_vector(), "a vector type");
        want_operand(op, 0, ty(op, 0) == result_, to_string(result_) + " (the result type)");
        want_operand(op, 1, ty(op, 1) == result_.element(), to_string(result_.element()) + " (the element type)");
        want_attr(op, op.attrs[0] >= 0 && op.attrs[0] < result_.width, fmt::format("an index 0..{}", result_.width - 1));
        break;
      case OpCode::Splat:
        want_result(op, result_.is_vector(), "a vector type");
        want_operand(op, 0, ty(op, 0) == result_.element(), to_string(result_.element()) + " (the element type)");
        break;
      case OpCode::BuildVec:
        want_result(op, result_.is_vector(), "a vector type");
        if (op.operands.size() != result_.width)
          fail(op, fmt::format("build_vec has {} operand(s), expected {} (the result's width)", op.operands.size(),
                               result_.width));
        for (size_t i = 0; i < op.operands.size(); ++i)
          want_operand(op, i, ty(op, i) == result_.element(), to_string(result_.element()) + " (the element type)");
        break;
      case OpCode::PtrAdd:
        want_operand(op, 0, ty(op, 0).is_pointer(), "a pointer");
        want_operand(op, 1, ty(op, 1) == Type::scalar(Scalar::I32) || ty(op, 1) == Type::scalar(Scalar::I64),
                     "i32 or i64");
        want_result(op, result_ == ty(op, 0), to_string(ty(op, 0)) + " (the pointer operand's type)");
        break;
      case OpCode::Load:
        want_operand(op, 0, ty(op, 0).is_pointer(), "a pointer");
        if (!op.attrs.empty()) {
          want_attr(op, op.attrs[0] == int64_t(CachePolicy::Normal) || op.attrs[0] == int64_t(CachePolicy::Stream),
                    "a cache policy (0 normal, 1 stream)");
          want_operand(op, 0, op.attrs[0] == 0 || ty(op, 0).space == AddrSpace::Global,
                       "a global pointer (the stream policy is for global loads)");
        }
        want_result(op, result_.is_value() && result_.elem == ty(op, 0).elem,
                    fmt::format("{} or a vector of it (the pointee)", scalar_name(ty(op, 0).elem)));
        break;
      case OpCode::Store:
        want_operand(op, 0, ty(op, 0).is_pointer(), "a pointer");
        want_operand(op, 1, ty(op, 1).is_value() && ty(op, 1).elem == ty(op, 0).elem,
                     fmt::format("{} or a vector of it (the pointee)", scalar_name(ty(op, 0).elem)));
        break;
      case OpCode::AtomicAdd: {
        want_operand(op, 0, ty(op, 0).is_pointer(), "a pointer");
        const Type& v = ty(op, 1);
        want_operand(op, 1,
                     v == Type::scalar(Scalar::F32) || v == Type::scalar(Scalar::I32) ||
                         v == Type::vector(Scalar::BF16, 2),
                     "f32, i32 or <2 x bf16>");
        want_operand(op, 1, v.elem == ty(op, 0).elem, fmt::format("the pointee {}", scalar_name(ty(op, 0).elem)));
        break;
      }
      case OpCode::SharedAlloc:
        want_result(op, result_.is_pointer() && result_.space == AddrSpace::Shared, "ptr<shared, T>");
        want_attr(op, op.attrs[0] > 0, "a positive element count");
        break;
      case OpCode::Barrier:
        break;
      case OpCode::VarNew:
        want_operand(op, 0, ty(op, 0).is_value(), "a scalar or vector type");
        want_result(op, result_ == Type::slot(ty(op, 0)), to_string(Type::slot(ty(op, 0))));
        break;
      case OpCode::VarGet:
        want_operand(op, 0, ty(op, 0).is_slot(), "a slot (var<T>)");
        want_result(op, result_ == ty(op, 0).held(), to_string(ty(op, 0).held()) + " (the slot's type)");
        break;
      case OpCode::VarSet:
        want_operand(op, 0, ty(op, 0).is_slot(), "a slot (var<T>)");
        want_operand(op, 1, ty(op, 1) == ty(op, 0).held(), to_string(ty(op, 0).held()) + " (the slot's type)");
        break;
      case OpCode::For: {
        for (size_t i = 0; i < 3; ++i) want_operand(op, i, ty(op, i) == Type::scalar(Scalar::I32), "i32");
        const Region& body = op.regions[0];
        if (body.args.size() != 1)
          fail(op, fmt::format("for body has {} region argument(s), expected 1 (the induction variable)",
                               body.args.size()));
        if (fn_.value_types[body.args[0]] != Type::scalar(Scalar::I32))
          fail(op, fmt::format("for induction variable {} has type {}, expected i32", val(body.args[0]),
                               to_string(fn_.value_types[body.args[0]])));
        break;
      }
      case OpCode::If:
        want_operand(op, 0, ty(op, 0) == Type::scalar(Scalar::I1), "i1");
        for (const Region& r : op.regions)
          if (!r.args.empty()) fail(op, "if regions take no arguments");
        break;
      case OpCode::Mma: {
        int64_t id = op.attrs[0];
        if (id != 0 && id != 1) fail(op, fmt::format("mma instruction id {} is unknown (0 gfx950, 1 sm_90a)", id));
        Type b = id == 0 ? Type::vector(Scalar::BF16, 8) : Type::vector(Scalar::BF16, 4);
        Type acc = Type::vector(Scalar::F32, 4);
        auto instr = mma_instr_name(id);
        want_operand(op, 0, ty(op, 0) == Type::vector(Scalar::BF16, 8), fmt::format("<8 x bf16> (a of {})", instr));
        want_operand(op, 1, ty(op, 1) == b, fmt::format("{} (b of {})", to_string(b), instr));
        want_operand(op, 2, ty(op, 2) == acc, fmt::format("<4 x f32> (c of {})", instr));
        want_result(op, result_ == acc, fmt::format("<4 x f32> (the accumulator of {})", instr));
        break;
      }
      case OpCode::CvtPkBf16Fp4:
        if (!info_.has_fp4_convert) fail(op, fmt::format("cvt_pk_bf16_fp4 is not available on {}", info_.name));
        want_operand(op, 0, ty(op, 0) == Type::scalar(Scalar::I32), "i32 (packed fp4)");
        want_operand(op, 1, ty(op, 1) == Type::scalar(Scalar::F32), "f32 (the scale)");
        want_attr(op, op.attrs[0] >= 0 && op.attrs[0] <= 3, "a byte_sel 0..3");
        want_result(op, result_ == Type::vector(Scalar::BF16, 2), "<2 x bf16>");
        break;
      case OpCode::LdMatrix:
        want_operand(op, 0, ty(op, 0).is_pointer() && ty(op, 0).space == AddrSpace::Shared &&
                                scalar_bits(ty(op, 0).elem) == 16,
                     "ptr<shared, T> with a 16-bit T");
        want_attr(op, op.attrs[0] == 0 || op.attrs[0] == 1, "trans 0 or 1");
        want_result(op, result_ == Type::vector(Scalar::BF16, 8), "<8 x bf16>");
        break;
      case OpCode::WaveUMax: case OpCode::WaveUMin:
        want_operand(op, 0, ty(op, 0) == Type::scalar(Scalar::I32), "i32");
        want_result(op, result_ == Type::scalar(Scalar::I32), "i32");
        break;
      case OpCode::CpAsync:
        want_operand(op, 0, ty(op, 0).is_pointer() && ty(op, 0).space == AddrSpace::Shared, "ptr<shared, T>");
        want_operand(op, 1, ty(op, 1).is_pointer() && ty(op, 1).space == AddrSpace::Global, "ptr<global, U>");
        want_operand(op, 2, ty(op, 2) == Type::scalar(Scalar::I32), "i32 (src_bytes)");
        if (!op.attrs.empty() && op.attrs[0] != 4 && op.attrs[0] != 8 && op.attrs[0] != 16)
          fail(op, fmt::format("cp_async copies 4, 8 or 16 bytes, not {}", op.attrs[0]));
        break;
      case OpCode::CpAsyncCommit: case OpCode::WgmmaFence: case OpCode::WgmmaCommit: case OpCode::FenceProxyAsync:
      case OpCode::WaitPriorGrids: case OpCode::LaunchDependents:
        break;
      case OpCode::NamedBarrier:
        want_attr(op, op.attrs[0] >= 1 && op.attrs[0] <= 15, "an id 1..15 (0 is the block barrier)");
        if (op.attrs[1] < 32 || op.attrs[1] > 1024 || op.attrs[1] % 32)
          fail(op, fmt::format("named_barrier for {} threads: a multiple of 32 from 32 to 1024", op.attrs[1]));
        break;
      case OpCode::PrefetchL2:
        want_operand(op, 0, ty(op, 0).is_pointer() && ty(op, 0).space == AddrSpace::Global, "ptr<global, T>");
        want_operand(op, 1, ty(op, 1) == Type::scalar(Scalar::I32), "i32 (bytes)");
        break;
      case OpCode::MbarrierInit: case OpCode::MbarrierArriveExpectTx: case OpCode::MbarrierWait:
        want_operand(op, 0, ty(op, 0) == Type::pointer(Scalar::I64, AddrSpace::Shared), "ptr<shared, i64> (the mbarrier)");
        want_operand(op, 1, ty(op, 1) == Type::scalar(Scalar::I32),
                     op.code == OpCode::MbarrierInit ? "i32 (the arrival count)"
                     : op.code == OpCode::MbarrierWait ? "i32 (the phase parity)" : "i32 (bytes)");
        break;
      case OpCode::BulkCopyToShared:
        want_operand(op, 0, ty(op, 0).is_pointer() && ty(op, 0).space == AddrSpace::Shared, "ptr<shared, T>");
        want_operand(op, 1, ty(op, 1).is_pointer() && ty(op, 1).space == AddrSpace::Global, "ptr<global, U>");
        want_operand(op, 2, ty(op, 2) == Type::scalar(Scalar::I32), "i32 (bytes)");
        want_operand(op, 3, ty(op, 3) == Type::pointer(Scalar::I64, AddrSpace::Shared), "ptr<shared, i64> (the mbarrier)");
        break;
      case OpCode::Wgmma: {
        int64_t n = op.attrs[0], lbo = op.attrs[1], sbo = op.attrs[2], swizzle = op.attrs[3];
        if (swizzle != 0 && swizzle != 1)
          fail(op, fmt::format("wgmma swizzle {} is unknown: expected 0 (none) or 1 (128-byte)", swizzle));
        if (n < 8 || n > 128 || n % 8)
          fail(op, fmt::format("wgmma N = {} is out of range: expected a multiple of 8 in 8..128", n));
        for (int64_t off : {lbo, sbo})
          if (off < 0 || off >= (int64_t(1) << 18) || off % 16)
            fail(op, fmt::format("wgmma core-matrix offset {} is out of range: expected a multiple of 16 below 2^18", off));
        Type smem = Type::pointer(Scalar::BF16, AddrSpace::Shared), acc = Type::vector(Scalar::F32, int(n / 2));
        want_operand(op, 0, ty(op, 0) == smem || ty(op, 0) == Type::vector(Scalar::BF16, 8),
                     "ptr<shared, bf16> (the A tile) or <8 x bf16> (the lane's A fragment)");
        want_operand(op, 1, ty(op, 1) == smem, "ptr<shared, bf16> (the B tile)");
        want_operand(op, 2, ty(op, 2) == acc, fmt::format("{} (the accumulator of m64n{}k16)", to_string(acc), n));
        want_result(op, result_ == acc, fmt::format("{} (the accumulator of m64n{}k16)", to_string(acc), n));
        break;
      }
      case OpCode::WgmmaWait:
        want_attr(op, op.attrs[0] >= 0 && op.attrs[0] <= 7, "a group count 0..7");
        want_operand(op, 0, ty(op, 0).is_value() && ty(op, 0).elem == Scalar::F32, "f32 or <N x f32> (an accumulator)");
        want_result(op, result_ == ty(op, 0), "the operand's type");
        break;
      case OpCode::CpAsyncWait:
        want_attr(op, op.attrs[0] >= 0, "a non-negative group count");
        break;
      case OpCode::BufferLoad:
        want_operand(op, 0, ty(op, 0).is_pointer() && ty(op, 0).space == AddrSpace::Global, "ptr<global, T>");
        if (!op.attrs.empty())
          want_attr(op, op.attrs[0] == int64_t(CachePolicy::Normal) || op.attrs[0] == int64_t(CachePolicy::Stream),
                    "a cache policy (0 normal, 1 stream)");
        want_operand(op, 1, ty(op, 1) == Type::scalar(Scalar::I32), "i32 (num_records, bytes)");
        want_operand(op, 2, ty(op, 2) == Type::scalar(Scalar::I32), "i32 (offset, bytes)");
        want_result(op, result_.is_value() && result_.elem == ty(op, 0).elem && value_bits(result_) % 32 == 0,
                    fmt::format("{} or a vector of it, a multiple of 4 bytes", scalar_name(ty(op, 0).elem)));
        break;
      case OpCode::Count_:
        fail(op, "unknown op code");
    }
  }

  // ---- uniformity --------------------------------------------------------
  bool div(ValueId v) const { return v < n_ && divergent_[v]; }
  void mark(std::vector<bool>& set, ValueId v) {
    if (v < n_ && !set[v]) {
      set[v] = true;
      changed_ = true;
    }
  }

  void flow(const Region& r, bool ctrl) {
    for (const Op& op : r.ops) {
      bool any = false;
      for (ValueId v : op.operands) any = any || div(v);
      switch (op.code) {
        case OpCode::ThreadId: case OpCode::LaneId: case OpCode::LdMatrix: case OpCode::Mma: case OpCode::Wgmma:
          mark(divergent_, op.result);
          break;
        case OpCode::Load: case OpCode::BufferLoad:
          // Every lane reading one address sees one value: a load is divergent only
          // when its address (or range) is.
          if (any) mark(divergent_, op.result);
          break;
        case OpCode::VarNew:
          if (any) mark(slot_divergent_, op.result);
          break;
        case OpCode::VarSet:
          if (ctrl || div(op.operands[1])) mark(slot_divergent_, op.operands[0]);
          break;
        case OpCode::VarGet:
          if (slot_divergent_[op.operands[0]]) mark(divergent_, op.result);
          break;
        case OpCode::For:
          if (any) mark(divergent_, op.regions[0].args[0]);
          flow(op.regions[0], ctrl || any);
          break;
        case OpCode::If:
          for (const Region& sub : op.regions) flow(sub, ctrl || any);
          break;
        default:
          if (any && op.result != kNoValue) mark(divergent_, op.result);
          break;
      }
    }
  }

  void barriers(const Region& r, const Op* cause) {
    for (const Op& op : r.ops) {
      if (op.code == OpCode::Barrier && cause) {
        bool is_if = cause->code == OpCode::If;
        fail(op, fmt::format("barrier under lane-divergent control flow: the enclosing `{}` at {} has a "
                             "lane-divergent {} (it depends on thread_id, lane_id, a load from a divergent address, or a "
                             "slot written under divergent control), so not every thread of the block "
                             "reaches this barrier",
                             print_op(fn_, *cause), cause->loc.str(), is_if ? "condition" : "bound"));
      }
      const Op* inner = cause;
      if (!inner && (op.code == OpCode::If || op.code == OpCode::For))
        for (ValueId v : op.operands)
          if (div(v)) inner = &op;
      for (const Region& sub : op.regions) barriers(sub, inner);
    }
  }

  void uniformity() {
    divergent_.assign(n_, false);
    slot_divergent_.assign(n_, false);
    do {
      changed_ = false;
      flow(fn_.body, false);
    } while (changed_);
    barriers(fn_.body, nullptr);
  }

  const Function& fn_;
  Target target_;
  const TargetInfo& info_;
  size_t n_;
  std::vector<bool> defined_anywhere_, visible_;
  std::vector<int> def_count_;
  Type result_;
  uint64_t shared_total_ = 0;
  std::vector<bool> divergent_, slot_divergent_;
  bool changed_ = false;
};

}  // namespace

void verify(const Function& fn, Target target) { Verifier(fn, target).run(); }

}  // namespace tilejit::ir
