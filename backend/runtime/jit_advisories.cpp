// performance_advisories(): the lost-performance lines of a loader's log.
#include "backend/runtime/jit_advisories.h"

namespace tilejit {

std::vector<std::string> performance_advisories(std::string_view loader_log) {
  constexpr std::string_view kMarkers[] = {"Potential Performance Loss", "warpgroup.arrive is injected"};
  std::vector<std::string> found;
  while (!loader_log.empty()) {
    const size_t end = loader_log.find('\n');
    std::string_view line = loader_log.substr(0, end);
    loader_log = end == std::string_view::npos ? std::string_view() : loader_log.substr(end + 1);
    for (std::string_view marker : kMarkers)
      if (line.find(marker) != std::string_view::npos) {
        const size_t first = line.find_first_not_of(" \t\r"), last = line.find_last_not_of(" \t\r");
        found.emplace_back(line.substr(first, last - first + 1));
        break;
      }
  }
  return found;
}

}  // namespace tilejit
