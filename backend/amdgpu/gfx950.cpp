// gfx950 backend: AMDGPU lowering hooks, object emission, in-process lld link, disassembly, resources.
#include "backend/amdgpu/gfx950.h"

#include <fmt/format.h>

#include <atomic>
#include <fstream>
#include <iterator>
#include <map>
#include <mutex>

#include <lld/Common/Driver.h>
#include <llvm/ADT/SmallString.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IntrinsicsAMDGPU.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Metadata.h>
#include <llvm/MC/MCAsmInfo.h>
#include <llvm/MC/MCContext.h>
#include <llvm/MC/MCDisassembler/MCDisassembler.h>
#include <llvm/MC/MCInst.h>
#include <llvm/MC/MCInstPrinter.h>
#include <llvm/MC/MCInstrInfo.h>
#include <llvm/MC/MCRegisterInfo.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/MC/MCTargetOptions.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Object/ELF.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include "backend/amdgpu/resources.h"
#include "backend/llvm/target_backend.h"
#include "dsl/error.h"

LLD_HAS_DRIVER(elf)

namespace tilejit::backend {
namespace {

constexpr const char* kTriple = "amdgcn-amd-amdhsa";
constexpr const char* kCpu = "gfx950";
constexpr int kCodeObjectVersion = 500;
constexpr unsigned kDispatchWorkgroupSize = 4;  // hsa_kernel_dispatch_packet_t: u16 workgroup_size_x/y/z
constexpr unsigned kDispatchGridSize = 12;      // u32 grid_size_x/y/z (in work-items)
constexpr uint32_t kBufferFlags = 0x00020000;   // V# word 3: DATA_FORMAT = 32 bit

std::mutex g_lld_mutex;                 // lld keeps global state: one link at a time
std::atomic<bool> g_lld_broken{false};  // set when lld says it cannot run again

/// A temporary file removed when this goes out of scope.
struct TempFile {
  llvm::SmallString<128> path;
  explicit TempFile(const char* suffix) {
    if (auto ec = llvm::sys::fs::createTemporaryFile("tilejit", suffix, path))
      throw InternalError(fmt::format("gfx950 link: cannot create a temporary file: {}", ec.message()));
  }
  ~TempFile() { llvm::sys::fs::remove(path); }
};

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

/// Links a relocatable gfx950 object into an HSACO (a shared ELF) with lld.
std::vector<uint8_t> link_hsaco(llvm::ArrayRef<char> object) {
  TempFile in("o"), out("hsaco");
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(in.path, ec);
    if (ec) throw InternalError(fmt::format("gfx950 link: cannot write {}: {}", in.path.str(), ec.message()));
    os.write(object.data(), object.size());
  }
  std::string out_text, err_text;
  llvm::raw_string_ostream out_os(out_text), err_os(err_text);
  const char* args[] = {"ld.lld", "-shared", "--no-undefined", in.path.c_str(), "-o", out.path.c_str()};
  lld::Result r;
  {
    std::lock_guard<std::mutex> lock(g_lld_mutex);
    if (g_lld_broken) throw InternalError("gfx950 link: lld crashed earlier in this process and cannot run again");
    r = lld::lldMain(args, out_os, err_os, {{lld::Gnu, &lld::elf::link}});
    if (!r.canRunAgain) g_lld_broken = true;
  }
  if (r.retCode != 0) throw InternalError(fmt::format("gfx950 link: lld failed: {}", err_text));
  std::vector<uint8_t> bytes = read_file(out.path.str().str());
  if (bytes.empty()) throw InternalError("gfx950 link: lld produced an empty code object");
  return bytes;
}

/// Disassembles the .text of an HSACO with the MC disassembler, labelling function symbols.
std::string disassemble(const llvm::Target& target, std::span<const uint8_t> hsaco) {
  llvm::Triple tt(kTriple);
  llvm::StringRef bytes(reinterpret_cast<const char*>(hsaco.data()), hsaco.size());
  auto file = llvm::object::ELF64LEFile::create(bytes);
  if (!file) throw InternalError("gfx950 disassembly: " + llvm::toString(file.takeError()));
  auto sections = file->sections();
  if (!sections) throw InternalError("gfx950 disassembly: " + llvm::toString(sections.takeError()));

  std::unique_ptr<llvm::MCRegisterInfo> mri(target.createMCRegInfo(tt));
  llvm::MCTargetOptions mc_options;
  std::unique_ptr<llvm::MCAsmInfo> mai(target.createMCAsmInfo(*mri, tt, mc_options));
  std::unique_ptr<llvm::MCSubtargetInfo> sti(target.createMCSubtargetInfo(tt, kCpu, ""));
  std::unique_ptr<llvm::MCInstrInfo> mii(target.createMCInstrInfo());
  if (!mri || !mai || !sti || !mii) throw InternalError("gfx950 disassembly: the MC layer is unavailable");
  llvm::MCContext mc(tt, mai.get(), mri.get(), sti.get());
  std::unique_ptr<llvm::MCDisassembler> dis(target.createMCDisassembler(*sti, mc));
  std::unique_ptr<llvm::MCInstPrinter> printer(
      target.createMCInstPrinter(tt, mai->getAssemblerDialect(), *mai, *mii, *mri));
  if (!dis || !printer) throw InternalError("gfx950 disassembly: no disassembler for gfx950");

  std::multimap<uint64_t, std::string> labels;
  for (const auto& sec : *sections) {
    if (sec.sh_type != llvm::ELF::SHT_SYMTAB && sec.sh_type != llvm::ELF::SHT_DYNSYM) continue;
    auto syms = file->symbols(&sec);
    auto strtab = file->getStringTableForSymtab(sec);
    if (!syms || !strtab) {
      if (!syms) llvm::consumeError(syms.takeError());
      if (!strtab) llvm::consumeError(strtab.takeError());
      continue;
    }
    for (const auto& s : *syms) {
      if (s.getType() != llvm::ELF::STT_FUNC) continue;
      auto name = s.getName(*strtab);
      if (!name) {
        llvm::consumeError(name.takeError());
        continue;
      }
      bool seen = false;
      for (auto [it, end] = labels.equal_range(s.st_value); it != end; ++it) seen |= it->second == name->str();
      if (!seen) labels.emplace(s.st_value, name->str());
    }
  }

  std::string text;
  for (const auto& sec : *sections) {
    auto name = file->getSectionName(sec);
    if (!name) {
      llvm::consumeError(name.takeError());
      continue;
    }
    if (*name != ".text") continue;
    auto contents = file->getSectionContents(sec);
    if (!contents) throw InternalError("gfx950 disassembly: " + llvm::toString(contents.takeError()));
    llvm::ArrayRef<uint8_t> code = *contents;
    text += "\t.text\n";
    std::string last;     // the previous instruction's text
    uint64_t repeats = 0;  // how many times it repeated since it was printed
    auto flush = [&] {
      if (repeats > 0) text += fmt::format("\t; previous instruction repeated {} more times\n", repeats);
      repeats = 0;
    };
    for (uint64_t off = 0; off < code.size();) {
      uint64_t addr = sec.sh_addr + off;
      auto [lab, lab_end] = labels.equal_range(addr);
      if (lab != lab_end) {
        flush();
        last.clear();
      }
      for (; lab != lab_end; ++lab) text += fmt::format("{}:\n", lab->second);
      llvm::MCInst inst;
      uint64_t size = 0;
      std::string line;
      llvm::raw_string_ostream os(line);
      auto status = dis->getInstruction(inst, size, code.slice(off), addr, llvm::nulls());
      if (status == llvm::MCDisassembler::Success && size > 0) {
        printer->printInst(&inst, addr, "", *sti, os);
      } else {
        size = std::min<uint64_t>(4, code.size() - off);
        uint32_t word = 0;
        for (uint64_t i = 0; i < size; ++i) word |= uint32_t(code[off + i]) << (8 * i);
        os << fmt::format(".long 0x{:08x}", word);
      }
      std::string_view l(line);
      while (!l.empty() && (l.front() == ' ' || l.front() == '\t')) l.remove_prefix(1);
      off += size;
      if (l == last) {  // padding (s_nop / s_code_end runs) is shown once
        ++repeats;
        continue;
      }
      flush();
      last = l;
      text += fmt::format("\t{:<60} // {:06x}\n", l, addr);
    }
    flush();
  }
  return text;
}

class Gfx950Backend final : public TargetBackend {
 public:
  explicit Gfx950Backend(int opt_level) { tm_ = create_target_machine(kTriple, kCpu, "", opt_level); }

  Target target() const override { return Target::Gfx950; }

  void define_kernel(llvm::Function& k, const ir::Function& fn) override {
    llvm::LLVMContext& ctx = k.getContext();
    k.setCallingConv(llvm::CallingConv::AMDGPU_KERNEL);
    k.addFnAttr("denormal-fp-math-f32", "ieee,ieee");
    if (fixed(fn)) {
      uint32_t n = dim(fn, 0) * dim(fn, 1) * dim(fn, 2);
      k.addFnAttr("amdgpu-flat-work-group-size", fmt::format("{},{}", n, n));
      auto* i32 = llvm::Type::getInt32Ty(ctx);
      llvm::Metadata* md[3];
      for (int d = 0; d < 3; ++d) md[d] = llvm::ConstantAsMetadata::get(llvm::ConstantInt::get(i32, dim(fn, d)));
      k.setMetadata("reqd_work_group_size", llvm::MDNode::get(ctx, md));
    } else {
      k.addFnAttr("amdgpu-flat-work-group-size", "1,1024");
    }
    llvm::Module& m = *k.getParent();
    if (!m.getModuleFlag("amdhsa_code_object_version"))
      m.addModuleFlag(llvm::Module::Error, "amdhsa_code_object_version", kCodeObjectVersion);
  }

  llvm::Value* work_item_id(IRB& b, ir::OpCode code, int d, const ir::Function& fn) override {
    static constexpr llvm::Intrinsic::ID tid[3] = {llvm::Intrinsic::amdgcn_workitem_id_x,
                                                   llvm::Intrinsic::amdgcn_workitem_id_y,
                                                   llvm::Intrinsic::amdgcn_workitem_id_z};
    static constexpr llvm::Intrinsic::ID bid[3] = {llvm::Intrinsic::amdgcn_workgroup_id_x,
                                                   llvm::Intrinsic::amdgcn_workgroup_id_y,
                                                   llvm::Intrinsic::amdgcn_workgroup_id_z};
    switch (code) {
      case ir::OpCode::ThreadId:
        if (fixed(fn) && dim(fn, d) == 1) return b.getInt32(0);
        return b.CreateIntrinsic(tid[d], {});
      case ir::OpCode::BlockId: return b.CreateIntrinsic(bid[d], {});
      case ir::OpCode::BlockDim: return block_dim(b, d, fn);
      default: {
        llvm::Value* grid = dispatch_load(b, b.getInt32Ty(), kDispatchGridSize + 4 * unsigned(d), 4);
        llvm::Value* wg = block_dim(b, d, fn);
        return b.CreateUDiv(b.CreateAdd(grid, b.CreateSub(wg, b.getInt32(1))), wg);
      }
    }
  }

  llvm::Value* lane_id(IRB& b) override {
    llvm::Value* lo = b.CreateIntrinsic(llvm::Intrinsic::amdgcn_mbcnt_lo, {b.getInt32(-1), b.getInt32(0)});
    return b.CreateIntrinsic(llvm::Intrinsic::amdgcn_mbcnt_hi, {b.getInt32(-1), lo});
  }

  llvm::Value* shared_base(llvm::Module& m, const ir::Function& fn, uint64_t bytes) override {
    auto* ty = llvm::ArrayType::get(llvm::Type::getInt8Ty(m.getContext()), std::max<uint64_t>(bytes, 1));
    auto* g = new llvm::GlobalVariable(m, ty, false, llvm::GlobalValue::InternalLinkage, llvm::PoisonValue::get(ty),
                                       "tilejit.lds", nullptr, llvm::GlobalValue::NotThreadLocal, 3);
    g->setAlignment(llvm::Align(16));
    // Kept whole: GlobalOpt would otherwise split it per allocation and the LDS
    // lowering would then choose the layout instead of program order.
    llvm::appendToCompilerUsed(m, {g});
    return g;
  }

  void barrier(IRB& b) override {
    llvm::LLVMContext& ctx = b.getContext();
    auto wg = ctx.getOrInsertSyncScopeID("workgroup");
    b.CreateFence(llvm::AtomicOrdering::Release, wg);
    b.CreateIntrinsic(llvm::Intrinsic::amdgcn_s_barrier, {});
    b.CreateFence(llvm::AtomicOrdering::Acquire, wg);
  }

  void atomic_add(IRB& b, llvm::Value* ptr, llvm::Value* v) override {
    llvm::LLVMContext& ctx = b.getContext();
    bool shared = ptr->getType()->getPointerAddressSpace() == 3;
    auto op = v->getType()->isFPOrFPVectorTy() ? llvm::AtomicRMWInst::FAdd : llvm::AtomicRMWInst::Add;
    auto scope = ctx.getOrInsertSyncScopeID(shared ? "workgroup" : "agent");
    llvm::AtomicRMWInst* rmw = b.CreateAtomicRMW(op, ptr, v, llvm::MaybeAlign(4), llvm::AtomicOrdering::Monotonic, scope);
    if (!shared) rmw->setMetadata("amdgpu.no.fine.grained.memory", llvm::MDNode::get(ctx, {}));
  }

  llvm::Value* buffer_load(IRB& b, llvm::Value* base, llvm::Value* num_records, llvm::Value* offset,
                           llvm::Type* result, ir::CachePolicy policy) override {
    llvm::LLVMContext& ctx = b.getContext();
    // The aux operand's bit 1 is gfx940-family "nt" (nontemporal).
    const int32_t aux = policy == ir::CachePolicy::Stream ? 2 : 0;
    auto* rsrc_ty = llvm::PointerType::get(ctx, 8);
    llvm::Value* rsrc = b.CreateIntrinsic(rsrc_ty, llvm::Intrinsic::amdgcn_make_buffer_rsrc,
                                          {base, b.getInt16(0), b.CreateZExt(num_records, b.getInt64Ty()),
                                           b.getInt32(int32_t(kBufferFlags))});
    unsigned dwords = unsigned(result->getPrimitiveSizeInBits().getFixedValue() / 32);
    auto* all_ty = llvm::FixedVectorType::get(b.getInt32Ty(), dwords);
    llvm::Value* all = llvm::PoisonValue::get(all_ty);
    for (unsigned d = 0; d < dwords; d += 4) {
      unsigned n = std::min(4u, dwords - d);
      llvm::Type* t = n == 1 ? static_cast<llvm::Type*>(b.getInt32Ty()) : llvm::FixedVectorType::get(b.getInt32Ty(), n);
      llvm::Value* off = d == 0 ? offset : b.CreateAdd(offset, b.getInt32(int32_t(4 * d)));
      llvm::Value* part = b.CreateIntrinsic(t, llvm::Intrinsic::amdgcn_raw_ptr_buffer_load,
                                            {rsrc, off, b.getInt32(0), b.getInt32(aux)});
      for (unsigned i = 0; i < n; ++i)
        all = b.CreateInsertElement(all, n == 1 ? part : b.CreateExtractElement(part, i), d + i);
    }
    if (dwords == 1) return b.CreateBitCast(b.CreateExtractElement(all, uint64_t(0)), result);
    return b.CreateBitCast(all, result);
  }

  llvm::Value* transcendental(IRB& b, ir::OpCode code, llvm::Value* x) override {
    switch (code) {
      case ir::OpCode::Exp2: return b.CreateUnaryIntrinsic(llvm::Intrinsic::exp2, x);
      case ir::OpCode::Log2: return b.CreateUnaryIntrinsic(llvm::Intrinsic::log2, x);
      default: {
        // 1 / sqrt(x) with a 1 ulp budget: LLVM keeps denormal inputs correct.
        llvm::MDNode* ulp1 = llvm::MDBuilder(b.getContext()).createFPMath(1.0f);
        auto* s = b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x);
        llvm::cast<llvm::Instruction>(s)->setMetadata(llvm::LLVMContext::MD_fpmath, ulp1);
        return b.CreateFDiv(llvm::ConstantFP::get(x->getType(), 1.0), s, "", ulp1);
      }
    }
  }

  llvm::Value* intrinsic(IRB& b, const ir::Op& op, llvm::ArrayRef<llvm::Value*> args, llvm::Type* result) override {
    llvm::LLVMContext& ctx = b.getContext();
    auto* bf16x8 = llvm::FixedVectorType::get(llvm::Type::getBFloatTy(ctx), 8);
    auto* f32x4 = llvm::FixedVectorType::get(llvm::Type::getFloatTy(ctx), 4);
    switch (op.code) {
      case ir::OpCode::Mma: {
        int64_t instr = op.attrs.empty() ? -1 : op.attrs[0];
        if (instr != 0)
          throw InternalError(fmt::format("gfx950 has no mma instruction {} (only 0: v_mfma_f32_16x16x32_bf16)", instr));
        if (args[0]->getType() != bf16x8 || args[1]->getType() != bf16x8 || args[2]->getType() != f32x4 ||
            result != f32x4)
          throw InternalError("gfx950 mma 16x16x32 bf16 takes <8 x bf16>, <8 x bf16>, <4 x f32> and returns <4 x f32>");
        return b.CreateIntrinsic(llvm::Intrinsic::amdgcn_mfma_f32_16x16x32_bf16, {},
                                 {args[0], args[1], args[2], b.getInt32(0), b.getInt32(0), b.getInt32(0)});
      }
      case ir::OpCode::CvtPkBf16Fp4: {
        int64_t sel = op.attrs.empty() ? -1 : op.attrs[0];
        if (sel < 0 || sel > 3) throw InternalError(fmt::format("cvt_pk_bf16_fp4: byte_sel {} is not 0..3", sel));
        auto* bf16x2 = llvm::FixedVectorType::get(llvm::Type::getBFloatTy(ctx), 2);
        if (!args[0]->getType()->isIntegerTy(32) || !args[1]->getType()->isFloatTy() || result != bf16x2)
          throw InternalError("cvt_pk_bf16_fp4 takes (i32, f32) and returns <2 x bf16>");
        return b.CreateIntrinsic(llvm::Intrinsic::amdgcn_cvt_scalef32_pk_bf16_fp4, {},
                                 {args[0], args[1], b.getInt32(int32_t(sel))});
      }
      case ir::OpCode::WaveUMax: case ir::OpCode::WaveUMin: {
        if (!args[0]->getType()->isIntegerTy(32) || result != b.getInt32Ty())
          throw InternalError("wave_umax / wave_umin take and return i32");
        auto id = op.code == ir::OpCode::WaveUMax ? llvm::Intrinsic::amdgcn_wave_reduce_umax
                                                  : llvm::Intrinsic::amdgcn_wave_reduce_umin;
        return b.CreateIntrinsic(id, {b.getInt32Ty()}, {args[0], b.getInt32(0)});  // default strategy
      }
      case ir::OpCode::PrefetchL2:
        // A hint without a gfx950 instruction (no L2 prefetch that leaves the registers alone).
        if (args[0]->getType()->getPointerAddressSpace() != 1 || !args[1]->getType()->isIntegerTy(32))
          throw InternalError("prefetch_l2 takes (global pointer, i32 bytes)");
        return nullptr;
      case ir::OpCode::WaitPriorGrids: case ir::OpCode::LaunchDependents:
        return nullptr;  // gfx950 launches on one queue never overlap: nothing to wait for or allow
      default:
        throw InternalError(fmt::format("'{}' is an sm_90a intrinsic; gfx950 has no lowering for it",
                                        ir::op_info(op.code).name));
    }
  }

  void emit(llvm::Module& m, const ir::Function& fn, CompileResult& out) override {
    int64_t t0 = now_ns();
    llvm::SmallVector<char, 0> object;
    {
      llvm::raw_svector_ostream os(object);
      llvm::legacy::PassManager pm;
      if (tm_->addPassesToEmitFile(pm, os, nullptr, llvm::CodeGenFileType::ObjectFile))
        throw InternalError("gfx950: the target machine cannot emit object files");
      pm.run(m);
    }
    check_llvm_diagnostics(m.getContext(), "gfx950 code generation");
    out.codegen_ms = ms_since(t0);

    t0 = now_ns();
    std::vector<uint8_t> hsaco = link_hsaco(object);
    std::vector<amdgpu::KernelResources> kernels = amdgpu::parse_resource_report(hsaco);
    const amdgpu::KernelResources* mine = nullptr;
    for (const auto& k : kernels)
      if (k.name == fn.name) mine = &k;
    if (!mine) throw InternalError(fmt::format("gfx950: the code object has no kernel named '{}'", fn.name));
    out.assembly = disassemble(tm_->getTarget(), hsaco) + amdgpu::to_text(*mine);
    out.resources_json = amdgpu::to_json(*mine).dump();
    out.code.binary = std::move(hsaco);
    out.link_ms = ms_since(t0);
  }

 private:
  static bool fixed(const ir::Function& fn) { return fn.block_size[0] != 0; }
  static uint32_t dim(const ir::Function& fn, int d) { return std::max<uint32_t>(1, fn.block_size[d]); }

  /// Loads a field of the HSA kernel dispatch packet.
  llvm::Value* dispatch_load(IRB& b, llvm::Type* ty, unsigned offset, unsigned align) {
    llvm::Value* packet = b.CreateIntrinsic(llvm::Intrinsic::amdgcn_dispatch_ptr, {});
    llvm::Value* p = b.CreateConstInBoundsGEP1_64(b.getInt8Ty(), packet, offset);
    llvm::LoadInst* v = b.CreateAlignedLoad(ty, p, llvm::Align(align));
    v->setMetadata(llvm::LLVMContext::MD_invariant_load, llvm::MDNode::get(b.getContext(), {}));
    return v;
  }

  llvm::Value* block_dim(IRB& b, int d, const ir::Function& fn) {
    if (fixed(fn)) return b.getInt32(dim(fn, d));
    return b.CreateZExt(dispatch_load(b, b.getInt16Ty(), kDispatchWorkgroupSize + 2 * unsigned(d), 2), b.getInt32Ty());
  }
};

}  // namespace

std::unique_ptr<TargetBackend> make_gfx950_backend(int opt_level) {
  return std::make_unique<Gfx950Backend>(opt_level);
}

}  // namespace tilejit::backend
