// compile(): LLVM set-up (targets, error handling), lowering, the O3 pipeline and code generation.
#include "backend/llvm/compile.h"

#include <fmt/format.h>

#include <chrono>
#include <mutex>

#include <nlohmann/json.hpp>

#include <llvm/Config/llvm-config.h>
#include <llvm/IR/DiagnosticHandler.h>
#include <llvm/IR/DiagnosticInfo.h>
#include <llvm/IR/DiagnosticPrinter.h>
#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/ErrorHandling.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetOptions.h>

#include "backend/amdgpu/gfx950.h"
#include "backend/llvm/target_backend.h"
#include "backend/nvptx/sm90a.h"
#include "dsl/error.h"

extern "C" {
void LLVMInitializeAMDGPUTargetInfo();
void LLVMInitializeAMDGPUTarget();
void LLVMInitializeAMDGPUTargetMC();
void LLVMInitializeAMDGPUAsmPrinter();
void LLVMInitializeAMDGPUAsmParser();
void LLVMInitializeAMDGPUDisassembler();
void LLVMInitializeNVPTXTargetInfo();
void LLVMInitializeNVPTXTarget();
void LLVMInitializeNVPTXTargetMC();
void LLVMInitializeNVPTXAsmPrinter();
}

namespace tilejit::backend {

namespace {

/// Collects error diagnostics (LLVM's default handler would exit the process).
struct DiagnosticCollector final : llvm::DiagnosticHandler {
  std::string errors;
  bool handleDiagnostics(const llvm::DiagnosticInfo& di) override {
    if (di.getSeverity() != llvm::DS_Error) return true;
    llvm::raw_string_ostream os(errors);
    if (!errors.empty()) os << "\n";
    llvm::DiagnosticPrinterRawOStream printer(os);
    di.print(printer);
    return true;
  }
};

/// Set on the thread whose LLVM call hit a fatal error: its module and context
/// are left half-updated and must be leaked, not destroyed.
thread_local bool t_llvm_fatal = false;

/// LLVM fatal errors become InternalError instead of ending the process.
void throw_on_fatal_error(void*, const char* reason, bool) {
  t_llvm_fatal = true;
  throw InternalError(fmt::format("LLVM fatal error: {}", reason));
}

/// Installs the throwing fatal-error handler while at least one compile runs, so
/// that other LLVM users in the process keep LLVM's default behaviour otherwise.
class FatalErrorScope {
 public:
  FatalErrorScope() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (users_++ == 0) llvm::install_fatal_error_handler(throw_on_fatal_error, nullptr);
  }
  ~FatalErrorScope() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--users_ == 0) llvm::remove_fatal_error_handler();
  }
  FatalErrorScope(const FatalErrorScope&) = delete;
  FatalErrorScope& operator=(const FatalErrorScope&) = delete;

 private:
  static inline std::mutex mutex_;
  static inline int users_ = 0;
};

void initialise_llvm() {
  static std::once_flag once;
  std::call_once(once, [] {
    LLVMInitializeAMDGPUTargetInfo();
    LLVMInitializeAMDGPUTarget();
    LLVMInitializeAMDGPUTargetMC();
    LLVMInitializeAMDGPUAsmPrinter();
    LLVMInitializeAMDGPUAsmParser();
    LLVMInitializeAMDGPUDisassembler();
    LLVMInitializeNVPTXTargetInfo();
    LLVMInitializeNVPTXTarget();
    LLVMInitializeNVPTXTargetMC();
    LLVMInitializeNVPTXAsmPrinter();
  });
}

llvm::CodeGenOptLevel codegen_level(int opt_level) {
  switch (opt_level) {
    case 0: return llvm::CodeGenOptLevel::None;
    case 1: return llvm::CodeGenOptLevel::Less;
    case 2: return llvm::CodeGenOptLevel::Default;
    default: return llvm::CodeGenOptLevel::Aggressive;
  }
}

void optimise(llvm::Module& m, TargetBackend& backend, int opt_level, bool default_pipeline) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PassBuilder pb(&backend.machine());
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  static const llvm::OptimizationLevel levels[] = {llvm::OptimizationLevel::O0, llvm::OptimizationLevel::O1,
                                                   llvm::OptimizationLevel::O2, llvm::OptimizationLevel::O3};
  llvm::ModulePassManager mpm;
  if (std::string own = default_pipeline ? "" : backend.opt_pipeline(opt_level); !own.empty()) {
    if (llvm::Error e = pb.parsePassPipeline(mpm, own))
      throw InternalError(fmt::format("pass pipeline '{}': {}", own, llvm::toString(std::move(e))));
  } else {
    mpm = opt_level == 0 ? pb.buildO0DefaultPipeline(llvm::OptimizationLevel::O0)
                         : pb.buildPerModuleDefaultPipeline(levels[opt_level]);
  }
  if (std::string extra = backend.post_opt_pipeline(); !extra.empty())
    if (llvm::Error e = pb.parsePassPipeline(mpm, extra))
      throw InternalError(fmt::format("pass pipeline '{}': {}", extra, llvm::toString(std::move(e))));
  mpm.run(m, mam);
}

void run_stages(const ir::Function& fn, llvm::Module& mod, TargetBackend& backend, const CompileOptions& options,
                int64_t start, CompileResult& out);

}  // namespace

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double ms_since(int64_t start_ns) { return double(now_ns() - start_ns) / 1e6; }

void collect_llvm_diagnostics(llvm::LLVMContext& ctx) {
  ctx.setDiagnosticHandler(std::make_unique<DiagnosticCollector>());
}

void check_llvm_diagnostics(llvm::LLVMContext& ctx, std::string_view stage) {
  auto* collector = const_cast<DiagnosticCollector*>(dynamic_cast<const DiagnosticCollector*>(ctx.getDiagHandlerPtr()));
  if (!collector || collector->errors.empty()) return;
  std::string errors = std::move(collector->errors);
  collector->errors.clear();
  throw InternalError(fmt::format("{}: {}", stage, errors));
}

std::unique_ptr<llvm::TargetMachine> create_target_machine(std::string_view triple, std::string_view cpu,
                                                           std::string_view features, int opt_level) {
  initialise_llvm();
  llvm::Triple tt{llvm::StringRef(triple)};
  std::string error;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(tt, error);
  if (!target) throw InternalError(fmt::format("LLVM has no target for {}: {}", triple, error));
  llvm::TargetOptions options;
  options.AllowFPOpFusion = llvm::FPOpFusion::Strict;  // no contraction: fmul then fadd stays two roundings
  std::unique_ptr<llvm::TargetMachine> tm(target->createTargetMachine(
      tt, cpu, features, options, llvm::Reloc::PIC_, std::nullopt, codegen_level(opt_level)));
  if (!tm) throw InternalError(fmt::format("LLVM cannot create a target machine for {} {}", triple, cpu));
  return tm;
}

CompileResult compile(const ir::Function& fn, Target target, const CompileOptions& options) {
  initialise_llvm();
  if (options.opt_level < 0 || options.opt_level > 3)
    throw InternalError(fmt::format("opt_level {} is not 0..3", options.opt_level));
  const TargetInfo& info = target_info(target);
  if (fn.shared_bytes() > info.max_shared_bytes)
    throw OutOfResources(fmt::format("{}: {} bytes of shared memory exceed the {} limit of {} bytes", fn.name,
                                     fn.shared_bytes(), info.name, info.max_shared_bytes));
  int64_t start = now_ns();
  CompileResult out;
  FatalErrorScope fatal_errors_throw;
  t_llvm_fatal = false;
  auto ctx_owner = std::make_unique<llvm::LLVMContext>();
  llvm::LLVMContext& ctx = *ctx_owner;
  collect_llvm_diagnostics(ctx);
  std::unique_ptr<TargetBackend> backend = target == Target::Gfx950 ? make_gfx950_backend(options.opt_level)
                                                                    : make_sm90a_backend(options.opt_level);
  std::unique_ptr<llvm::Module> m;
  try {
    m = lower_to_llvm(fn, *backend, ctx);
    run_stages(fn, *m, *backend, options, start, out);
  } catch (...) {
    if (t_llvm_fatal) {  // LLVM state is inconsistent: leak it rather than run its destructors
      (void)m.release();
      (void)backend.release();
      (void)ctx_owner.release();
    }
    throw;
  }
  m.reset();
  backend.reset();
  return out;
}

namespace {
void run_stages(const ir::Function& fn, llvm::Module& mod, TargetBackend& backend, const CompileOptions& options,
                int64_t start, CompileResult& out) {
  llvm::Module* m = &mod;
  llvm::LLVMContext& ctx = mod.getContext();
  Target target = backend.target();
  {
    std::string errors;
    llvm::raw_string_ostream os(errors);
    if (llvm::verifyModule(*m, &os))
      throw InternalError(fmt::format("{}: LLVM rejected the lowered module: {}", fn.name, errors));
  }
  check_llvm_diagnostics(ctx, fmt::format("{}: lowering", fn.name));
  out.lower_ms = ms_since(start);

  int64_t t0 = now_ns();
  optimise(*m, backend, options.opt_level, options.default_pipeline);
  check_llvm_diagnostics(ctx, fmt::format("{}: optimisation", fn.name));
  out.opt_ms = ms_since(t0);
  if (options.keep_llvm_ir) {
    llvm::raw_string_ostream os(out.llvm_ir);
    m->print(os, nullptr);
  }

  backend.emit(*m, fn, out);
  out.code.target = target;
  out.code.symbol = fn.name;
  nlohmann::json meta = {
      {"target", target_info(target).name},
      {"symbol", fn.name},
      {"llvm_version", llvm_version()},
      {"opt_level", options.opt_level},
      {"shared_bytes", fn.shared_bytes()},
      {"block_size", {fn.block_size[0], fn.block_size[1], fn.block_size[2]}},
      {"min_blocks_per_sm", fn.min_blocks_per_sm},
      {"timings_ms", {{"lower", out.lower_ms}, {"opt", out.opt_ms}, {"codegen", out.codegen_ms},
                      {"link", out.link_ms}, {"total", ms_since(start)}}}};
  if (!out.resources_json.empty()) meta["resources"] = nlohmann::json::parse(out.resources_json);
  out.code.metadata_json = meta.dump();
}
}  // namespace

std::string llvm_version() { return LLVM_VERSION_STRING; }

}  // namespace tilejit::backend
