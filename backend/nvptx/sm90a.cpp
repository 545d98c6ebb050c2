// sm_90a backend: NVPTX lowering hooks (sregs, bar.sync, red/atom, mma.sync, ldmatrix, cp.async, wgmma,
// redux.sync) and PTX emission.
#include "backend/nvptx/sm90a.h"

#include <fmt/format.h>

#include <algorithm>

#include <llvm/IR/Constants.h>
#include <llvm/IR/InlineAsm.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/IntrinsicsNVPTX.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/raw_ostream.h>

#include "backend/llvm/target_backend.h"
#include "dsl/error.h"

namespace tilejit::backend {
namespace {

constexpr const char* kTriple = "nvptx64-nvidia-cuda";
constexpr const char* kCpu = "sm_90a";
constexpr const char* kFeatures = "+ptx80";
constexpr const char* kSharedSymbol = "tilejit_smem";

// LLVM's O3 pipeline less every pass that changed none of our kernels' PTX: removed one at a time
// (by name, then instance by instance) as long as the PTX stayed byte-identical for every config of
// the built-in stage-2 tables, the wgmma and shared stage-2 main loops, the GEMMs, the MoE sorting
// and the examples (21 kernels), then the inner pipeline taken out of its CGSCC wrapper (one kernel,
// no calls). A third less optimisation time (1.45 -> 1.02 s for the 21, this repository's build
// machine). Stage2Compiled.ReducedPipelineKeepsTheTablePtx compares it with full O3.
constexpr const char* kReducedO3Pipeline =
    "function(nvvm-intr-range),function<eager-inv>(simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;no-switch-range-to-icmp;no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;simplify-cond-branch;no-speculate-unpredictables>,"
    "sroa<modify-cfg>,early-cse<>),ipsccp,function<eager-inv>(instcombine<max-iterations=1;no-verify-fixpoint>),"
    "function<eager-inv>(early-cse<memssa>,speculative-execution<only-if-divergent-target>,"
    "correlated-propagation,instcombine<max-iterations=1;no-verify-fixpoint>,"
    "simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;simplify-cond-branch;no-speculate-unpredictables>,"
    "reassociate,constraint-elimination,loop-mssa(licm<no-allowspeculation>,loop-rotate<header-duplication;no-prepare-for-lto>,licm<allowspeculation>),"
    "simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;no-switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;simplify-cond-branch;no-speculate-unpredictables>,"
    "instcombine<max-iterations=1;no-verify-fixpoint>,loop(indvars,loop-deletion),"
    "gvn<>,sccp,instcombine<max-iterations=1;no-verify-fixpoint>,correlated-propagation,"
    "loop-mssa(licm<allowspeculation>)),function<eager-inv>(simplifycfg<bonus-inst-threshold=1;forward-switch-cond;switch-range-to-icmp;switch-to-arithmetic;switch-to-lookup;no-keep-loops;hoist-common-insts;no-hoist-loads-stores-with-cond-faulting;sink-common-insts;speculate-blocks;simplify-cond-branch;no-speculate-unpredictables>,"
    "loop-unroll<O3>,instcombine<max-iterations=1;no-verify-fixpoint>,"
    "loop-mssa(licm<allowspeculation>),simplifycfg<bonus-inst-threshold=1;no-forward-switch-cond;switch-range-to-icmp;switch-to-arithmetic;no-switch-to-lookup;keep-loops;no-hoist-common-insts;hoist-loads-stores-with-cond-faulting;no-sink-common-insts;speculate-blocks;simplify-cond-branch;speculate-unpredictables>),"
    "verify";

class Sm90aBackend final : public TargetBackend {
 public:
  // Code generation at most at level 2: at level 3 NVPTX runs GVN instead of EarlyCSE after its
  // straight-line scalar passes, which left the PTX of every built-in stage-2 config byte-identical
  // and cost 6-10 ms of a 150 ms compile (DeepSeek-R1 tm16 tn256 u8, this repository's build machine).
  explicit Sm90aBackend(int opt_level) {
    tm_ = create_target_machine(kTriple, kCpu, kFeatures, std::min(opt_level, 2));
  }

  Target target() const override { return Target::Sm90a; }

  std::string opt_pipeline(int opt_level) const override { return opt_level == 3 ? kReducedO3Pipeline : ""; }

  void define_kernel(llvm::Function& k, const ir::Function& fn) override {
    k.setCallingConv(llvm::CallingConv::PTX_Kernel);
    if (fixed(fn)) k.addFnAttr("nvvm.maxntid", fmt::format("{},{},{}", dim(fn, 0), dim(fn, 1), dim(fn, 2)));
    if (fixed(fn) && fn.min_blocks_per_sm) k.addFnAttr("nvvm.minctasm", std::to_string(fn.min_blocks_per_sm));
  }

  llvm::Value* work_item_id(IRB& b, ir::OpCode code, int d, const ir::Function& fn) override {
    using I = llvm::Intrinsic::ID;
    static constexpr I tid[3] = {llvm::Intrinsic::nvvm_read_ptx_sreg_tid_x, llvm::Intrinsic::nvvm_read_ptx_sreg_tid_y,
                                 llvm::Intrinsic::nvvm_read_ptx_sreg_tid_z};
    static constexpr I ctaid[3] = {llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_x,
                                   llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_y,
                                   llvm::Intrinsic::nvvm_read_ptx_sreg_ctaid_z};
    static constexpr I ntid[3] = {llvm::Intrinsic::nvvm_read_ptx_sreg_ntid_x,
                                  llvm::Intrinsic::nvvm_read_ptx_sreg_ntid_y,
                                  llvm::Intrinsic::nvvm_read_ptx_sreg_ntid_z};
    static constexpr I nctaid[3] = {llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_x,
                                    llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_y,
                                    llvm::Intrinsic::nvvm_read_ptx_sreg_nctaid_z};
    switch (code) {
      case ir::OpCode::ThreadId:
        if (fixed(fn) && dim(fn, d) == 1) return b.getInt32(0);
        return b.CreateIntrinsic(tid[d], {});
      case ir::OpCode::BlockId: return b.CreateIntrinsic(ctaid[d], {});
      case ir::OpCode::BlockDim:
        if (fixed(fn)) return b.getInt32(dim(fn, d));
        return b.CreateIntrinsic(ntid[d], {});
      default: return b.CreateIntrinsic(nctaid[d], {});
    }
  }

  llvm::Value* lane_id(IRB& b) override { return b.CreateIntrinsic(llvm::Intrinsic::nvvm_read_ptx_sreg_laneid, {}); }

  llvm::Value* shared_base(llvm::Module& m, const ir::Function&, uint64_t) override {
    // One dynamic shared array; the driver passes Function::shared_bytes() at launch.
    auto* ty = llvm::ArrayType::get(llvm::Type::getInt8Ty(m.getContext()), 0);
    auto* g = new llvm::GlobalVariable(m, ty, false, llvm::GlobalValue::ExternalLinkage, nullptr, kSharedSymbol,
                                       nullptr, llvm::GlobalValue::NotThreadLocal, 3);
    g->setAlignment(llvm::Align(16));
    return g;
  }

  void barrier(IRB& b) override {
    b.CreateIntrinsic(llvm::Intrinsic::nvvm_barrier_cta_sync_aligned_all, {b.getInt32(0)});
  }

  void atomic_add(IRB& b, llvm::Value* ptr, llvm::Value* v) override {
    llvm::LLVMContext& ctx = b.getContext();
    bool shared = ptr->getType()->getPointerAddressSpace() == 3;
    if (v->getType()->isVectorTy() && !shared) {
      // LLVM 22 expands <2 x bfloat> atomicrmw to a CAS loop; sm_90 has a native packed reduction.
      auto* fty = llvm::FunctionType::get(b.getVoidTy(), {b.getInt64Ty(), b.getInt32Ty()}, false);
      auto* red = llvm::InlineAsm::get(fty, "red.global.add.noftz.bf16x2 [$0], $1;", "l,r,~{memory}",
                                       /*hasSideEffects=*/true);
      b.CreateCall(red, {b.CreatePtrToInt(ptr, b.getInt64Ty()), b.CreateBitCast(v, b.getInt32Ty())});
      return;
    }
    auto op = v->getType()->isFPOrFPVectorTy() ? llvm::AtomicRMWInst::FAdd : llvm::AtomicRMWInst::Add;
    auto scope = ctx.getOrInsertSyncScopeID(shared ? "block" : "device");
    b.CreateAtomicRMW(op, ptr, v, llvm::MaybeAlign(4), llvm::AtomicOrdering::Monotonic, scope);
  }

  llvm::Value* buffer_load(IRB& b, llvm::Value* base, llvm::Value* num_records, llvm::Value* offset,
                           llvm::Type* result, ir::CachePolicy policy) override {
    llvm::LLVMContext& ctx = b.getContext();
    llvm::Function* f = b.GetInsertBlock()->getParent();
    unsigned bytes = unsigned(result->getPrimitiveSizeInBits().getFixedValue() / 8);
    unsigned dwords = bytes / 4;
    auto* vec_ty = llvm::FixedVectorType::get(b.getInt32Ty(), dwords);
    llvm::Value* off = b.CreateZExt(offset, b.getInt64Ty());
    llvm::Value* limit = b.CreateZExt(num_records, b.getInt64Ty());
    llvm::Value* addr = b.CreateGEP(b.getInt8Ty(), base, off);
    llvm::Value* whole = b.CreateICmpULE(b.CreateAdd(off, b.getInt64(bytes)), limit);

    auto* fast = llvm::BasicBlock::Create(ctx, "bufload.whole", f);
    auto* slow = llvm::BasicBlock::Create(ctx, "bufload.partial", f);
    auto* done = llvm::BasicBlock::Create(ctx, "bufload.done", f);
    b.CreateCondBr(whole, fast, slow);

    b.SetInsertPoint(fast);
    uint64_t align = std::min<uint64_t>(bytes & (~uint64_t(bytes) + 1), 16);
    llvm::Value* fast_v = policy == ir::CachePolicy::Stream ? stream_load(b, addr, vec_ty, llvm::Align(align))
                                                            : b.CreateAlignedLoad(vec_ty, addr, llvm::Align(align));
    b.CreateBr(done);

    // Partial: each dword that lies wholly inside num_records is loaded, the others read 0.
    b.SetInsertPoint(slow);
    llvm::Value* slow_v = llvm::Constant::getNullValue(vec_ty);
    for (unsigned w = 0; w < dwords; ++w) {
      llvm::Value* in = b.CreateICmpULE(b.CreateAdd(off, b.getInt64(4 * w + 4)), limit);
      auto* load_b = llvm::BasicBlock::Create(ctx, "bufload.dword", f);
      auto* next_b = llvm::BasicBlock::Create(ctx, "bufload.next", f);
      llvm::BasicBlock* from = b.GetInsertBlock();
      b.CreateCondBr(in, load_b, next_b);
      b.SetInsertPoint(load_b);
      llvm::Value* p = b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), addr, 4 * w);
      llvm::Value* loaded = b.CreateInsertElement(slow_v, b.CreateAlignedLoad(b.getInt32Ty(), p, llvm::Align(4)), w);
      b.CreateBr(next_b);
      b.SetInsertPoint(next_b);
      llvm::PHINode* phi = b.CreatePHI(vec_ty, 2);
      phi->addIncoming(slow_v, from);
      phi->addIncoming(loaded, load_b);
      slow_v = phi;
    }
    llvm::BasicBlock* slow_end = b.GetInsertBlock();
    b.CreateBr(done);

    b.SetInsertPoint(done);
    llvm::PHINode* v = b.CreatePHI(vec_ty, 2);
    v->addIncoming(fast_v, fast);
    v->addIncoming(slow_v, slow_end);
    if (dwords == 1) return b.CreateBitCast(b.CreateExtractElement(v, uint64_t(0)), result);
    return b.CreateBitCast(v, result);
  }

  // ld.global.nc.L1::no_allocate: read-only data that bypasses L1 allocation. LLVM has no way to
  // ask for it (it drops !nontemporal on nc loads), so 4-, 8- and 16-byte loads are inline asm.
  llvm::Value* stream_load(IRB& b, llvm::Value* ptr, llvm::Type* type, llvm::Align align) override {
    unsigned bytes = unsigned(type->getPrimitiveSizeInBits().getFixedValue() / 8);
    llvm::Type* i32 = b.getInt32Ty();
    if ((bytes == 1 || bytes == 2) && type->isIntegerTy()) {  // widened into a 32-bit register
      auto* fty = llvm::FunctionType::get(i32, {b.getInt64Ty()}, false);
      auto* asm_fn = llvm::InlineAsm::get(fty, fmt::format("ld.global.nc.L1::no_allocate.u{} $0, [$1];", 8 * bytes),
                                          "=r,l", /*hasSideEffects=*/false);
      return b.CreateTrunc(b.CreateCall(asm_fn, {b.CreatePtrToInt(ptr, b.getInt64Ty())}), type);
    }
    if ((bytes != 4 && bytes != 8 && bytes != 16) || align.value() < bytes) return b.CreateAlignedLoad(type, ptr, align);
    unsigned words = bytes / 4;
    llvm::Type* ret = words == 1 ? i32 : static_cast<llvm::Type*>(llvm::StructType::get(b.getContext(),
                                                                  std::vector<llvm::Type*>(words, i32)));
    auto* fty = llvm::FunctionType::get(ret, {b.getInt64Ty()}, false);
    std::string regs, constraints;
    for (unsigned w = 0; w < words; ++w) {
      regs += fmt::format("{}${}", w ? ", " : "", w);
      constraints += "=r,";
    }
    std::string text = words == 1 ? "ld.global.nc.L1::no_allocate.b32 $0, [$1];"
                                  : fmt::format("ld.global.nc.L1::no_allocate.v{}.b32 {{{}}}, [${}];", words, regs, words);
    auto* asm_fn = llvm::InlineAsm::get(fty, text, constraints + "l", /*hasSideEffects=*/false);
    llvm::Value* r = b.CreateCall(asm_fn, {b.CreatePtrToInt(ptr, b.getInt64Ty())});
    if (words == 1) return b.CreateBitCast(r, type);
    llvm::Value* v = llvm::PoisonValue::get(llvm::FixedVectorType::get(i32, words));
    for (unsigned w = 0; w < words; ++w) v = b.CreateInsertElement(v, b.CreateExtractValue(r, w), w);
    return b.CreateBitCast(v, type);
  }

  llvm::Value* bit_select(IRB& b, llvm::Value* mask, llvm::Value* a, llvm::Value* c) override {
    // LLVM keeps the and/or form, and ptxas then spends a LOP3 on each constant mask; lop3 with
    // the truth table (a & m) | (c & ~m) = 0xE2 (a = 0xF0, m = 0xCC, c = 0xAA) is one LOP3.
    if (!a->getType()->isIntegerTy(32)) return TargetBackend::bit_select(b, mask, a, c);
    auto* i32 = b.getInt32Ty();
    auto* fty = llvm::FunctionType::get(i32, {i32, i32, i32}, false);
    auto* lop3 = llvm::InlineAsm::get(fty, "lop3.b32 $0, $1, $2, $3, 0xE2;", "=r,r,r,r", /*hasSideEffects=*/false);
    return b.CreateCall(lop3, {a, mask, c});
  }

  llvm::Value* transcendental(IRB& b, ir::OpCode code, llvm::Value* x) override {
    switch (code) {
      case ir::OpCode::Exp2: return b.CreateUnaryIntrinsic(llvm::Intrinsic::exp2, x);  // ex2.approx.f32
      case ir::OpCode::Log2: return b.CreateIntrinsic(llvm::Intrinsic::nvvm_lg2_approx_f, {x});
      default: return b.CreateIntrinsic(llvm::Intrinsic::nvvm_rsqrt_approx_f, {x});
    }
  }

  /// The 64-bit shared-memory matrix descriptor of a K-major operand: start address, leading (K)
  /// and stride (8-row) byte offsets, each in 16-byte units, and the layout type (0 none, 1 128-byte swizzle).
  static llvm::Value* wgmma_descriptor(IRB& b, llvm::Value* tile, int64_t lbo, int64_t sbo, int64_t swizzle) {
    llvm::Value* addr = b.CreatePtrToInt(tile, b.getInt64Ty());
    llvm::Value* start = b.CreateLShr(b.CreateAnd(addr, b.getInt64(0x3FFFF)), 4);
    return b.CreateOr(start, b.getInt64(uint64_t(lbo >> 4) << 16 | uint64_t(sbo >> 4) << 32 | uint64_t(swizzle) << 62));
  }

  /// wgmma.mma_async m64nNk16 f32.bf16.bf16 by inline PTX (LLVM has no intrinsic for it): the
  /// accumulator elements are tied in-out registers, scale-d = 1 (accumulate). A is a shared tile
  /// (a descriptor) or, given as <8 x bf16>, four 32-bit registers (the RS form).
  static llvm::Value* wgmma(IRB& b, const ir::Op& op, llvm::ArrayRef<llvm::Value*> args, llvm::Type* result) {
    if (op.attrs.size() != 4) throw InternalError("wgmma carries N, lbo, sbo and the swizzle");
    const int64_t n = op.attrs[0];
    auto* acc_ty = llvm::dyn_cast<llvm::FixedVectorType>(args[2]->getType());
    auto* a_vec = llvm::dyn_cast<llvm::FixedVectorType>(args[0]->getType());
    const bool a_in_registers = a_vec && a_vec->getNumElements() == 8 && a_vec->getElementType()->isBFloatTy();
    if (!acc_ty || !acc_ty->getElementType()->isFloatTy() || int64_t(acc_ty->getNumElements()) * 2 != n ||
        result != acc_ty || (!a_in_registers && args[0]->getType()->getPointerAddressSpace() != 3) ||
        args[1]->getType()->getPointerAddressSpace() != 3)
      throw InternalError("wgmma takes a shared pointer or <8 x bf16>, a shared pointer and <N/2 x f32> and returns <N/2 x f32>");
    const unsigned w = acc_ty->getNumElements();
    const unsigned a_regs = a_in_registers ? 4 : 1;  // operands after the accumulator outputs
    std::string regs, constraints;
    for (unsigned i = 0; i < w; ++i) {
      regs += fmt::format("{}${}", i ? ", " : "", i);
      constraints += "=f,";
    }
    constraints += a_in_registers ? "r,r,r,r,l,r" : "l,l,r";
    for (unsigned i = 0; i < w; ++i) constraints += fmt::format(",{}", i);
    const std::string a_text = a_in_registers ? fmt::format("{{${}, ${}, ${}, ${}}}", w, w + 1, w + 2, w + 3)
                                              : fmt::format("${}", w);
    // RS form: no transpose immediate for A (registers are K-major by definition).
    std::string text = fmt::format(
        "{{\n.reg .pred p;\nsetp.ne.b32 p, ${}, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n{}k16.f32.bf16.bf16 {{{}}}, {}, ${}, p, 1, 1, {}0;\n}}",
        w + a_regs + 1, n, regs, a_text, w + a_regs, a_in_registers ? "" : "0, ");
    std::vector<llvm::Type*> outs(w, b.getFloatTy()), ins;
    std::vector<llvm::Value*> call_args;
    if (a_in_registers) {
      llvm::Value* words = b.CreateBitCast(args[0], llvm::FixedVectorType::get(b.getInt32Ty(), 4));
      for (unsigned i = 0; i < 4; ++i) {
        ins.push_back(b.getInt32Ty());
        call_args.push_back(b.CreateExtractElement(words, i));
      }
    } else {
      ins.push_back(b.getInt64Ty());
      call_args.push_back(wgmma_descriptor(b, args[0], op.attrs[1], op.attrs[2], op.attrs[3]));
    }
    ins.insert(ins.end(), {b.getInt64Ty(), b.getInt32Ty()});
    call_args.insert(call_args.end(), {wgmma_descriptor(b, args[1], op.attrs[1], op.attrs[2], op.attrs[3]), b.getInt32(1)});
    ins.insert(ins.end(), w, b.getFloatTy());
    auto* fty = llvm::FunctionType::get(llvm::StructType::get(b.getContext(), outs), ins, false);
    for (unsigned i = 0; i < w; ++i) call_args.push_back(b.CreateExtractElement(args[2], i));
    llvm::Value* d = b.CreateCall(fty, llvm::InlineAsm::get(fty, text, constraints, /*hasSideEffects=*/true), call_args);
    llvm::Value* out = llvm::PoisonValue::get(acc_ty);
    for (unsigned i = 0; i < w; ++i) out = b.CreateInsertElement(out, b.CreateExtractValue(d, i), i);
    return out;
  }

  /// An empty side-effecting asm that takes and returns every element of `v` (f32 or <N x f32>) in
  /// registers: later reads of the result cannot move above it.
  static llvm::Value* pin_registers(IRB& b, llvm::Value* v) {
    auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(v->getType());
    const unsigned w = vt ? vt->getNumElements() : 1;
    std::string constraints;
    for (unsigned i = 0; i < w; ++i) constraints += fmt::format("{}=f", i ? "," : "");
    for (unsigned i = 0; i < w; ++i) constraints += fmt::format(",{}", i);
    std::vector<llvm::Type*> outs(w, b.getFloatTy()), ins(w, b.getFloatTy());
    llvm::Type* rt = w == 1 ? static_cast<llvm::Type*>(b.getFloatTy()) : llvm::StructType::get(b.getContext(), outs);
    auto* fty = llvm::FunctionType::get(rt, ins, false);
    std::vector<llvm::Value*> call_args;
    for (unsigned i = 0; i < w; ++i) call_args.push_back(vt ? b.CreateExtractElement(v, i) : v);
    llvm::Value* r = b.CreateCall(fty, llvm::InlineAsm::get(fty, "", constraints, /*hasSideEffects=*/true), call_args);
    if (!vt) return r;
    llvm::Value* out = llvm::PoisonValue::get(vt);
    for (unsigned i = 0; i < w; ++i) out = b.CreateInsertElement(out, b.CreateExtractValue(r, i), i);
    return out;
  }

  // Whether the block's last instruction with an effect is a wgmma.wait_group for `n` groups. A
  // second wait right after one (one per accumulator or fragment a loop retires) has nothing left
  // to wait for, yet ptxas keeps every one: ten WARPGROUP.DEPBAR per step in the wgmma_rs loop.
  // Only register pins and pure value operations may lie between.
  static bool follows_wgmma_wait(IRB& b, int64_t n) {
    llvm::BasicBlock* bb = b.GetInsertBlock();
    for (auto it = b.GetInsertPoint(); it != bb->begin();) {
      llvm::Instruction& in = *--it;
      if (auto* ii = llvm::dyn_cast<llvm::IntrinsicInst>(&in))
        if (ii->getIntrinsicID() == llvm::Intrinsic::nvvm_wgmma_wait_group_sync_aligned)
          return llvm::cast<llvm::ConstantInt>(ii->getArgOperand(0))->getSExtValue() == n;
      if (auto* call = llvm::dyn_cast<llvm::CallInst>(&in)) {
        auto* pin = llvm::dyn_cast<llvm::InlineAsm>(call->getCalledOperand());
        if (pin && pin->getAsmString().empty()) continue;
        return false;
      }
      if (in.mayHaveSideEffects() || in.mayReadOrWriteMemory()) return false;
    }
    return false;
  }

  /// The mbarrier and bulk-copy ops as inline PTX (ISA 8.0) with a memory clobber, so that no load of
  /// what a copy brings moves above the wait. Shared addresses are passed as 32-bit shared-window
  /// offsets. The wait loops on try_wait inside its own brace scope (labels are local to it).
  static void bulk_copy_op(IRB& b, const ir::Op& op, llvm::ArrayRef<llvm::Value*> args) {
    auto shared32 = [&](llvm::Value* p) {
      if (!p->getType()->isPointerTy() || p->getType()->getPointerAddressSpace() != 3)
        throw InternalError(fmt::format("{} takes a shared pointer as its mbarrier / destination", ir::op_info(op.code).name));
      return b.CreatePtrToInt(p, b.getInt32Ty());
    };
    for (llvm::Value* v : args)
      if (!v->getType()->isIntegerTy(32) && !v->getType()->isPointerTy())
        throw InternalError(fmt::format("{} takes pointers and i32 operands", ir::op_info(op.code).name));
    const char* text = nullptr;
    const char* constraints = nullptr;
    std::vector<llvm::Value*> vals;
    switch (op.code) {
      case ir::OpCode::MbarrierInit:
        text = "mbarrier.init.shared.b64 [$0], $1;\n\tfence.mbarrier_init.release.cluster;";
        constraints = "r,r,~{memory}";
        vals = {shared32(args[0]), args[1]};
        break;
      case ir::OpCode::MbarrierArriveExpectTx:
        text = "{\n\t.reg .b64 tj_state;\n\tmbarrier.arrive.expect_tx.shared.b64 tj_state, [$0], $1;\n\t}";
        constraints = "r,r,~{memory}";
        vals = {shared32(args[0]), args[1]};
        break;
      case ir::OpCode::MbarrierWait:
        text = "{\n\t.reg .pred tj_done;\n\tTJ_WAIT_${:uid}:\n\t"
               "mbarrier.try_wait.parity.shared.b64 tj_done, [$0], $1;\n\t@!tj_done bra TJ_WAIT_${:uid};\n\t}";
        constraints = "r,r,~{memory}";
        vals = {shared32(args[0]), args[1]};
        break;
      default:  // BulkCopyToShared
        if (args[1]->getType()->getPointerAddressSpace() != 1)
          throw InternalError("bulk_copy_to_shared copies from a global pointer");
        text = "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [$0], [$1], $2, [$3];";
        constraints = "r,l,r,r,~{memory}";
        vals = {shared32(args[0]), args[1], args[2], shared32(args[3])};
        break;
    }
    std::vector<llvm::Type*> types;
    for (llvm::Value* v : vals) types.push_back(v->getType());
    auto* fty = llvm::FunctionType::get(b.getVoidTy(), types, false);
    b.CreateCall(fty, llvm::InlineAsm::get(fty, text, constraints, /*hasSideEffects=*/true), vals);
  }

  llvm::Value* intrinsic(IRB& b, const ir::Op& op, llvm::ArrayRef<llvm::Value*> args, llvm::Type* result) override {
    llvm::LLVMContext& ctx = b.getContext();
    auto* i32 = b.getInt32Ty();
    auto vec = [&](llvm::Type* t, unsigned n) { return llvm::FixedVectorType::get(t, n); };
    auto* bf16 = llvm::Type::getBFloatTy(ctx);
    auto* f32 = b.getFloatTy();
    switch (op.code) {
      case ir::OpCode::Mma: {
        int64_t instr = op.attrs.empty() ? -1 : op.attrs[0];
        if (instr != 1)
          throw InternalError(
              fmt::format("sm_90a has no mma instruction {} (only 1: mma.sync m16n8k16 row.col bf16)", instr));
        if (args[0]->getType() != vec(bf16, 8) || args[1]->getType() != vec(bf16, 4) ||
            args[2]->getType() != vec(f32, 4) || result != vec(f32, 4))
          throw InternalError("sm_90a mma m16n8k16 bf16 takes <8 x bf16>, <4 x bf16>, <4 x f32> and returns <4 x f32>");
        llvm::Value* a = b.CreateBitCast(args[0], vec(i32, 4));
        llvm::Value* bb = b.CreateBitCast(args[1], vec(i32, 2));
        std::vector<llvm::Value*> ops;
        for (unsigned i = 0; i < 4; ++i) ops.push_back(b.CreateExtractElement(a, i));
        for (unsigned i = 0; i < 2; ++i) ops.push_back(b.CreateExtractElement(bb, i));
        for (unsigned i = 0; i < 4; ++i) ops.push_back(b.CreateExtractElement(args[2], i));
        llvm::Value* d = b.CreateIntrinsic(llvm::Intrinsic::nvvm_mma_m16n8k16_row_col_bf16, {}, ops);
        llvm::Value* out = llvm::PoisonValue::get(vec(f32, 4));
        for (unsigned i = 0; i < 4; ++i) out = b.CreateInsertElement(out, b.CreateExtractValue(d, i), i);
        return out;
      }
      case ir::OpCode::LdMatrix: {
        int64_t trans = op.attrs.empty() ? 0 : op.attrs[0];
        if (trans != 0 && trans != 1) throw InternalError(fmt::format("ldmatrix: trans {} is not 0 or 1", trans));
        if (args[0]->getType()->getPointerAddressSpace() != 3 || result->getPrimitiveSizeInBits() != 128)
          throw InternalError("ldmatrix reads a shared pointer into 8 x 16-bit elements");
        auto id = trans ? llvm::Intrinsic::nvvm_ldmatrix_sync_aligned_m8n8_x4_trans_b16
                        : llvm::Intrinsic::nvvm_ldmatrix_sync_aligned_m8n8_x4_b16;
        llvm::Value* r = b.CreateIntrinsic(id, {args[0]->getType()}, {args[0]});
        llvm::Value* v = llvm::PoisonValue::get(vec(i32, 4));
        for (unsigned i = 0; i < 4; ++i) v = b.CreateInsertElement(v, b.CreateExtractValue(r, i), i);
        return b.CreateBitCast(v, result);
      }
      case ir::OpCode::CpAsync:
        if (args[0]->getType()->getPointerAddressSpace() != 3 || args[1]->getType()->getPointerAddressSpace() != 1 ||
            !args[2]->getType()->isIntegerTy(32))
          throw InternalError("cp_async takes (shared pointer, global pointer, i32 src_bytes)");
        switch (op.attrs.empty() ? 16 : op.attrs[0]) {
          case 16: b.CreateIntrinsic(llvm::Intrinsic::nvvm_cp_async_cg_shared_global_16_s, {}, {args[0], args[1], args[2]}); break;
          case 8: b.CreateIntrinsic(llvm::Intrinsic::nvvm_cp_async_ca_shared_global_8_s, {}, {args[0], args[1], args[2]}); break;
          case 4: b.CreateIntrinsic(llvm::Intrinsic::nvvm_cp_async_ca_shared_global_4_s, {}, {args[0], args[1], args[2]}); break;
          default: throw InternalError(fmt::format("cp_async: {} bytes is not a copy size", op.attrs[0]));
        }
        return nullptr;
      case ir::OpCode::CpAsyncCommit:
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_cp_async_commit_group, {});
        return nullptr;
      case ir::OpCode::PrefetchL2:
        if (args[0]->getType()->getPointerAddressSpace() != 1 || !args[1]->getType()->isIntegerTy(32))
          throw InternalError("prefetch_l2 takes (global pointer, i32 bytes)");
        // No L2 cache hint (operand 2 unused, flag 3 false).
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_cp_async_bulk_prefetch_L2, {},
                          {args[0], args[1], b.getInt64(0), b.getFalse()});
        return nullptr;
      case ir::OpCode::CpAsyncWait: {
        int64_t n = op.attrs.empty() ? -1 : op.attrs[0];
        if (n < 0 || n > INT32_MAX) throw InternalError(fmt::format("cp_async_wait: {} pending groups is invalid", n));
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_cp_async_wait_group, {b.getInt32(int32_t(n))});
        return nullptr;
      }
      case ir::OpCode::Wgmma: return wgmma(b, op, args, result);
      case ir::OpCode::WgmmaFence:
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_wgmma_fence_sync_aligned, {});
        return nullptr;
      case ir::OpCode::WgmmaCommit:
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_wgmma_commit_group_sync_aligned, {});
        return nullptr;
      case ir::OpCode::WgmmaWait: {
        int64_t n = op.attrs.empty() ? -1 : op.attrs[0];
        if (n < 0 || n > 7) throw InternalError(fmt::format("wgmma_wait: {} pending groups is invalid", n));
        if (!follows_wgmma_wait(b, n)) b.CreateIntrinsic(llvm::Intrinsic::nvvm_wgmma_wait_group_sync_aligned, {b.getInt64(n)});
        // The accumulators pass through an empty asm after the wait, so that nothing that reads
        // them can be scheduled above it (the wait itself names no registers).
        return pin_registers(b, args[0]);
      }
      case ir::OpCode::FenceProxyAsync:
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_fence_proxy_async_shared_cta, {});
        return nullptr;
      case ir::OpCode::NamedBarrier:  // barrier.sync id, threads (not .aligned: the warps of one side may differ)
        b.CreateIntrinsic(llvm::Intrinsic::nvvm_barrier_cta_sync_count,
                          {b.getInt32(int32_t(op.attrs.at(0))), b.getInt32(int32_t(op.attrs.at(1)))});
        return nullptr;
      case ir::OpCode::WaitPriorGrids: case ir::OpCode::LaunchDependents: {
        // Inline asm with a memory clobber, not the llvm.nvvm.griddepcontrol intrinsics: those do not
        // touch memory in LLVM's model, so a load after the wait could be merged with one before it.
        auto* fty = llvm::FunctionType::get(b.getVoidTy(), false);
        const char* text = op.code == ir::OpCode::WaitPriorGrids ? "griddepcontrol.wait;" : "griddepcontrol.launch_dependents;";
        b.CreateCall(llvm::InlineAsm::get(fty, text, "~{memory}", /*hasSideEffects=*/true));
        return nullptr;
      }
      case ir::OpCode::MbarrierInit: case ir::OpCode::MbarrierArriveExpectTx: case ir::OpCode::MbarrierWait:
      case ir::OpCode::BulkCopyToShared:
        bulk_copy_op(b, op, args);
        return nullptr;
      case ir::OpCode::WaveUMax: case ir::OpCode::WaveUMin: {
        if (!args[0]->getType()->isIntegerTy(32) || result != i32)
          throw InternalError("wave_umax / wave_umin take and return i32");
        auto id = op.code == ir::OpCode::WaveUMax ? llvm::Intrinsic::nvvm_redux_sync_umax
                                                  : llvm::Intrinsic::nvvm_redux_sync_umin;
        return b.CreateIntrinsic(id, {}, {args[0], b.getInt32(-1)});  // the whole warp
      }
      default:
        throw InternalError(fmt::format("'{}' is a gfx950 intrinsic; sm_90a has no lowering for it",
                                        ir::op_info(op.code).name));
    }
  }

  void emit(llvm::Module& m, const ir::Function& fn, CompileResult& out) override {
    int64_t t0 = now_ns();
    llvm::SmallVector<char, 0> ptx;
    {
      llvm::raw_svector_ostream os(ptx);
      llvm::legacy::PassManager pm;
      if (tm_->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::AssemblyFile))
        throw InternalError("sm_90a: the target machine cannot emit PTX");
      pm.run(m);
    }
    check_llvm_diagnostics(m.getContext(), "sm_90a code generation");
    out.assembly.assign(ptx.begin(), ptx.end());
    if (out.assembly.find(fmt::format(".entry {}(", fn.name)) == std::string::npos)
      throw InternalError(fmt::format("sm_90a: the PTX has no entry named '{}'", fn.name));
    out.code.binary.assign(ptx.begin(), ptx.end());
    out.codegen_ms = ms_since(t0);
    out.link_ms = 0;
  }

 private:
  static bool fixed(const ir::Function& fn) { return fn.block_size[0] != 0; }
  static uint32_t dim(const ir::Function& fn, int d) { return std::max<uint32_t>(1, fn.block_size[d]); }
};

}  // namespace

std::unique_ptr<TargetBackend> make_sm90a_backend(int opt_level) { return std::make_unique<Sm90aBackend>(opt_level); }

}  // namespace tilejit::backend
