// bf16 MMA operands as 32-bit words (bf16 pairs): lanes assemble fragments from words of loaded
// or decoded vectors, and take vectors apart into words.
#pragma once
#include <vector>

#include "dsl/tilejit.h"

namespace tilejit::tile {

/// <2n x bf16> from n i32 words of bf16 pairs, or from one <n x i32> vector.
inline dsl::Value bf16_from_words(const std::vector<dsl::Value>& words) {
  dsl::Value v = words.size() == 1 ? words[0] : dsl::make_vector(words);
  return dsl::bitcast(v, ir::Type::vector(ir::Scalar::BF16, int(v.type().size_bytes() / 2)));
}

/// 32-bit word i (bf16 elements 2i and 2i + 1) of a bf16 vector.
inline dsl::Value bf16_word(const dsl::Value& v, int i) {
  return dsl::extract(dsl::bitcast(v, ir::Type::vector(ir::Scalar::I32, int(v.type().size_bytes() / 4))), i);
}

}  // namespace tilejit::tile
