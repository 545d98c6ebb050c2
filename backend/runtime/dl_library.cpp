// dlopen search order for driver libraries: already loaded, env override, sonames.
#include "backend/runtime/dl_library.h"

#include <dlfcn.h>

#include <cstdlib>

namespace tilejit {

namespace {

// dlerror() text without a leading "<name>: " (the caller names the library itself).
std::string loader_reason(std::string_view name) {
  const char* err = dlerror();
  std::string text = err ? err : "unknown dlopen error";
  std::string prefix = std::string(name) + ": ";
  if (text.rfind(prefix, 0) == 0) text.erase(0, prefix.size());
  return text;
}

}  // namespace

std::optional<DlLibrary> open_driver_library(std::span<const std::string_view> sonames,
                                             const char* override_env, std::string& why) {
  for (std::string_view name : sonames) {
    std::string n(name);
    if (void* h = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)) return DlLibrary{h, n};
  }
  dlerror();  // RTLD_NOLOAD misses are not failures worth reporting
  if (const char* path = override_env ? std::getenv(override_env) : nullptr; path && *path) {
    if (void* h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) return DlLibrary{h, path};
    why = std::string(path) + " (from " + override_env + "): " + loader_reason(path);
    return std::nullopt;
  }
  std::string reasons;
  for (std::string_view name : sonames) {
    std::string n(name);
    if (void* h = dlopen(n.c_str(), RTLD_NOW | RTLD_LOCAL)) return DlLibrary{h, n};
    std::string r = loader_reason(n);
    if (sonames.size() > 1) r = n + ": " + r;
    reasons += reasons.empty() ? r : "; " + r;
  }
  why = reasons.empty() ? "no library name to try" : reasons;
  return std::nullopt;
}

void* find_symbol(const DlLibrary& lib, const char* symbol) { return dlsym(lib.handle, symbol); }

}  // namespace tilejit
