// Error formatting.
#include "dsl/error.h"

#include <string_view>

namespace tilejit {

std::string format_location(const std::source_location& loc) {
  std::string_view file = loc.file_name();
  // Keep the last two path components: enough to find the file, no machine paths.
  auto cut = file.rfind('/');
  if (cut != std::string_view::npos && cut > 0) {
    auto prev = file.rfind('/', cut - 1);
    if (prev != std::string_view::npos) file.remove_prefix(prev + 1);
  }
  return std::string(file) + ":" + std::to_string(loc.line());
}

UserError::UserError(const std::string& what, const std::source_location& loc)
    : Error(format_location(loc) + ": error: " + what) {}

}  // namespace tilejit
