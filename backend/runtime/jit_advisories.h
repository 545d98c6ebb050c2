// Performance advisories in a GPU loader's log (the CUDA JIT's info log).
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace tilejit {

/// The lines of `loader_log` that report lost performance: the CUDA JIT's (ptxas's) "Potential
/// Performance Loss" notes (wgmma.mma_async serialized: C7510-C7515 and the like) and its
/// "warpgroup.arrive is injected" note (C7519: waits the JIT inserted between wgmmas, for a
/// register it could not keep in place, e.g. a branch between wgmma.fence and its commit).
/// Each line without surrounding whitespace, in log order; register and spill reports are not
/// advisories.
std::vector<std::string> performance_advisories(std::string_view loader_log);

}  // namespace tilejit
