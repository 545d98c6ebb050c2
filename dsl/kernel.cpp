// Kernel definitions, the registry and tracing.
#include "dsl/kernel.h"

#include <fmt/format.h>

#include <mutex>

namespace tilejit {

namespace {
std::mutex& registry_mutex() {
  static std::mutex m;
  return m;
}
std::vector<KernelDef>& registry() {
  static std::vector<KernelDef> r;
  return r;
}
}  // namespace

KernelDef::KernelDef(std::string name, std::vector<ir::Type> params, Body body, KernelOptions options,
                     std::source_location where)
    : impl_(std::make_shared<Impl>(Impl{std::move(name), std::move(params), std::move(body),
                                        std::move(options), where})) {
  if (impl_->name.empty()) throw UserError("a kernel needs a name", where);
  for (char c : impl_->name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_'))
      throw UserError(fmt::format("kernel name '{}' may only use letters, digits and '_'", impl_->name), where);
  if (!impl_->options.param_names.empty() && impl_->options.param_names.size() != impl_->params.size())
    throw UserError(fmt::format("kernel '{}' has {} parameters but {} parameter names", impl_->name,
                                impl_->params.size(), impl_->options.param_names.size()), where);
  const auto& b = impl_->options.block;
  bool any = b[0] || b[1] || b[2];
  if (any && (!b[0] || !b[1] || !b[2] || uint64_t(b[0]) * b[1] * b[2] > 1024))
    throw UserError(fmt::format("kernel '{}': fixed block size {}x{}x{} must have every dimension >= 1 "
                                "and at most 1024 threads", impl_->name, b[0], b[1], b[2]), where);
}

std::string KernelDef::defined_at() const { return format_location(impl_->where); }

std::string KernelDef::param_name(size_t i) const {
  if (i < impl_->options.param_names.size()) return impl_->options.param_names[i];
  return "arg" + std::to_string(i);
}

std::string KernelDef::signature() const {
  std::string s = impl_->name + "(";
  for (size_t i = 0; i < impl_->params.size(); ++i)
    s += fmt::format("{}{}: {}", i ? ", " : "", param_name(i), ir::to_string(impl_->params[i]));
  return s + ")";
}

ir::Function KernelDef::trace(Target target) const {
  dsl::Trace t(impl_->name, target);
  ir::Function& fn = t.function();
  for (size_t i = 0; i < impl_->params.size(); ++i) fn.params.push_back({param_name(i), impl_->params[i]});
  for (int d = 0; d < 3; ++d) fn.block_size[d] = impl_->options.block[d];
  fn.min_blocks_per_sm = impl_->options.min_blocks_per_sm;
  impl_->body(fn);
  return std::move(fn);
}

namespace detail {

void register_kernel(const KernelDef& def) {
  std::lock_guard lock(registry_mutex());
  registry().push_back(def);
}

dsl::Value param_value(ir::Function& fn, size_t index, const ir::Type& type, const std::source_location& where) {
  dsl::Trace& t = dsl::Trace::current(where);
  ir::ValueId id = t.emit(ir::OpCode::Param, type, {}, {int64_t(index)}, where);
  return dsl::Value(id, type, where);
}

}  // namespace detail

std::vector<KernelDef> registered_kernels() {
  std::lock_guard lock(registry_mutex());
  return registry();
}

KernelDef find_kernel(const std::string& name) {
  std::lock_guard lock(registry_mutex());
  std::vector<const KernelDef*> found;
  std::string known;
  for (const KernelDef& k : registry()) {
    if (k.name() == name) found.push_back(&k);
    known += (known.empty() ? "" : ", ") + k.name();
  }
  if (found.size() == 1) return *found[0];
  if (found.empty())
    throw UserError(fmt::format("no kernel named '{}' (registered: {})", name, known.empty() ? "none" : known));
  std::string places;
  for (auto* k : found) places += " " + k->defined_at();
  throw UserError(fmt::format("kernel name '{}' is defined more than once:{}", name, places));
}

}  // namespace tilejit
