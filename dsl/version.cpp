// The library's version string (part of every cache key).
#include "dsl/version.h"

namespace tilejit {
const char* version() { return TILEJIT_VERSION; }
}  // namespace tilejit
