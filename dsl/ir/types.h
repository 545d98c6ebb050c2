// IR types: scalars, short vectors, pointers tagged with an address space, slots.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tilejit::ir {

enum class Scalar : uint8_t { I1, I8, I16, I32, I64, F16, BF16, F32, F64 };

/// Address spaces use the numbers both GPU targets give them in LLVM.
enum class AddrSpace : uint8_t { Global = 1, Shared = 3 };

/// A value's type. Pointers point at scalars; a vector load through a pointer
/// reads `width` consecutive elements. A slot is a mutable variable holding a
/// scalar or vector of (elem, width).
struct Type {
  enum class Kind : uint8_t { Void, Value, Pointer, Slot };
  Kind kind = Kind::Void;
  Scalar elem = Scalar::I32;
  uint8_t width = 1;  // vector width; 1 = scalar
  AddrSpace space = AddrSpace::Global;

  static Type void_() { return {}; }
  static Type scalar(Scalar s) { return {Kind::Value, s, 1, AddrSpace::Global}; }
  static Type vector(Scalar s, int w) { return {Kind::Value, s, uint8_t(w), AddrSpace::Global}; }
  static Type pointer(Scalar pointee, AddrSpace sp) { return {Kind::Pointer, pointee, 1, sp}; }
  static Type slot(Type held) { return {Kind::Slot, held.elem, held.width, AddrSpace::Global}; }

  bool is_void() const { return kind == Kind::Void; }
  bool is_value() const { return kind == Kind::Value; }
  bool is_pointer() const { return kind == Kind::Pointer; }
  bool is_slot() const { return kind == Kind::Slot; }
  bool is_vector() const { return kind == Kind::Value && width > 1; }
  bool is_scalar() const { return kind == Kind::Value && width == 1; }
  bool is_float() const;   // element is f16/bf16/f32/f64 (value kind only)
  bool is_int() const;     // element is i1..i64 (value kind only)
  bool is_bool() const { return kind == Kind::Value && elem == Scalar::I1; }
  /// Element type as a scalar value type (the held type of a slot, the pointee of a pointer).
  Type element() const { return scalar(elem); }
  /// The value type a slot holds.
  Type held() const { return {Kind::Value, elem, width, AddrSpace::Global}; }
  /// Size in bytes of a value of this type (pointers: 8 global, 4 shared).
  int size_bytes() const;

  bool operator==(const Type&) const = default;
};

int scalar_bits(Scalar s);
bool scalar_is_float(Scalar s);
std::string_view scalar_name(Scalar s);
std::optional<Scalar> parse_scalar(std::string_view name);

/// Canonical text: i32, bf16, <4 x f32>, ptr<global, f32>, var<f32>, void.
std::string to_string(const Type& t);
/// Parses the canonical text; nullopt when malformed.
std::optional<Type> parse_type(std::string_view text);

}  // namespace tilejit::ir
