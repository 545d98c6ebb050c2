// Random inputs and expected contents for the tile tests.
#include "tests/tile/tile_test_util.h"

#include <cstring>
#include <memory>

#include "dsl/ir/numeric.h"

namespace tilejit::tile_test {

std::string target_tag(Target target) { return target == Target::Gfx950 ? "gfx950" : "sm90a"; }

std::vector<uint16_t> random_bf16(std::mt19937& rng, size_t count) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<uint16_t> out(count);
  for (auto& x : out) {
    do x = ir::f32_to_bf16(dist(rng));
    while (x == 0 || x == 0x8000);  // nonzero, so that a zero fill is told apart from data
  }
  return out;
}

double bf16_value(uint16_t bits) { return double(ir::bf16_to_f32(bits)); }

}  // namespace tilejit::tile_test
