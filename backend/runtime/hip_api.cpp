// Loading the HIP runtime's function table and turning its errors into RuntimeError.
#include "backend/runtime/hip_api.h"

#include <fmt/format.h>

#include <array>
#include <memory>
#include <mutex>

#include "backend/runtime/dl_library.h"
#include "backend/runtime/no_device.h"

namespace tilejit::hip {

namespace {

Api resolve(const DlLibrary& lib) {
  Api a;
  a.library = lib.name;
#define TILEJIT_HIP_RESOLVE(ret, sym, params)                                              \
  a.sym = reinterpret_cast<decltype(a.sym)>(find_symbol(lib, #sym));                     \
  if (!a.sym)                                                                              \
    throw NoDeviceError("HIP", lib.name,                                                    \
                        "the library lacks the runtime symbol " #sym " (too old a ROCm?)");
  TILEJIT_HIP_SYMBOLS(TILEJIT_HIP_RESOLVE)
#undef TILEJIT_HIP_RESOLVE
  return a;
}

}  // namespace

const Api& api() {
  static std::mutex mu;
  static std::unique_ptr<Api> loaded;  // never unloaded: the runtime outlives every object
  std::lock_guard lock(mu);
  if (loaded) return *loaded;
  static constexpr std::array<std::string_view, 4> names{
      "libamdhip64.so.7", "libamdhip64.so.6", "libamdhip64.so.5", "libamdhip64.so"};
  std::string why;
  auto lib = open_driver_library(names, "TILEJIT_LIBAMDHIP64", why);
  if (!lib) throw NoDeviceError("HIP", std::string(kLibhipName), why);
  loaded = std::make_unique<Api>(resolve(*lib));
  return *loaded;
}

Api load_api_from(const std::string& path) {
  std::array<std::string_view, 1> names{path};
  std::string why;
  auto lib = open_driver_library(names, nullptr, why);
  if (!lib) throw NoDeviceError("HIP", path, why);
  return resolve(*lib);
}

std::string describe(const Api& api, hipError_t r) {
  const char* name = api.hipGetErrorName ? api.hipGetErrorName(r) : nullptr;
  const char* text = api.hipGetErrorString ? api.hipGetErrorString(r) : nullptr;
  std::string n = name ? name : fmt::format("hipError_t {}", r);
  if (!text || n == text) return n;
  return fmt::format("{} ({})", n, text);
}

void check(const Api& api, hipError_t r, std::string_view call, std::string_view suffix) {
  if (r == hipSuccess) return;
  api.hipGetLastError();  // clear the sticky last error so later calls report their own
  throw RuntimeError(fmt::format("{} failed: {}{}", call, describe(api, r), suffix));
}

}  // namespace tilejit::hip
