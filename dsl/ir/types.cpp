// IR types: sizes, names and the canonical text form.
#include "dsl/ir/types.h"

#include <fmt/format.h>

namespace tilejit::ir {

int scalar_bits(Scalar s) {
  switch (s) {
    case Scalar::I1: return 1;
    case Scalar::I8: return 8;
    case Scalar::I16: case Scalar::F16: case Scalar::BF16: return 16;
    case Scalar::I32: case Scalar::F32: return 32;
    case Scalar::I64: case Scalar::F64: return 64;
  }
  return 0;
}

bool scalar_is_float(Scalar s) {
  return s == Scalar::F16 || s == Scalar::BF16 || s == Scalar::F32 || s == Scalar::F64;
}

std::string_view scalar_name(Scalar s) {
  switch (s) {
    case Scalar::I1: return "i1";
    case Scalar::I8: return "i8";
    case Scalar::I16: return "i16";
    case Scalar::I32: return "i32";
    case Scalar::I64: return "i64";
    case Scalar::F16: return "f16";
    case Scalar::BF16: return "bf16";
    case Scalar::F32: return "f32";
    case Scalar::F64: return "f64";
  }
  return "?";
}

std::optional<Scalar> parse_scalar(std::string_view n) {
  for (Scalar s : {Scalar::I1, Scalar::I8, Scalar::I16, Scalar::I32, Scalar::I64, Scalar::F16,
                   Scalar::BF16, Scalar::F32, Scalar::F64})
    if (scalar_name(s) == n) return s;
  return std::nullopt;
}

bool Type::is_float() const { return kind == Kind::Value && scalar_is_float(elem); }
bool Type::is_int() const { return kind == Kind::Value && !scalar_is_float(elem); }

int Type::size_bytes() const {
  switch (kind) {
    case Kind::Void: return 0;
    case Kind::Pointer: return space == AddrSpace::Shared ? 4 : 8;
    case Kind::Value:
    case Kind::Slot: return elem == Scalar::I1 ? width : width * scalar_bits(elem) / 8;
  }
  return 0;
}

std::string to_string(const Type& t) {
  auto value = [&] {
    return t.width == 1 ? std::string(scalar_name(t.elem))
                        : fmt::format("<{} x {}>", t.width, scalar_name(t.elem));
  };
  switch (t.kind) {
    case Type::Kind::Void: return "void";
    case Type::Kind::Value: return value();
    case Type::Kind::Slot: return "var<" + value() + ">";
    case Type::Kind::Pointer:
      return fmt::format("ptr<{}, {}>", t.space == AddrSpace::Shared ? "shared" : "global",
                         scalar_name(t.elem));
  }
  return "?";
}

namespace {
std::string_view trim(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  return s;
}

std::optional<Type> parse_value_type(std::string_view s) {
  s = trim(s);
  if (s.size() > 2 && s.front() == '<' && s.back() == '>') {
    auto inner = s.substr(1, s.size() - 2);
    auto x = inner.find(" x ");
    if (x == std::string_view::npos) return std::nullopt;
    int w = 0;
    for (char c : trim(inner.substr(0, x))) {
      if (c < '0' || c > '9') return std::nullopt;
      w = w * 10 + (c - '0');
      if (w > 64) return std::nullopt;
    }
    auto e = parse_scalar(trim(inner.substr(x + 3)));
    if (!e || w < 2) return std::nullopt;
    return Type::vector(*e, w);
  }
  auto e = parse_scalar(s);
  if (!e) return std::nullopt;
  return Type::scalar(*e);
}
}  // namespace

std::optional<Type> parse_type(std::string_view s) {
  s = trim(s);
  if (s == "void") return Type::void_();
  if (s.starts_with("var<") && s.back() == '>') {
    auto held = parse_value_type(s.substr(4, s.size() - 5));
    if (!held) return std::nullopt;
    return Type::slot(*held);
  }
  if (s.starts_with("ptr<") && s.back() == '>') {
    auto inner = s.substr(4, s.size() - 5);
    auto comma = inner.find(',');
    if (comma == std::string_view::npos) return std::nullopt;
    auto space = trim(inner.substr(0, comma));
    auto elem = parse_scalar(trim(inner.substr(comma + 1)));
    if (!elem) return std::nullopt;
    if (space == "global") return Type::pointer(*elem, AddrSpace::Global);
    if (space == "shared") return Type::pointer(*elem, AddrSpace::Shared);
    return std::nullopt;
  }
  return parse_value_type(s);
}

}  // namespace tilejit::ir
