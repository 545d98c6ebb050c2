// Op registry tables, predicates and constant bit conversions.
#include "dsl/ir/ir.h"

#include <bit>
#include <cmath>
#include <cstring>

#include "dsl/ir/numeric.h"

namespace tilejit::ir {

namespace {
constexpr OpInfo kOps[] = {
#define TILEJIT_OP(Enum, text, operands, regions, kind) {text, operands, regions, OpKind::kind},
#include "dsl/ir/ops.def"
#undef TILEJIT_OP
};
constexpr std::string_view kPreds[] = {"eq",  "ne",  "slt", "sle", "sgt", "sge", "ult", "ule",
                                       "ugt", "uge", "oeq", "une", "olt", "ole", "ogt", "oge"};
}  // namespace

const OpInfo& op_info(OpCode code) { return kOps[size_t(code)]; }

bool op_from_name(std::string_view name, OpCode& out) {
  for (size_t i = 0; i < size_t(OpCode::Count_); ++i)
    if (kOps[i].name == name) {
      out = OpCode(i);
      return true;
    }
  return false;
}

std::string_view pred_name(CmpPred p) { return kPreds[size_t(p)]; }

bool pred_from_name(std::string_view name, CmpPred& out) {
  for (size_t i = 0; i < std::size(kPreds); ++i)
    if (kPreds[i] == name) {
      out = CmpPred(i);
      return true;
    }
  return false;
}

std::string SourceLoc::str() const {
  if (!known()) return "<unknown location>";
  return file + ":" + std::to_string(line);
}

uint64_t Function::shared_bytes() const {
  uint64_t total = 0;
  walk(body, [&](const Op& op) {
    if (op.code == OpCode::SharedAlloc) {
      total = (total + 15) & ~uint64_t(15);
      total += uint64_t(op.attrs.at(0)) * uint64_t(Type::scalar(value_types[op.result].elem).size_bytes());
    }
  });
  return total;
}

int64_t const_bits_of_double(Type t, double v) {
  switch (t.elem) {
    case Scalar::F64: return std::bit_cast<int64_t>(v);
    case Scalar::F32: return std::bit_cast<uint32_t>(float(v));
    case Scalar::BF16: return f32_to_bf16(float(v));
    case Scalar::F16: return f32_to_f16(float(v));
    case Scalar::I1: return v != 0;
    default: return int64_t(v);
  }
}

double const_bits_to_double(Type t, int64_t bits) {
  switch (t.elem) {
    case Scalar::F64: return std::bit_cast<double>(bits);
    case Scalar::F32: return std::bit_cast<float>(uint32_t(bits));
    case Scalar::BF16: return bf16_to_f32(uint16_t(bits));
    case Scalar::F16: return f16_to_f32(uint16_t(bits));
    default: return double(bits);
  }
}

}  // namespace tilejit::ir
