// tilejit's version.
#pragma once
#include <string>

namespace tilejit {
/// The tilejit release, e.g. "0.1.0".
const char* version();
/// The GNU build id (hex) of the binary tilejit's code was loaded from (libtilejit.so, or the
/// program it is linked into), or "" when that binary has none. Code traced by kernels defined in
/// that binary is the same whenever this is: see KernelOptions::trace_identity.
const std::string& build_id();
}  // namespace tilejit
