// The IR printer: canonical numbering, one op per line, exact constants.
#include "dsl/ir/printer.h"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <vector>

#include "dsl/ir/numeric.h"

namespace tilejit::ir {

namespace {

constexpr std::string_view kMmaNames[] = {"gfx950_mfma_16x16x32_bf16", "sm90a_mma_m16n8k16_bf16"};
constexpr std::string_view kDims[] = {"x", "y", "z"};
constexpr uint32_t kUnnumbered = ~0u;

/// Ops whose first attribute prints as a word right after the op name.
bool has_keyword(OpCode c) {
  switch (c) {
    case OpCode::Const: case OpCode::Param: case OpCode::ThreadId: case OpCode::BlockId:
    case OpCode::BlockDim: case OpCode::GridDim: case OpCode::ICmp: case OpCode::FCmp:
    case OpCode::Mma:
      return true;
    default:
      return false;
  }
}

std::string quote_name(std::string_view s) {
  if (is_plain_name(s)) return std::string(s);
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += char(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += char(c);
    }
  }
  return out + "\"";
}

std::string float_text(float v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string double_text(double v) {
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  std::string s(buf, r.ptr);
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

/// Numbers every value of a function in definition order and prints ops.
class Printer {
 public:
  Printer(const Function& fn, PrintOptions opts) : fn_(fn), opts_(opts) {
    numbers_.assign(fn.value_types.size(), kUnnumbered);
    number_region(fn.body);
    for (size_t i = 0; i < fn.params.size(); ++i) {
      bool unique = true;
      for (size_t j = 0; j < fn.params.size(); ++j)
        if (j != i && fn.params[j].name == fn.params[i].name) unique = false;
      param_by_name_.push_back(unique && is_plain_name(fn.params[i].name));
    }
  }

  std::string value(ValueId v) const {
    if (v < numbers_.size() && numbers_[v] != kUnnumbered) return fmt::format("%{}", numbers_[v]);
    return fmt::format("%?{}", v);
  }

  std::string function() const {
    std::string out = "kernel " + quote_name(fn_.name) + "(";
    for (size_t i = 0; i < fn_.params.size(); ++i) {
      if (i) out += ", ";
      out += quote_name(fn_.params[i].name) + ": " + to_string(fn_.params[i].type);
    }
    out += ")";
    const uint32_t* bs = fn_.block_size;
    if (bs[0] || bs[1] || bs[2]) out += fmt::format(" block_size({}, {}, {})", bs[0], bs[1], bs[2]);
    if (fn_.min_blocks_per_sm) out += fmt::format(" min_blocks_per_sm({})", fn_.min_blocks_per_sm);
    out += " {";
    out += region_args(fn_.body);
    out += "\n";
    region_body(fn_.body, 1, out);
    out += "}\n";
    return out;
  }

  /// The op's header: result, name, attributes, operands, type (no regions).
  std::string header(const Op& op) const {
    std::string out;
    if (op.result != kNoValue) out += value(op.result) + " = ";
    out += op_info(op.code).name;
    if (pretty_for(op)) {
      ValueId iv = op.regions[0].args[0];
      out += fmt::format(" {}: {} = {} to {} step {}", value(iv), type_text(iv), value(op.operands[0]),
                         value(op.operands[1]), value(op.operands[2]));
      return out;
    }
    size_t first_attr = 0;
    if (has_keyword(op.code) && !op.attrs.empty()) {
      out += " " + keyword(op);
      first_attr = 1;
    }
    bool first = true;
    auto item = [&](const std::string& s) {
      out += first ? " " : ", ";
      out += s;
      first = false;
    };
    for (ValueId v : op.operands) item(value(v));
    for (size_t i = first_attr; i < op.attrs.size(); ++i) item(std::to_string(op.attrs[i]));
    if (op.result != kNoValue) out += " : " + type_text(op.result);
    return out;
  }

 private:
  void number(ValueId v) {
    if (v < numbers_.size() && numbers_[v] == kUnnumbered) numbers_[v] = next_++;
  }

  void number_region(const Region& r) {
    for (ValueId a : r.args) number(a);
    for (const Op& op : r.ops) {
      if (op.result != kNoValue) number(op.result);
      for (const Region& sub : op.regions) number_region(sub);
    }
  }

  std::string type_text(ValueId v) const {
    return v < fn_.value_types.size() ? to_string(fn_.value_types[v]) : "void";
  }

  static bool pretty_for(const Op& op) {
    return op.code == OpCode::For && op.operands.size() == 3 && op.attrs.empty() &&
           op.result == kNoValue && op.regions.size() == 1 && op.regions[0].args.size() == 1;
  }

  std::string keyword(const Op& op) const {
    int64_t a = op.attrs[0];
    switch (op.code) {
      case OpCode::Const:
        if (op.result != kNoValue && op.result < fn_.value_types.size())
          return format_const(fn_.value_types[op.result], a);
        return std::to_string(a);
      case OpCode::Param:
        if (a >= 0 && size_t(a) < fn_.params.size() && param_by_name_[size_t(a)])
          return fn_.params[size_t(a)].name;
        return std::to_string(a);
      case OpCode::ThreadId: case OpCode::BlockId: case OpCode::BlockDim: case OpCode::GridDim:
        if (a >= 0 && a < 3) return std::string(kDims[a]);
        return std::to_string(a);
      case OpCode::ICmp: case OpCode::FCmp:
        if (a >= 0 && a <= int64_t(CmpPred::Oge)) return std::string(pred_name(CmpPred(a)));
        return std::to_string(a);
      case OpCode::Mma:
        if (!mma_instr_name(a).empty()) return std::string(mma_instr_name(a));
        return std::to_string(a);
      default:
        return std::to_string(a);
    }
  }

  std::string region_args(const Region& r) const {
    if (r.args.empty()) return "";
    std::string out = " (";
    for (size_t i = 0; i < r.args.size(); ++i) {
      if (i) out += ", ";
      out += value(r.args[i]) + ": " + type_text(r.args[i]);
    }
    return out + ")";
  }

  std::string location(const Op& op) const {
    if (!opts_.locations || !op.loc.known()) return "";
    std::string s = op.loc.str();
    for (char& c : s)
      if (static_cast<unsigned char>(c) < 0x20) c = '?';
    return "  // " + s;
  }

  void region_body(const Region& r, int depth, std::string& out) const {
    std::string indent(size_t(depth) * 2, ' ');
    for (const Op& op : r.ops) {
      out += indent + header(op);
      if (op.regions.empty()) {
        out += location(op) + "\n";
        continue;
      }
      bool skip_last = op.code == OpCode::If && op.regions.size() == 2 && op.regions[1].ops.empty() &&
                       op.regions[1].args.empty();
      size_t n = skip_last ? 1 : op.regions.size();
      for (size_t i = 0; i < n; ++i) {
        const Region& sub = op.regions[i];
        if (i == 0) {
          out += " {";
        } else {
          out += indent + (op.code == OpCode::If && i == 1 ? "} else {" : "} {");
        }
        if (!(i == 0 && pretty_for(op))) out += region_args(sub);
        if (i == 0) out += location(op);
        out += "\n";
        region_body(sub, depth + 1, out);
      }
      out += indent + "}\n";
    }
  }

  const Function& fn_;
  PrintOptions opts_;
  std::vector<uint32_t> numbers_;
  std::vector<bool> param_by_name_;
  uint32_t next_ = 0;
};

}  // namespace

bool is_plain_name(std::string_view s) {
  if (s.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(s[0])) return false;
  for (char c : s)
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  return true;
}

std::string_view mma_instr_name(int64_t id) {
  if (id < 0 || id >= int64_t(std::size(kMmaNames))) return {};
  return kMmaNames[id];
}

std::optional<int64_t> mma_instr_from_name(std::string_view name) {
  for (size_t i = 0; i < std::size(kMmaNames); ++i)
    if (kMmaNames[i] == name) return int64_t(i);
  return std::nullopt;
}

std::string format_const(const Type& type, int64_t bits) {
  if (type.kind != Type::Kind::Value) return std::to_string(bits);
  if (!type.is_float()) {
    if (type.elem == Scalar::I1 && (bits == 0 || bits == 1)) return bits ? "true" : "false";
    return std::to_string(bits);
  }
  const uint64_t u = uint64_t(bits);
  const int width = scalar_bits(type.elem);
  if (width < 64 && (u >> width) != 0) return fmt::format("0x{:016x}", u);
  switch (type.elem) {
    case Scalar::F64:
      if ((u & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) return fmt::format("0x{:016x}", u);
      return double_text(std::bit_cast<double>(u));
    case Scalar::F32:
      if ((u & 0x7f800000u) == 0x7f800000u) return fmt::format("0x{:08x}", u);
      return float_text(std::bit_cast<float>(uint32_t(u)));
    case Scalar::BF16:
      if ((u & 0x7f80u) == 0x7f80u) return fmt::format("0x{:04x}", u);
      return float_text(bf16_to_f32(uint16_t(u)));
    case Scalar::F16:
      if ((u & 0x7c00u) == 0x7c00u) return fmt::format("0x{:04x}", u);
      return float_text(f16_to_f32(uint16_t(u)));
    default:
      return std::to_string(bits);
  }
}

std::string print(const Function& fn, const PrintOptions& options) {
  return Printer(fn, options).function();
}

std::string print_op(const Function& fn, const Op& op) { return Printer(fn, {}).header(op); }

std::string print_value(const Function& fn, ValueId v) { return Printer(fn, {}).value(v); }

}  // namespace tilejit::ir
