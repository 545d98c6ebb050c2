// Shared lowering of tilejit IR to LLVM IR: types, arithmetic, memory, slots, structured control flow.
#include <fmt/format.h>

#include <functional>
#include <unordered_map>

#include <llvm/ADT/APFloat.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/DerivedTypes.h>
#include <llvm/IR/Function.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include "backend/llvm/target_backend.h"
#include "dsl/error.h"

namespace tilejit::backend {

using ir::OpCode;
using ir::ValueId;

std::string op_error(const ir::Function& fn, const ir::Op& op, std::string_view what) {
  std::string where = op.loc.known() ? fmt::format(" at {}", op.loc.str()) : std::string();
  return fmt::format("{}: op '{}'{}: {}", fn.name, ir::op_info(op.code).name, where, what);
}

namespace {

llvm::Type* scalar_type(llvm::LLVMContext& c, ir::Scalar s) {
  switch (s) {
    case ir::Scalar::I1: return llvm::Type::getInt1Ty(c);
    case ir::Scalar::I8: return llvm::Type::getInt8Ty(c);
    case ir::Scalar::I16: return llvm::Type::getInt16Ty(c);
    case ir::Scalar::I32: return llvm::Type::getInt32Ty(c);
    case ir::Scalar::I64: return llvm::Type::getInt64Ty(c);
    case ir::Scalar::F16: return llvm::Type::getHalfTy(c);
    case ir::Scalar::BF16: return llvm::Type::getBFloatTy(c);
    case ir::Scalar::F32: return llvm::Type::getFloatTy(c);
    case ir::Scalar::F64: return llvm::Type::getDoubleTy(c);
  }
  return nullptr;
}

const llvm::fltSemantics& float_semantics(ir::Scalar s) {
  switch (s) {
    case ir::Scalar::F16: return llvm::APFloat::IEEEhalf();
    case ir::Scalar::BF16: return llvm::APFloat::BFloat();
    case ir::Scalar::F32: return llvm::APFloat::IEEEsingle();
    default: return llvm::APFloat::IEEEdouble();
  }
}

/// Alignment of a whole access of `t` (a value type): the largest power of two dividing its size.
uint64_t natural_align(const ir::Type& t) {
  uint64_t bytes = std::max<uint64_t>(1, (uint64_t(ir::scalar_bits(t.elem)) * t.width + 7) / 8);
  return bytes & (~bytes + 1);
}

bool is_int_pred(ir::CmpPred p) { return p <= ir::CmpPred::Uge; }

/// The cache policy of a load / buffer_load (attr 0 when present).
ir::CachePolicy cache_policy(const ir::Op& op) {
  return op.attrs.empty() ? ir::CachePolicy::Normal : ir::CachePolicy(op.attrs[0]);
}

llvm::CmpInst::Predicate llvm_pred(ir::CmpPred p) {
  using P = llvm::CmpInst::Predicate;
  switch (p) {
    case ir::CmpPred::Eq: return P::ICMP_EQ;
    case ir::CmpPred::Ne: return P::ICMP_NE;
    case ir::CmpPred::Slt: return P::ICMP_SLT;
    case ir::CmpPred::Sle: return P::ICMP_SLE;
    case ir::CmpPred::Sgt: return P::ICMP_SGT;
    case ir::CmpPred::Sge: return P::ICMP_SGE;
    case ir::CmpPred::Ult: return P::ICMP_ULT;
    case ir::CmpPred::Ule: return P::ICMP_ULE;
    case ir::CmpPred::Ugt: return P::ICMP_UGT;
    case ir::CmpPred::Uge: return P::ICMP_UGE;
    case ir::CmpPred::Oeq: return P::FCMP_OEQ;
    case ir::CmpPred::Une: return P::FCMP_UNE;
    case ir::CmpPred::Olt: return P::FCMP_OLT;
    case ir::CmpPred::Ole: return P::FCMP_OLE;
    case ir::CmpPred::Ogt: return P::FCMP_OGT;
    case ir::CmpPred::Oge: return P::FCMP_OGE;
  }
  return P::BAD_ICMP_PREDICATE;
}

class Lowerer {
 public:
  Lowerer(const ir::Function& fn, TargetBackend& be, llvm::LLVMContext& ctx, llvm::Module& m)
      : fn_(fn), be_(be), ctx_(ctx), m_(m), b_(ctx), alloca_b_(ctx) {}

  void run() {
    std::vector<llvm::Type*> params;
    for (const ir::Param& p : fn_.params) {
      if (!p.type.is_value() && !p.type.is_pointer())
        throw InternalError(fmt::format("{}: parameter '{}' has type {}, not a value or pointer",
                                        fn_.name, p.name, ir::to_string(p.type)));
      params.push_back(type(p.type));
    }
    auto* fty = llvm::FunctionType::get(llvm::Type::getVoidTy(ctx_), params, false);
    kernel_ = llvm::Function::Create(fty, llvm::GlobalValue::ExternalLinkage, fn_.name, m_);
    for (size_t i = 0; i < fn_.params.size(); ++i) kernel_->getArg(unsigned(i))->setName(fn_.params[i].name);
    be_.define_kernel(*kernel_, fn_);

    uint64_t offset = 0;
    ir::walk(fn_.body, [&](const ir::Op& op) {
      if (op.code != OpCode::SharedAlloc) return;
      offset = (offset + 15) & ~uint64_t(15);
      shared_offsets_[op.result] = offset;
      offset += uint64_t(op.attrs.at(0)) * uint64_t(ir::scalar_bits(fn_.type_of(op.result).elem) / 8);
    });

    values_.assign(fn_.value_types.size(), nullptr);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", kernel_);
    b_.SetInsertPoint(entry);
    alloca_b_.SetInsertPoint(entry);
    region(fn_.body);
    b_.CreateRetVoid();
  }

 private:
  [[noreturn]] void fail(const ir::Op& op, std::string_view what) {
    throw InternalError(op_error(fn_, op, what));
  }
  void require(const ir::Op& op, bool ok, std::string_view what) {
    if (!ok) fail(op, what);
  }

  llvm::Type* type(const ir::Type& t) {
    if (t.is_pointer()) return llvm::PointerType::get(ctx_, unsigned(t.space));
    llvm::Type* s = scalar_type(ctx_, t.elem);
    return t.width > 1 ? llvm::FixedVectorType::get(s, t.width) : s;
  }
  const ir::Type& ty(ValueId id) const { return fn_.type_of(id); }

  llvm::Value* val(const ir::Op& op, size_t i) {
    ValueId id = op.operands.at(i);
    if (id >= values_.size() || values_[id] == nullptr)
      fail(op, fmt::format("operand {} (%{}) is used before it is defined", i, id));
    return values_[id];
  }
  void set(const ir::Op& op, llvm::Value* v) {
    if (op.result == ir::kNoValue) return;
    if (auto* inst = llvm::dyn_cast<llvm::Instruction>(v); inst && !inst->hasName() && !inst->getType()->isVoidTy())
      inst->setName(fmt::format("v{}", op.result));
    values_.at(op.result) = v;
  }

  void region(const ir::Region& r) {
    for (const ir::Op& op : r.ops) lower(op);
  }

  void check_arity(const ir::Op& op) {
    const ir::OpInfo& info = ir::op_info(op.code);
    if (info.operands >= 0 && int(op.operands.size()) != info.operands)
      fail(op, fmt::format("has {} operands, expected {}", op.operands.size(), info.operands));
    if (int(op.regions.size()) != info.regions)
      fail(op, fmt::format("has {} regions, expected {}", op.regions.size(), info.regions));
    for (ValueId id : op.operands)
      if (id >= fn_.value_types.size()) fail(op, fmt::format("operand %{} does not exist", id));
  }
  const ir::Type& result_type(const ir::Op& op) {
    if (op.result == ir::kNoValue || op.result >= fn_.value_types.size()) fail(op, "has no result value");
    return ty(op.result);
  }
  int64_t attr(const ir::Op& op, size_t i) {
    if (op.attrs.size() <= i) fail(op, fmt::format("needs attribute {}", i));
    return op.attrs[i];
  }

  llvm::Value* constant(const ir::Op& op) {
    const ir::Type& t = result_type(op);
    require(op, t.is_value(), "a constant must have a value type");
    int bits = ir::scalar_bits(t.elem);
    uint64_t raw = uint64_t(attr(op, 0));
    if (bits < 64) raw &= (uint64_t(1) << bits) - 1;
    llvm::APInt ai(unsigned(bits), raw);
    llvm::Constant* c = t.is_float() ? llvm::ConstantFP::get(ctx_, llvm::APFloat(float_semantics(t.elem), ai))
                                     : static_cast<llvm::Constant*>(llvm::ConstantInt::get(ctx_, ai));
    return t.width > 1 ? llvm::ConstantVector::getSplat(llvm::ElementCount::getFixed(t.width), c) : c;
  }

  /// Applies a scalar f32 function to each element of a float value, widening
  /// f16/bf16 to f32 and rounding the result back (one rounding, RNE).
  llvm::Value* per_element_f32(const ir::Op& op, llvm::Value* x,
                               const std::function<llvm::Value*(llvm::Value*)>& f) {
    const ir::Type& t = ty(op.operands[0]);
    llvm::Type* f32 = b_.getFloatTy();
    llvm::Type* elem = scalar_type(ctx_, t.elem);
    auto one = [&](llvm::Value* s) {
      llvm::Value* w = elem == f32 ? s : b_.CreateFPExt(s, f32);
      llvm::Value* r = f(w);
      return elem == f32 ? r : b_.CreateFPTrunc(r, elem);
    };
    if (t.width == 1) return one(x);
    llvm::Value* out = llvm::PoisonValue::get(x->getType());
    for (unsigned i = 0; i < t.width; ++i) out = b_.CreateInsertElement(out, one(b_.CreateExtractElement(x, i)), i);
    return out;
  }

  llvm::Value* transcendental(const ir::Op& op) {
    const ir::Type& t = ty(op.operands[0]);
    llvm::Value* x = val(op, 0);
    if (t.elem == ir::Scalar::F64) {
      if (op.code == OpCode::Rsqrt) {
        llvm::Value* s = b_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x);
        return b_.CreateFDiv(llvm::ConstantFP::get(x->getType(), 1.0), s);
      }
      fail(op, "exp2/log2 of f64 has no GPU lowering (use f32)");
    }
    return per_element_f32(op, x, [&](llvm::Value* s) { return be_.transcendental(b_, op.code, s); });
  }

  void lower_for(const ir::Op& op) {
    const ir::Region& body = op.regions.at(0);
    const ir::Type& it = ty(op.operands[0]);
    require(op, it.is_scalar() && it.is_int() && !it.is_bool(), "lo must be a scalar integer");
    require(op, ty(op.operands[1]) == it && ty(op.operands[2]) == it, "lo, hi and step must share one type");
    require(op, body.args.size() == 1 && body.args[0] < fn_.value_types.size() && ty(body.args[0]) == it,
            "the body needs one induction argument of lo's type");
    llvm::Value* lo = val(op, 0);
    llvm::Value* hi = val(op, 1);
    llvm::Value* step = val(op, 2);
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* header = llvm::BasicBlock::Create(ctx_, "for.header", kernel_);
    auto* bodyb = llvm::BasicBlock::Create(ctx_, "for.body", kernel_);
    auto* latch = llvm::BasicBlock::Create(ctx_, "for.latch", kernel_);
    auto* exit = llvm::BasicBlock::Create(ctx_, "for.exit", kernel_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    llvm::PHINode* iv = b_.CreatePHI(lo->getType(), 2, fmt::format("i{}", body.args[0]));
    iv->addIncoming(lo, pre);
    b_.CreateCondBr(b_.CreateICmpSLT(iv, hi), bodyb, exit);
    b_.SetInsertPoint(bodyb);
    values_[body.args[0]] = iv;
    region(body);
    b_.CreateBr(latch);
    b_.SetInsertPoint(latch);
    // The induction variable never wraps: i < hi held before the step.
    llvm::Value* next = b_.CreateAdd(iv, step, "", /*HasNUW=*/false, /*HasNSW=*/true);
    iv->addIncoming(next, latch);
    b_.CreateBr(header);
    b_.SetInsertPoint(exit);
  }

  void lower_if(const ir::Op& op) {
    require(op, ty(op.operands[0]) == ir::Type::scalar(ir::Scalar::I1), "the condition must be i1");
    llvm::Value* cond = val(op, 0);
    auto* then_b = llvm::BasicBlock::Create(ctx_, "if.then", kernel_);
    auto* merge = llvm::BasicBlock::Create(ctx_, "if.end", kernel_);
    bool has_else = !op.regions[1].ops.empty();
    auto* else_b = has_else ? llvm::BasicBlock::Create(ctx_, "if.else", kernel_) : merge;
    b_.CreateCondBr(cond, then_b, else_b);
    b_.SetInsertPoint(then_b);
    region(op.regions[0]);
    b_.CreateBr(merge);
    if (has_else) {
      b_.SetInsertPoint(else_b);
      region(op.regions[1]);
      b_.CreateBr(merge);
    }
    b_.SetInsertPoint(merge);
  }

  /// Checks that a memory op's value type `vt` matches the pointee of pointer `pt`.
  void check_access(const ir::Op& op, const ir::Type& pt, const ir::Type& vt) {
    require(op, pt.is_pointer(), "the address must be a pointer");
    require(op, vt.is_value() && vt.elem == pt.elem,
            fmt::format("accesses {} through {}", ir::to_string(vt), ir::to_string(pt)));
  }

  void lower(const ir::Op& op) {
    check_arity(op);
    const ir::OpInfo& info = ir::op_info(op.code);
    auto binary_same = [&](bool want_float) {
      const ir::Type& t = result_type(op);
      require(op, t.is_value() && (want_float ? t.is_float() : t.is_int()),
              fmt::format("result must be {}, not {}", want_float ? "float" : "integer", ir::to_string(t)));
      for (ValueId id : op.operands)
        require(op, ty(id) == t, fmt::format("operand type {} differs from the result type {}",
                                             ir::to_string(ty(id)), ir::to_string(t)));
    };
    switch (op.code) {
      case OpCode::Const: set(op, constant(op)); return;
      case OpCode::Param: {
        int64_t i = attr(op, 0);
        require(op, i >= 0 && size_t(i) < fn_.params.size(), "parameter index out of range");
        require(op, result_type(op) == fn_.params[size_t(i)].type, "result type differs from the parameter's");
        set(op, kernel_->getArg(unsigned(i)));
        return;
      }
      case OpCode::ThreadId:
      case OpCode::BlockId:
      case OpCode::BlockDim:
      case OpCode::GridDim: {
        int64_t d = attr(op, 0);
        require(op, d >= 0 && d <= 2, "dimension must be 0..2");
        require(op, result_type(op) == ir::Type::scalar(ir::Scalar::I32), "result must be i32");
        set(op, be_.work_item_id(b_, op.code, int(d), fn_));
        return;
      }
      case OpCode::LaneId: set(op, be_.lane_id(b_)); return;

      case OpCode::Add: binary_same(false); set(op, b_.CreateAdd(val(op, 0), val(op, 1))); return;
      case OpCode::Sub: binary_same(false); set(op, b_.CreateSub(val(op, 0), val(op, 1))); return;
      case OpCode::Mul: binary_same(false); set(op, b_.CreateMul(val(op, 0), val(op, 1))); return;
      case OpCode::SDiv: binary_same(false); set(op, b_.CreateSDiv(val(op, 0), val(op, 1))); return;
      case OpCode::UDiv: binary_same(false); set(op, b_.CreateUDiv(val(op, 0), val(op, 1))); return;
      case OpCode::SRem: binary_same(false); set(op, b_.CreateSRem(val(op, 0), val(op, 1))); return;
      case OpCode::URem: binary_same(false); set(op, b_.CreateURem(val(op, 0), val(op, 1))); return;
      case OpCode::And: binary_same(false); set(op, b_.CreateAnd(val(op, 0), val(op, 1))); return;
      case OpCode::Or: binary_same(false); set(op, b_.CreateOr(val(op, 0), val(op, 1))); return;
      case OpCode::Xor: binary_same(false); set(op, b_.CreateXor(val(op, 0), val(op, 1))); return;
      case OpCode::Shl: binary_same(false); set(op, b_.CreateShl(val(op, 0), val(op, 1))); return;
      case OpCode::LShr: binary_same(false); set(op, b_.CreateLShr(val(op, 0), val(op, 1))); return;
      case OpCode::AShr: binary_same(false); set(op, b_.CreateAShr(val(op, 0), val(op, 1))); return;
      case OpCode::SMin: binary_same(false); set(op, b_.CreateBinaryIntrinsic(llvm::Intrinsic::smin, val(op, 0), val(op, 1))); return;
      case OpCode::SMax: binary_same(false); set(op, b_.CreateBinaryIntrinsic(llvm::Intrinsic::smax, val(op, 0), val(op, 1))); return;
      case OpCode::UMin: binary_same(false); set(op, b_.CreateBinaryIntrinsic(llvm::Intrinsic::umin, val(op, 0), val(op, 1))); return;
      case OpCode::UMax: binary_same(false); set(op, b_.CreateBinaryIntrinsic(llvm::Intrinsic::umax, val(op, 0), val(op, 1))); return;
      case OpCode::BitSelect: binary_same(false); set(op, be_.bit_select(b_, val(op, 0), val(op, 1), val(op, 2))); return;

      case OpCode::FAdd: binary_same(true); set(op, b_.CreateFAdd(val(op, 0), val(op, 1))); return;
      case OpCode::FSub: binary_same(true); set(op, b_.CreateFSub(val(op, 0), val(op, 1))); return;
      case OpCode::FMul: binary_same(true); set(op, b_.CreateFMul(val(op, 0), val(op, 1))); return;
      case OpCode::FDiv: binary_same(true); set(op, b_.CreateFDiv(val(op, 0), val(op, 1))); return;
      case OpCode::FNeg: binary_same(true); set(op, b_.CreateFNeg(val(op, 0))); return;
      case OpCode::FAbs: binary_same(true); set(op, b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, val(op, 0))); return;
      case OpCode::Fma:
        binary_same(true);
        set(op, b_.CreateIntrinsic(llvm::Intrinsic::fma, {type(result_type(op))}, {val(op, 0), val(op, 1), val(op, 2)}));
        return;
      case OpCode::FMin: binary_same(true); set(op, b_.CreateBinaryIntrinsic(llvm::Intrinsic::minnum, val(op, 0), val(op, 1))); return;
      case OpCode::FMax: binary_same(true); set(op, b_.CreateBinaryIntrinsic(llvm::Intrinsic::maxnum, val(op, 0), val(op, 1))); return;
      case OpCode::Sqrt: binary_same(true); set(op, b_.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, val(op, 0))); return;
      case OpCode::Rsqrt:
      case OpCode::Exp2:
      case OpCode::Log2: binary_same(true); set(op, transcendental(op)); return;

      case OpCode::ICmp:
      case OpCode::FCmp: {
        const ir::Type& a = ty(op.operands[0]);
        auto pred = ir::CmpPred(attr(op, 0));
        require(op, attr(op, 0) >= 0 && attr(op, 0) <= int64_t(ir::CmpPred::Oge), "unknown predicate");
        bool fl = op.code == OpCode::FCmp;
        require(op, a.is_value() && (fl ? a.is_float() : a.is_int()) && ty(op.operands[1]) == a,
                "operands must share one type of the comparison's kind");
        require(op, is_int_pred(pred) != fl, fmt::format("predicate {} does not fit {}", ir::pred_name(pred), info.name));
        require(op, result_type(op) == ir::Type::vector(ir::Scalar::I1, a.width) ||
                        (a.width == 1 && result_type(op) == ir::Type::scalar(ir::Scalar::I1)),
                "result must be i1 with the operands' width");
        set(op, fl ? b_.CreateFCmp(llvm_pred(pred), val(op, 0), val(op, 1))
                   : b_.CreateICmp(llvm_pred(pred), val(op, 0), val(op, 1)));
        return;
      }
      case OpCode::Select: {
        const ir::Type& c = ty(op.operands[0]);
        const ir::Type& t = result_type(op);
        require(op, c.is_bool() && (c.width == 1 || c.width == t.width), "condition must be i1 or <N x i1>");
        require(op, ty(op.operands[1]) == t && ty(op.operands[2]) == t, "both choices must have the result type");
        set(op, b_.CreateSelect(val(op, 0), val(op, 1), val(op, 2)));
        return;
      }

      case OpCode::SExt:
      case OpCode::ZExt:
      case OpCode::Trunc:
      case OpCode::SIToFP:
      case OpCode::UIToFP:
      case OpCode::FPToSI:
      case OpCode::FPToUI:
      case OpCode::FPExt:
      case OpCode::FPTrunc: {
        const ir::Type& s = ty(op.operands[0]);
        const ir::Type& d = result_type(op);
        require(op, s.is_value() && d.is_value() && s.width == d.width, "source and result must be values of one width");
        bool from_f = s.is_float(), to_f = d.is_float();
        int sb = ir::scalar_bits(s.elem), db = ir::scalar_bits(d.elem);
        llvm::Value* x = val(op, 0);
        llvm::Type* dt = type(d);
        switch (op.code) {
          case OpCode::SExt: require(op, !from_f && !to_f && db > sb, "sext widens an integer"); set(op, b_.CreateSExt(x, dt)); return;
          case OpCode::ZExt: require(op, !from_f && !to_f && db > sb, "zext widens an integer"); set(op, b_.CreateZExt(x, dt)); return;
          case OpCode::Trunc: require(op, !from_f && !to_f && db < sb, "trunc narrows an integer"); set(op, b_.CreateTrunc(x, dt)); return;
          case OpCode::SIToFP: require(op, !from_f && to_f, "sitofp converts an integer to a float"); set(op, b_.CreateSIToFP(x, dt)); return;
          case OpCode::UIToFP: require(op, !from_f && to_f, "uitofp converts an integer to a float"); set(op, b_.CreateUIToFP(x, dt)); return;
          case OpCode::FPToSI:
            require(op, from_f && !to_f, "fptosi converts a float to an integer");
            set(op, b_.CreateIntrinsic(llvm::Intrinsic::fptosi_sat, {dt, x->getType()}, {x}));
            return;
          case OpCode::FPToUI:
            require(op, from_f && !to_f, "fptoui converts a float to an integer");
            set(op, b_.CreateIntrinsic(llvm::Intrinsic::fptoui_sat, {dt, x->getType()}, {x}));
            return;
          case OpCode::FPExt:
            require(op, from_f && to_f && db > sb, "fpext widens a float");
            set(op, b_.CreateFPExt(x, dt));
            return;
          default:
            require(op, from_f && to_f && (db < sb || (db == sb && d.elem != s.elem)), "fptrunc narrows a float");
            set(op, b_.CreateFPTrunc(x, dt));
            return;
        }
      }
      case OpCode::Bitcast: {
        const ir::Type& s = ty(op.operands[0]);
        const ir::Type& d = result_type(op);
        require(op, s.is_value() && d.is_value() &&
                        ir::scalar_bits(s.elem) * s.width == ir::scalar_bits(d.elem) * d.width,
                "bitcast needs values of one size");
        set(op, b_.CreateBitCast(val(op, 0), type(d)));
        return;
      }

      case OpCode::Extract: {
        const ir::Type& v = ty(op.operands[0]);
        int64_t i = attr(op, 0);
        require(op, v.is_vector() && i >= 0 && i < v.width && result_type(op) == v.element(), "extract needs a vector and an index in range");
        set(op, b_.CreateExtractElement(val(op, 0), uint64_t(i)));
        return;
      }
      case OpCode::Insert: {
        const ir::Type& v = ty(op.operands[0]);
        int64_t i = attr(op, 0);
        require(op, v.is_vector() && i >= 0 && i < v.width && ty(op.operands[1]) == v.element() && result_type(op) == v,
                "insert needs a vector, a scalar of its element type and an index in range");
        set(op, b_.CreateInsertElement(val(op, 0), val(op, 1), uint64_t(i)));
        return;
      }
      case OpCode::Splat: {
        const ir::Type& t = result_type(op);
        require(op, t.is_vector() && ty(op.operands[0]) == t.element(), "splat makes a vector of its scalar operand");
        set(op, b_.CreateVectorSplat(t.width, val(op, 0)));
        return;
      }
      case OpCode::BuildVec: {
        const ir::Type& t = result_type(op);
        require(op, t.is_vector() && op.operands.size() == t.width, "build_vec needs one operand per element");
        llvm::Value* v = llvm::PoisonValue::get(type(t));
        for (size_t i = 0; i < op.operands.size(); ++i) {
          require(op, ty(op.operands[i]) == t.element(), "elements must have the vector's element type");
          v = b_.CreateInsertElement(v, val(op, i), uint64_t(i));
        }
        set(op, v);
        return;
      }

      case OpCode::PtrAdd: {
        const ir::Type& p = ty(op.operands[0]);
        const ir::Type& i = ty(op.operands[1]);
        require(op, p.is_pointer() && result_type(op) == p, "ptr_add takes and returns one pointer type");
        require(op, i == ir::Type::scalar(ir::Scalar::I32) || i == ir::Type::scalar(ir::Scalar::I64), "the index must be i32 or i64");
        set(op, b_.CreateInBoundsGEP(scalar_type(ctx_, p.elem), val(op, 0), val(op, 1)));
        return;
      }
      case OpCode::Load: {
        const ir::Type& t = result_type(op);
        check_access(op, ty(op.operands[0]), t);
        if (cache_policy(op) == ir::CachePolicy::Stream) {
          require(op, ty(op.operands[0]).space == ir::AddrSpace::Global, "the stream policy is for global loads");
          set(op, be_.stream_load(b_, val(op, 0), type(t), llvm::Align(natural_align(t))));
        } else {
          set(op, b_.CreateAlignedLoad(type(t), val(op, 0), llvm::Align(natural_align(t))));
        }
        return;
      }
      case OpCode::Store: {
        const ir::Type& t = ty(op.operands[1]);
        check_access(op, ty(op.operands[0]), t);
        b_.CreateAlignedStore(val(op, 1), val(op, 0), llvm::Align(natural_align(t)));
        return;
      }
      case OpCode::AtomicAdd: {
        const ir::Type& t = ty(op.operands[1]);
        check_access(op, ty(op.operands[0]), t);
        require(op, t == ir::Type::scalar(ir::Scalar::F32) || t == ir::Type::scalar(ir::Scalar::I32) ||
                        t == ir::Type::vector(ir::Scalar::BF16, 2),
                "atomic_add adds f32, i32 or <2 x bf16>");
        be_.atomic_add(b_, val(op, 0), val(op, 1));
        return;
      }
      case OpCode::SharedAlloc: {
        const ir::Type& t = result_type(op);
        require(op, t.is_pointer() && t.space == ir::AddrSpace::Shared, "shared_alloc returns a shared pointer");
        if (!shared_base_) shared_base_ = be_.shared_base(m_, fn_, fn_.shared_bytes());
        set(op, b_.CreateConstInBoundsGEP1_64(b_.getInt8Ty(), shared_base_, shared_offsets_.at(op.result)));
        return;
      }
      case OpCode::Barrier: be_.barrier(b_); return;

      case OpCode::VarNew: {
        const ir::Type& t = result_type(op);
        require(op, t.is_slot() && ty(op.operands[0]) == t.held(), "var needs an initial value of its held type");
        unsigned as = m_.getDataLayout().getAllocaAddrSpace();
        alloca_b_.SetInsertPoint(&kernel_->getEntryBlock(), kernel_->getEntryBlock().getFirstInsertionPt());
        llvm::AllocaInst* slot = alloca_b_.CreateAlloca(type(t.held()), as, nullptr, fmt::format("slot{}", op.result));
        b_.CreateStore(val(op, 0), slot);
        values_.at(op.result) = slot;
        return;
      }
      case OpCode::VarGet: {
        const ir::Type& s = ty(op.operands[0]);
        require(op, s.is_slot() && result_type(op) == s.held(), "var_get reads a slot's held type");
        set(op, b_.CreateLoad(type(s.held()), val(op, 0)));
        return;
      }
      case OpCode::VarSet: {
        const ir::Type& s = ty(op.operands[0]);
        require(op, s.is_slot() && ty(op.operands[1]) == s.held(), "var_set writes a slot's held type");
        b_.CreateStore(val(op, 1), val(op, 0));
        return;
      }

      case OpCode::For: lower_for(op); return;
      case OpCode::If: lower_if(op); return;

      case OpCode::BufferLoad: {
        const ir::Type& p = ty(op.operands[0]);
        const ir::Type& t = result_type(op);
        check_access(op, p, t);
        require(op, p.space == ir::AddrSpace::Global, "buffer_load reads global memory");
        require(op, ty(op.operands[1]) == ir::Type::scalar(ir::Scalar::I32) &&
                        ty(op.operands[2]) == ir::Type::scalar(ir::Scalar::I32),
                "num_records and offset must be i32");
        int bytes = ir::scalar_bits(t.elem) / 8 * t.width;
        require(op, bytes > 0 && bytes % 4 == 0, "buffer_load reads a multiple of 4 bytes");
        set(op, be_.buffer_load(b_, val(op, 0), val(op, 1), val(op, 2), type(t), cache_policy(op)));
        return;
      }
      default: break;
    }
    if (info.kind == ir::OpKind::Target) {
      std::vector<llvm::Value*> args;
      for (size_t i = 0; i < op.operands.size(); ++i) args.push_back(val(op, i));
      llvm::Type* rt = op.result == ir::kNoValue ? nullptr : type(result_type(op));
      set(op, be_.intrinsic(b_, op, args, rt));
      return;
    }
    fail(op, "has no LLVM lowering");
  }

  const ir::Function& fn_;
  TargetBackend& be_;
  llvm::LLVMContext& ctx_;
  llvm::Module& m_;
  llvm::Function* kernel_ = nullptr;
  IRB b_;
  IRB alloca_b_;
  std::vector<llvm::Value*> values_;
  std::unordered_map<ValueId, uint64_t> shared_offsets_;
  llvm::Value* shared_base_ = nullptr;
};

}  // namespace

std::unique_ptr<llvm::Module> lower_to_llvm(const ir::Function& fn, TargetBackend& backend, llvm::LLVMContext& ctx) {
  if (fn.name.empty()) throw InternalError("cannot compile a function without a name");
  auto m = std::make_unique<llvm::Module>(fn.name, ctx);
  llvm::TargetMachine& tm = backend.machine();
  m->setTargetTriple(tm.getTargetTriple());
  m->setDataLayout(tm.createDataLayout());
  Lowerer(fn, backend, ctx, *m).run();
  return m;
}

llvm::Value* TargetBackend::bit_select(IRB& b, llvm::Value* mask, llvm::Value* a, llvm::Value* c) {
  return b.CreateOr(b.CreateAnd(a, mask), b.CreateAnd(c, b.CreateNot(mask)));
}

llvm::Value* TargetBackend::stream_load(IRB& b, llvm::Value* ptr, llvm::Type* type, llvm::Align align) {
  llvm::LoadInst* load = b.CreateAlignedLoad(type, ptr, align);
  load->setMetadata(llvm::LLVMContext::MD_nontemporal,
                    llvm::MDNode::get(b.getContext(), {llvm::ConstantAsMetadata::get(b.getInt32(1))}));
  return load;
}

}  // namespace tilejit::backend
