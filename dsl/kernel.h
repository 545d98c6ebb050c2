// Kernel definition from a C++ callable, the kernel registry, and tracing.
#pragma once
#include <array>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <boost/hana.hpp>

#include "dsl/control.h"
#include "dsl/ops.h"

namespace tilejit {

/// Options fixed when a kernel is defined.
struct KernelOptions {
  /// Fixed workgroup size (all zero: any size, given at launch). A fixed size lets the
  /// compiler specialise (gfx950 flat-work-group-size, NVVM maxntid).
  std::array<uint32_t, 3> block{0, 0, 0};
  /// Parameter names for dumps and error messages (default arg0, arg1, ...).
  std::vector<std::string> param_names;
  /// sm_90a, with a fixed `block`: ask for at least this many resident blocks per SM (PTX
  /// .minnctapersm: ptxas caps the registers to 64K / (threads x this)). 0: no hint. gfx950
  /// ignores it (one wave per SIMD is a normal trade-off there; its allocation stays its own).
  uint32_t min_blocks_per_sm = 0;
  /// A text that, with the kernel's name and the build of libtilejit, determines the traced body
  /// for every target (a kernel family's configuration, say). When set, compile() also keeps the
  /// compiled code on disk under (name, trace_key, libtilejit's build id, target, options), and a
  /// later process loads it from there without tracing the body (Kernel::ir() traces on first
  /// use). The build id covers code inside libtilejit only: a body defined elsewhere must put
  /// whatever changes it (its own version, say) into the key. Empty: always traced.
  std::string trace_key;
};

/// A kernel: a name, a signature and a C++ body that traces into IR per target.
/// Copies share one definition.
class KernelDef {
 public:
  using Body = std::function<void(ir::Function&)>;
  KernelDef(std::string name, std::vector<ir::Type> params, Body body, KernelOptions options,
            std::source_location where);

  const std::string& name() const { return impl_->name; }
  /// Identifies the definition (copies share it).
  const void* id() const { return impl_.get(); }
  const std::vector<ir::Type>& param_types() const { return impl_->params; }
  const KernelOptions& options() const { return impl_->options; }
  /// Where the kernel was defined ("file:line").
  std::string defined_at() const;
  /// "name(a: ptr<global, f32>, n: i32)".
  std::string signature() const;
  std::string param_name(size_t i) const;

  /// Runs the body and returns the recorded IR for `target`. Trace-time mistakes throw
  /// UserError naming the kernel's source line.
  ir::Function trace(Target target) const;

 private:
  struct Impl {
    std::string name;
    std::vector<ir::Type> params;
    Body body;
    KernelOptions options;
    std::source_location where;
  };
  std::shared_ptr<const Impl> impl_;
};

/// All kernels defined in this program (in definition order).
std::vector<KernelDef> registered_kernels();
/// The kernel registered under `name`; UserError listing the known names otherwise.
KernelDef find_kernel(const std::string& name);

namespace detail {
template <class T> struct callable_params;
template <class C, class R, class... A> struct callable_params<R (C::*)(A...) const> { using type = std::tuple<std::decay_t<A>...>; };
template <class C, class R, class... A> struct callable_params<R (C::*)(A...)> { using type = std::tuple<std::decay_t<A>...>; };
template <class R, class... A> struct callable_params<R (*)(A...)> { using type = std::tuple<std::decay_t<A>...>; };

template <class F>
using params_of = typename callable_params<decltype(&F::operator())>::type;

/// The parameter types of a kernel body as a compile-time list of types.
template <class... A>
constexpr auto type_list(std::tuple<A...>*) { return boost::hana::tuple_t<A...>; }

/// True for the DSL parameter types (they name their IR type).
inline constexpr auto has_ir_type = boost::hana::is_valid([](auto t) -> decltype(decltype(t)::type::ir_type()) {});

void register_kernel(const KernelDef& def);
dsl::Value param_value(ir::Function& fn, size_t index, const ir::Type& type, const std::source_location& where);
}  // namespace detail

/// Defines and registers a kernel. Parameters of `body` are DSL types:
/// Ptr<T> / SharedPtr<T> for pointers, Val<T> (Int, Float, ...) for scalars.
///
///   static auto vadd = tilejit::kernel("vector_add",
///       [](Ptr<float> a, Ptr<float> b, Ptr<float> c, Int n) { ... });
template <class F>
KernelDef kernel(std::string name, F body, KernelOptions options = {},
                 std::source_location where = std::source_location::current()) {
  using Params = detail::params_of<F>;
  constexpr auto param_list = detail::type_list(static_cast<Params*>(nullptr));
  static_assert(boost::hana::all_of(param_list, detail::has_ir_type),
                "kernel parameters must be DSL types: Ptr<T>, SharedPtr<T>, Val<T> (Int, Float, ...)");
  std::vector<ir::Type> types;
  boost::hana::for_each(param_list, [&](auto t) { types.push_back(decltype(t)::type::ir_type()); });
  auto trace_body = [body, types, where](ir::Function& fn) {
    auto call = [&]<size_t... I>(std::index_sequence<I...>) {
      body(std::tuple_element_t<I, Params>(detail::param_value(fn, I, types[I], where), where)...);
    };
    call(std::make_index_sequence<std::tuple_size_v<Params>>{});
  };
  KernelDef def(std::move(name), std::move(types), trace_body, std::move(options), where);
  detail::register_kernel(def);
  return def;
}

}  // namespace tilejit
