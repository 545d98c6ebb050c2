// Loading the CUDA driver's function table and turning its errors into RuntimeError.
#include "backend/runtime/cuda_api.h"

#include <fmt/format.h>

#include <array>
#include <memory>
#include <mutex>

#include "backend/runtime/dl_library.h"
#include "backend/runtime/no_device.h"

namespace tilejit::cuda {

namespace {

Api resolve(const DlLibrary& lib) {
  Api a;
  a.library = lib.name;
#define TILEJIT_CUDA_RESOLVE(ret, sym, params)                                             \
  a.sym = reinterpret_cast<decltype(a.sym)>(find_symbol(lib, #sym));                     \
  if (!a.sym)                                                                              \
    throw NoDeviceError("CUDA", lib.name,                                                   \
                        "the library lacks the driver symbol " #sym " (too old a driver?)");
  TILEJIT_CUDA_SYMBOLS(TILEJIT_CUDA_RESOLVE)
#undef TILEJIT_CUDA_RESOLVE
  return a;
}

}  // namespace

const Api& api() {
  static std::mutex mu;
  static std::unique_ptr<Api> loaded;  // never unloaded: the driver outlives every object
  std::lock_guard lock(mu);
  if (loaded) return *loaded;
  std::array<std::string_view, 1> names{kLibcudaName};
  std::string why;
  auto lib = open_driver_library(names, "TILEJIT_LIBCUDA", why);
  if (!lib) throw NoDeviceError("CUDA", std::string(kLibcudaName), why);
  loaded = std::make_unique<Api>(resolve(*lib));
  return *loaded;
}

Api load_api_from(const std::string& path) {
  std::array<std::string_view, 1> names{path};
  std::string why;
  auto lib = open_driver_library(names, nullptr, why);
  if (!lib) throw NoDeviceError("CUDA", path, why);
  return resolve(*lib);
}

std::string describe(const Api& api, CUresult r) {
  const char* name = nullptr;
  const char* text = nullptr;
  if (!api.cuGetErrorName || api.cuGetErrorName(r, &name) != CUDA_SUCCESS) name = nullptr;
  if (!api.cuGetErrorString || api.cuGetErrorString(r, &text) != CUDA_SUCCESS) text = nullptr;
  return fmt::format("{} ({})", name ? name : fmt::format("CUresult {}", r),
                     text ? text : "no description");
}

void check(const Api& api, CUresult r, std::string_view call, std::string_view suffix) {
  if (r == CUDA_SUCCESS) return;
  throw RuntimeError(fmt::format("{} failed: {}{}", call, describe(api, r), suffix));
}

}  // namespace tilejit::cuda
