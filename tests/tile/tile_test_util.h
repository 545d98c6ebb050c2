// Helpers of the tile tests: random bf16 data, the expected tile contents.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "backend/runtime/device.h"

namespace tilejit::tile_test {

/// A short name for test names ("sm90a", "gfx950").
std::string target_tag(Target target);

/// `count` random bf16 values (bits), N(0, 1) rounded to nearest even; never NaN.
std::vector<uint16_t> random_bf16(std::mt19937& rng, size_t count);
/// bf16 bits -> double (exact).
double bf16_value(uint16_t bits);

/// A global matrix seen through a tile copy: element (r, c) is src[r * ld + c] when r < rows_valid
/// and c < cols_valid, else 0 (bits).
struct SourceView {
  const std::vector<uint16_t>* src;
  int ld, rows_valid, cols_valid;
  uint16_t at(int r, int c) const {
    return r < rows_valid && c < cols_valid ? (*src)[size_t(r) * size_t(ld) + size_t(c)] : uint16_t(0);
  }
};

/// A NaN pattern no random input produces, written to outputs and shared memory before a kernel runs.
inline constexpr uint16_t kPoison = 0x7FC1;

}  // namespace tilejit::tile_test
