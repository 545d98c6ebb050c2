// The two targets' descriptions.
#include "dsl/target.h"

namespace tilejit {

namespace {
constexpr TargetInfo kGfx950{Target::Gfx950, "gfx950", 64, 163840, 1024, true};
constexpr TargetInfo kSm90a{Target::Sm90a, "sm_90a", 32, 232448, 1024, false};
}  // namespace

const TargetInfo& target_info(Target t) { return t == Target::Gfx950 ? kGfx950 : kSm90a; }

std::optional<Target> parse_target(std::string_view name) {
  if (name == "gfx950") return Target::Gfx950;
  if (name == "sm_90a" || name == "sm_90" || name == "sm90") return Target::Sm90a;
  return std::nullopt;
}

}  // namespace tilejit
