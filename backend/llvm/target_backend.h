// Internal interface between the shared IR -> LLVM IR lowering and one GPU target (LLVM types).
#pragma once
#include <memory>
#include <string>
#include <string_view>

#include <llvm/ADT/ArrayRef.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Target/TargetMachine.h>

#include "backend/llvm/compile.h"
#include "dsl/ir/ir.h"
#include "dsl/target.h"

namespace tilejit::backend {

using IRB = llvm::IRBuilder<>;

/// One GPU target: its target machine, the target-specific parts of the
/// lowering (ids, barrier, atomics, shared memory, intrinsics) and code
/// generation. One instance per compile; never shared between threads.
class TargetBackend {
 public:
  virtual ~TargetBackend() = default;

  virtual Target target() const = 0;
  llvm::TargetMachine& machine() { return *tm_; }

  /// Sets the calling convention, attributes and metadata of the kernel.
  virtual void define_kernel(llvm::Function& kernel, const ir::Function& fn) = 0;
  /// thread_id / block_id / block_dim / grid_dim of dimension `dim` (i32).
  virtual llvm::Value* work_item_id(IRB& b, ir::OpCode code, int dim, const ir::Function& fn) = 0;
  /// The lane index within the wave (i32).
  virtual llvm::Value* lane_id(IRB& b) = 0;
  /// Base of the kernel's shared memory (ptr addrspace(3), 16-byte aligned);
  /// allocations sit at their program-order offsets from it.
  virtual llvm::Value* shared_base(llvm::Module& m, const ir::Function& fn, uint64_t bytes) = 0;
  /// Workgroup barrier with the fences that make shared memory writes visible.
  virtual void barrier(IRB& b) = 0;
  /// Relaxed device-scope atomic add of f32, i32 or <2 x bfloat> `v` at `ptr`.
  virtual void atomic_add(IRB& b, llvm::Value* ptr, llvm::Value* v) = 0;
  /// Range-checked load (see ops.def, buffer_load); `result` is a multiple of 4 bytes.
  virtual llvm::Value* buffer_load(IRB& b, llvm::Value* base, llvm::Value* num_records,
                                   llvm::Value* offset, llvm::Type* result, ir::CachePolicy policy) = 0;
  /// A global load of `type` with the stream cache policy (ir::CachePolicy); by default a
  /// nontemporal load.
  virtual llvm::Value* stream_load(IRB& b, llvm::Value* ptr, llvm::Type* type, llvm::Align align);
  /// (a & mask) | (b & ~mask) of integers; by default in plain LLVM (AMDGPU selects v_bfi_b32 / v_bitop3_b32).
  virtual llvm::Value* bit_select(IRB& b, llvm::Value* mask, llvm::Value* a, llvm::Value* c);
  /// rsqrt / exp2 / log2 of a scalar f32.
  virtual llvm::Value* transcendental(IRB& b, ir::OpCode code, llvm::Value* x) = 0;
  /// A target intrinsic op (kind Target). Throws InternalError when the target lacks it.
  virtual llvm::Value* intrinsic(IRB& b, const ir::Op& op, llvm::ArrayRef<llvm::Value*> args,
                                 llvm::Type* result) = 0;

  /// The optimisation pipeline for `opt_level` in PassBuilder text, or "" for LLVM's default
  /// pipeline of that level (CompileOptions::default_pipeline forces the default).
  virtual std::string opt_pipeline(int opt_level) const { (void)opt_level; return ""; }
  /// Passes to run after the optimisation pipeline, in PassBuilder text ("" = none).
  virtual std::string post_opt_pipeline() const { return ""; }
  /// Generates code for the optimised module and fills `out.code`, `out.assembly`,
  /// `out.resources_json`, `out.codegen_ms` and `out.link_ms`.
  virtual void emit(llvm::Module& m, const ir::Function& fn, CompileResult& out) = 0;

 protected:
  std::unique_ptr<llvm::TargetMachine> tm_;
};

/// Lowers `fn` into a new module of `ctx` for `backend`'s target (unoptimised,
/// verified). Throws InternalError naming the op when the IR is malformed.
std::unique_ptr<llvm::Module> lower_to_llvm(const ir::Function& fn, TargetBackend& backend,
                                            llvm::LLVMContext& ctx);

/// Formats an InternalError message for op `op` of `fn` ("fn: op 'x' at file:line: what").
std::string op_error(const ir::Function& fn, const ir::Op& op, std::string_view what);

/// A target machine for `triple`/`cpu`/`features` at `opt_level` (0..3), PIC.
std::unique_ptr<llvm::TargetMachine> create_target_machine(std::string_view triple, std::string_view cpu,
                                                           std::string_view features, int opt_level);

/// Milliseconds elapsed since `start` (a steady_clock time point in nanoseconds).
double ms_since(int64_t start_ns);
int64_t now_ns();

/// Makes `ctx` collect LLVM's error diagnostics instead of exiting the process.
void collect_llvm_diagnostics(llvm::LLVMContext& ctx);
/// Throws InternalError ("<stage>: <LLVM's messages>") when `ctx` collected errors.
void check_llvm_diagnostics(llvm::LLVMContext& ctx, std::string_view stage);

}  // namespace tilejit::backend
