// Helpers for the LLVM backend tests: an IR kernel builder, FileCheck, an ELF symbol reader, randomness.
#pragma once
#include <cstdint>
#include <functional>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "backend/llvm/compile.h"
#include "dsl/ir/builder.h"

namespace tilejit::test {

using ir::OpCode;
using ir::Scalar;
using ir::Type;
using ir::ValueId;

inline Type i1() { return Type::scalar(Scalar::I1); }
inline Type i32() { return Type::scalar(Scalar::I32); }
inline Type i64() { return Type::scalar(Scalar::I64); }
inline Type f32() { return Type::scalar(Scalar::F32); }
inline Type bf16() { return Type::scalar(Scalar::BF16); }
inline Type vec(Scalar s, int n) { return Type::vector(s, n); }
inline Type gptr(Scalar s) { return Type::pointer(s, ir::AddrSpace::Global); }
inline Type sptr(Scalar s) { return Type::pointer(s, ir::AddrSpace::Shared); }

/// Builds one kernel op by op. Not copyable or movable (the builder points at fn).
class Kernel {
 public:
  explicit Kernel(std::string name) { fn.name = std::move(name); }
  Kernel(const Kernel&) = delete;
  Kernel& operator=(const Kernel&) = delete;

  ir::Function fn;
  ir::Builder b{fn};

  /// Declares a parameter and reads it.
  ValueId param(const std::string& name, Type t);
  ValueId ci32(int64_t v) { return b.const_int(i32(), v); }
  ValueId cf32(float v) { return b.const_float(f32(), v); }
  ValueId op(OpCode c, Type t, std::vector<ValueId> operands, std::vector<int64_t> attrs = {}) {
    return b.emit(c, t, std::move(operands), std::move(attrs));
  }
  void effect(OpCode c, std::vector<ValueId> operands, std::vector<int64_t> attrs = {}) {
    b.emit(c, Type::void_(), std::move(operands), std::move(attrs));
  }
  /// block_id.x * block_dim.x + thread_id.x
  ValueId global_id();
  ValueId ptr_add(ValueId p, ValueId idx) { return op(OpCode::PtrAdd, fn.type_of(p), {p, idx}); }
  ValueId load(Type t, ValueId p) { return op(OpCode::Load, t, {p}); }
  void store(ValueId p, ValueId v) { effect(OpCode::Store, {p, v}); }
  /// for (i = lo; i < hi; i += step) body(i)
  void for_(ValueId lo, ValueId hi, ValueId step, const std::function<void(ValueId)>& body);
  /// if (cond) then() else otherwise()
  void if_(ValueId cond, const std::function<void()>& then, const std::function<void()>& otherwise = {});
};

/// c[i..i+3] = a[i..i+3] + b[i..i+3] with i = 4 * global id: 16-byte vector accesses.
void build_vector_add(Kernel& k);

/// Compiles `fn`; on failure the test fails with the exception text.
backend::CompileResult compile_or_fail(const ir::Function& fn, Target t);

/// Runs FileCheck on `input` with the check lines `checks` (a string) and prefix `prefix`.
/// Returns "" on success, else FileCheck's report followed by the input.
std::string file_check(const std::string& input, const std::string& checks, const std::string& prefix = "CHECK");
/// Same, with the checks read from tests/llvm/checks/<name>.
std::string file_check_file(const std::string& input, const std::string& name, const std::string& prefix);

/// Runs a command and returns its standard output (throws when it cannot start).
std::string run_command(const std::string& command, int* status = nullptr);
/// Writes bytes to a new temporary file and returns its path.
std::string write_temp(std::span<const uint8_t> bytes, const std::string& suffix);

/// An ELF file's machine, type and the names of its symbols (symtab and dynsym), read without LLVM.
struct ElfInfo {
  bool valid = false;
  uint8_t os_abi = 0;       // e_ident[EI_OSABI]
  uint8_t abi_version = 0;  // e_ident[EI_ABIVERSION]
  uint16_t type = 0;
  uint16_t machine = 0;
  std::vector<std::string> symbols;
};
ElfInfo read_elf(std::span<const uint8_t> bytes);

/// Number of non-overlapping occurrences of `needle` in `hay`.
size_t count(const std::string& hay, const std::string& needle);

/// A generator seeded from std::random_device; the seed is kept for failure messages.
struct Rng {
  uint32_t seed = std::random_device{}();
  std::mt19937 gen{seed};
  int uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(gen); }
  std::string trace() const { return "random seed " + std::to_string(seed); }
};

/// The bf16 bits nearest to `x` (round to nearest, ties to even; NaN stays NaN), computed on doubles.
uint16_t reference_bf16(float x);

}  // namespace tilejit::test
