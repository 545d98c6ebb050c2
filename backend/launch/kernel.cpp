// compile(): trace, verify, compile through the cache, load; Kernel::launch argument checks.
#include "backend/launch/kernel.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "backend/launch/dump.h"
#include "backend/llvm/compile.h"
#include "backend/runtime/cache.h"
#include "backend/runtime/jit_advisories.h"
#include "dsl/ir/hash.h"
#include "dsl/ir/launch_stub.h"
#include "dsl/ir/parser.h"
#include "dsl/ir/printer.h"
#include "dsl/ir/verifier.h"
#include "dsl/version.h"

namespace tilejit {

struct Kernel::Impl {
  explicit Impl(KernelDef d) : def(std::move(d)) {}
  std::string name;
  Device* device;
  ir::Function fn;  // the traced IR, or its launch stub until ir() is first called
  KernelDef def;
  mutable std::once_flag traced;
  mutable ir::Function full;  // ir() of a kernel loaded by its trace key
  std::vector<std::string> param_names;
  CompileInfo info;
  CompileInfo memory_hit_info;  // info with memory_hit set
  std::unique_ptr<LoadedKernel> loaded;
};

namespace {
double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct MemoKey {
  const void* def;
  uint64_t device;  // Device::serial(): a new device at a reused address must not hit
  int opt_level;
  auto operator<=>(const MemoKey&) const = default;
};

std::mutex& memo_mutex() {
  static std::mutex m;
  return m;
}
std::map<MemoKey, std::shared_ptr<const Kernel::Impl>>& memo() {
  static std::map<MemoKey, std::shared_ptr<const Kernel::Impl>> m;
  return m;
}

CompiledEntry compile_entry(const ir::Function& fn, Target target, const CompileOptions& options) {
  backend::CompileOptions o;
  o.opt_level = options.opt_level;
  o.keep_llvm_ir = dump_wants("llvm");
  backend::CompileResult r = backend::compile(fn, target, o);
  CompiledEntry e;
  e.code = std::move(r.code);
  e.llvm_ir = std::move(r.llvm_ir);
  e.assembly = std::move(r.assembly);
  e.metadata_json = r.resources_json.empty() ? "{}" : r.resources_json;
  return e;
}

CacheKeyMaterial key_material(std::string ir_text, Target target, const CompileOptions& options) {
  CacheKeyMaterial material;
  material.ir_text = std::move(ir_text);
  material.target = std::string(target_info(target).name);
  // Entries with the LLVM IR (compiled for TILEJIT_DUMP=llvm) have their own key.
  material.options = fmt::format("O{}{}", options.opt_level, dump_wants("llvm") ? " llvm-ir" : "");
  material.llvm_version = backend::llvm_version();
  return material;
}

}  // namespace

std::string trace_cache_key(const KernelDef& def, Target target, const CompileOptions& options) {
  const std::string& trace_key = def.options().trace_key;
  if (trace_key.empty() || build_id().empty() || dump_requested()) return {};
  return key_material(fmt::format("trace key of kernel {}: {}\nlibrary build {}", def.name(), trace_key, build_id()),
                      target, options)
      .key();
}

CompiledEntry trace_key_entry(const CompiledEntry& compiled, const ir::Function& fn, std::string ir_hash) {
  return {compiled.code, compiled.metadata_json, {}, {}, ir::print(ir::launch_stub(fn)), std::move(ir_hash)};
}

Kernel compile(const KernelDef& def, Device& device, const CompileOptions& options) {
  MemoKey key{def.id(), device.serial(), options.opt_level};
  {
    std::lock_guard lock(memo_mutex());
    auto it = memo().find(key);
    if (it != memo().end()) return Kernel(it->second, true);
  }
  auto impl = std::make_shared<Kernel::Impl>(def);
  impl->name = def.name();
  impl->device = &device;
  for (size_t i = 0; i < def.param_types().size(); ++i) impl->param_names.push_back(def.param_name(i));

  auto t0 = std::chrono::steady_clock::now();
  Target target = device.target();
  KernelCache& cache = kernel_cache();
  const std::string alias = device.needs_code() ? trace_cache_key(def, target, options) : std::string();
  const CompiledEntry* quick = alias.empty() ? nullptr : cache.find(alias);
  const CompiledEntry* entry = nullptr;
  if (quick && !quick->launch_ir.empty()) {
    entry = quick;
    impl->fn = ir::parse(entry->launch_ir);
    impl->info.trace_skipped = impl->info.disk_hit = true;
    impl->info.ir_hash = entry->ir_hash;
    impl->info.resources_json = entry->metadata_json;
    impl->info.trace_ms = ms_since(t0);
  } else {
    impl->fn = def.trace(target);
    ir::verify(impl->fn, target);
    impl->info.trace_ms = ms_since(t0);
    std::string text = ir::print(impl->fn);
    impl->info.ir_hash = ir::hash_text(text);
    if (device.needs_code()) {
      uint64_t misses = cache.stats().misses;
      auto t1 = std::chrono::steady_clock::now();
      entry = &cache.get_or_compile(key_material(text, target, options),
                                    [&] { return compile_entry(impl->fn, target, options); });
      bool compiled = cache.stats().misses != misses;
      impl->info.compile_ms = compiled ? ms_since(t1) : 0;
      impl->info.disk_hit = !compiled;
      impl->info.resources_json = entry->metadata_json;
      if (!alias.empty()) cache.store(alias, trace_key_entry(*entry, impl->fn, impl->info.ir_hash));
    }
    dump_kernel(impl->fn, text, entry);
  }

  auto t2 = std::chrono::steady_clock::now();
  impl->loaded = device.load(impl->fn, entry ? &entry->code : nullptr);
  impl->info.load_ms = ms_since(t2);
  impl->info.load_log = impl->loaded->load_log();
  impl->info.performance_advisories = performance_advisories(impl->info.load_log);
  if (!impl->info.performance_advisories.empty())
    fmt::print(stderr, "tilejit: warning: the {} loader reports lost performance in kernel '{}':\n  {}\n", device.name(),
               impl->name, fmt::join(impl->info.performance_advisories, "\n  "));

  impl->memory_hit_info = impl->info;
  impl->memory_hit_info.memory_hit = true;
  std::lock_guard lock(memo_mutex());
  auto [it, inserted] = memo().emplace(key, impl);
  return Kernel(it->second, !inserted);
}

const std::string& Kernel::name() const { return impl_->name; }
Device& Kernel::device() const { return *impl_->device; }
const ir::Function& Kernel::ir() const {
  if (!impl_->info.trace_skipped) return impl_->fn;
  std::call_once(impl_->traced, [&] { impl_->full = impl_->def.trace(impl_->device->target()); });
  return impl_->full;
}
const CompileInfo& Kernel::info() const { return from_memory_ ? impl_->memory_hit_info : impl_->info; }

KernelArg Kernel::make_arg(size_t index, HostKind kind, size_t elem_bytes, uint64_t bits) const {
  const auto& params = impl_->fn.params;
  if (index >= params.size())
    throw UserError(fmt::format("kernel '{}' takes {} arguments, got more", impl_->name, params.size()));
  const ir::Type& t = params[index].type;
  auto fail = [&](const char* got) {
    throw UserError(fmt::format("kernel '{}': argument {} ('{}') must be {}, got {}", impl_->name, index,
                                impl_->param_names[index], ir::to_string(t), got));
  };
  switch (kind) {
    case HostKind::Pointer:
      if (!t.is_pointer() || t.space != ir::AddrSpace::Global) fail("a buffer");
      if (elem_bytes && elem_bytes != size_t(ir::scalar_bits(t.elem) / 8))
        fail(fmt::format("a buffer of {}-byte elements", elem_bytes).c_str());
      break;
    case HostKind::Int:
      if (!t.is_scalar() || !t.is_int() || t.elem == ir::Scalar::I1) fail("an integer");
      break;
    case HostKind::Float:
      if (!t.is_scalar() || !t.is_float() || size_t(ir::scalar_bits(t.elem) / 8) != elem_bytes)
        fail(elem_bytes == 4 ? "a float" : "a double");
      break;
    case HostKind::Bool:
      if (t != ir::Type::scalar(ir::Scalar::I1)) fail("a bool");
      break;
  }
  if (kind == HostKind::Int && t.elem != ir::Scalar::I64) {
    int nbits = ir::scalar_bits(t.elem);
    int64_t v = int64_t(bits);
    int64_t lo = -(int64_t(1) << (nbits - 1)), hi = (int64_t(1) << nbits) - 1;
    if (v < lo || v > hi)
      throw UserError(fmt::format("kernel '{}': argument {} ('{}') = {} does not fit in {}", impl_->name, index,
                                  impl_->param_names[index], v, ir::to_string(t)));
    bits &= (uint64_t(1) << nbits) - 1;
  }
  return {t, bits};
}

void Kernel::launch_args(Dim3 grid, Dim3 block, std::span<const KernelArg> args, Stream* stream,
                         LaunchOptions options) const {
  const auto& params = impl_->fn.params;
  if (args.size() != params.size())
    throw UserError(fmt::format("kernel '{}' takes {} arguments, got {}", impl_->name, params.size(), args.size()));
  for (size_t i = 0; i < args.size(); ++i)
    if (args[i].type != params[i].type)
      throw UserError(fmt::format("kernel '{}': argument {} ('{}') must be {}, got {}", impl_->name, i,
                                  impl_->param_names[i], ir::to_string(params[i].type), ir::to_string(args[i].type)));
  if (!grid.count() || !block.count())
    throw UserError(fmt::format("kernel '{}': empty grid or block ({}x{}x{} / {}x{}x{})", impl_->name, grid.x,
                                grid.y, grid.z, block.x, block.y, block.z));
  const uint32_t* fixed = impl_->fn.block_size;
  if (fixed[0] && (block.x != fixed[0] || block.y != fixed[1] || block.z != fixed[2]))
    throw UserError(fmt::format("kernel '{}' was defined for blocks of {}x{}x{}, launched with {}x{}x{}", impl_->name,
                                fixed[0], fixed[1], fixed[2], block.x, block.y, block.z));
  if (block.count() > target_info(impl_->device->target()).max_block_threads)
    throw OutOfResources(fmt::format("kernel '{}': {} threads per block exceed the limit of {}", impl_->name,
                                     block.count(), target_info(impl_->device->target()).max_block_threads));
  impl_->loaded->launch(grid, block, args, stream, options);
}

}  // namespace tilejit
