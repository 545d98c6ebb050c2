// The IR's canonical text form: a deterministic, readable printer (parser.h reads it back).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "dsl/ir/ir.h"

namespace tilejit::ir {

/// What the printer adds beyond the canonical text.
struct PrintOptions {
  /// Append `  // file:line` (the op's SourceLoc) to each op line; not canonical.
  bool locations = false;
};

/// Prints a function. Values are renumbered %0, %1, ... in definition order, so
/// two traces of one kernel print identically whatever their internal ids. Example:
/// @code
/// kernel scale(x: ptr<global, f32>, n: i32) block_size(256, 1, 1) {
///   %0 = param x : ptr<global, f32>
///   %1 = thread_id x : i32
///   %2 = ptr_add %0, %1 : ptr<global, f32>
///   %3 = load %2 : f32
///   %4 = const 2.0 : f32
///   %5 = fmul %3, %4 : f32
///   store %2, %5
/// }
/// @endcode
/// Loops print as `for %6: i32 = %lo to %hi step %st {`, branches as
/// `if %c {` ... `} else {` ... `}` (an empty else is left out).
std::string print(const Function& fn, const PrintOptions& options = {});

/// The printed line of one op of `fn` (its header, without regions, indentation or
/// location), numbered as print(fn) numbers it. Used in diagnostics.
std::string print_op(const Function& fn, const Op& op);

/// The printed name (%N) of a value of `fn`; `%?id` when no op or region defines it.
std::string print_value(const Function& fn, ValueId v);

/// Text of a const's value: shortest round-tripping decimal for finite floats
/// (bf16/f16 through their exact f32 value), raw hex bits (0x7fc00000) for NaN, Inf
/// and bits outside the type, `true`/`false` for i1, decimal for integers.
std::string format_const(const Type& type, int64_t bits);

/// Name of an mma instruction id (attr 0 of `mma`): 0 "gfx950_mfma_16x16x32_bf16",
/// 1 "sm90a_mma_m16n8k16_bf16"; empty for unknown ids.
std::string_view mma_instr_name(int64_t id);
/// Inverse of mma_instr_name.
std::optional<int64_t> mma_instr_from_name(std::string_view name);

/// True when `s` prints bare ([A-Za-z_][A-Za-z0-9_]*); other names print quoted.
bool is_plain_name(std::string_view s);

}  // namespace tilejit::ir
