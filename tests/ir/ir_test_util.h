// Shared helpers for the IR tests: sample kernels, structural comparison, random IR.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "dsl/ir/builder.h"
#include "dsl/ir/ir.h"
#include "dsl/target.h"

namespace tilejit::ir::test {

inline Type i1() { return Type::scalar(Scalar::I1); }
inline Type i32() { return Type::scalar(Scalar::I32); }
inline Type i64() { return Type::scalar(Scalar::I64); }
inline Type f32() { return Type::scalar(Scalar::F32); }
inline Type bf16() { return Type::scalar(Scalar::BF16); }
inline Type vec(Scalar s, int w) { return Type::vector(s, w); }
inline Type gptr(Scalar s) { return Type::pointer(s, AddrSpace::Global); }
inline Type sptr(Scalar s) { return Type::pointer(s, AddrSpace::Shared); }

/// Emits a for loop; `body` receives the induction variable. Returns the loop op's
/// position in the enclosing region.
size_t emit_for(Builder& b, ValueId lo, ValueId hi, ValueId step, const std::function<void(ValueId)>& body,
                SourceLoc loc = {});
/// Emits an if; `els` may be empty (no else ops).
size_t emit_if(Builder& b, ValueId cond, const std::function<void()>& then,
               const std::function<void()>& els = {}, SourceLoc loc = {});

/// A guarded element-wise kernel: if (gid < n) x[gid] *= 2.5.
Function make_scale();
/// Nested loops and branches with a slot, on uniform values only.
Function make_loops();
/// A kernel that uses every op valid on `target` with valid types.
Function make_valid(Target target);

/// A copy of `fn` whose value ids are randomly permuted, with unused ids mixed in.
Function renumber(const Function& fn, std::mt19937& rng);
/// A random, usually invalid but well-formed function: every op kind, random
/// operands among defined values, random attributes, types, locations and nesting.
Function random_function(std::mt19937& rng);

/// Equal up to a renaming of value ids: same ops, attrs, types, params, regions
/// (and locations when `locations`).
::testing::AssertionResult same_structure(const Function& a, const Function& b, bool locations);

/// Seed for a test's random generator, from std::random_device.
unsigned fresh_seed();

}  // namespace tilejit::ir::test
