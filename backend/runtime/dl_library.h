// Finding and opening a GPU driver library with dlopen (shared by the CUDA and HIP drivers).
#pragma once
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tilejit {

/// An opened shared library. Driver libraries are never closed.
struct DlLibrary {
  void* handle = nullptr;
  std::string name;  ///< the name or path it was opened under
};

/// Opens a driver library, in this order: one of `sonames` that the process has
/// already loaded (RTLD_NOLOAD); else the path in the environment variable
/// `override_env` when it is set and non-empty (authoritative: no other name
/// is tried after it fails); else each of `sonames` in turn. On failure returns
/// nullopt and sets `why` to the loader's reason(s), without the library name
/// prefix dlerror() puts in front.
std::optional<DlLibrary> open_driver_library(std::span<const std::string_view> sonames,
                                             const char* override_env, std::string& why);

/// Looks up `symbol` in `lib`; null when absent.
void* find_symbol(const DlLibrary& lib, const char* symbol);

}  // namespace tilejit
