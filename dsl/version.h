// tilejit's version.
#pragma once

namespace tilejit {
/// The tilejit release, e.g. "0.1.0".
const char* version();
}  // namespace tilejit
