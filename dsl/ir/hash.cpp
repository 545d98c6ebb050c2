// Stable hashes of IR text with XXH3-128.
#include "dsl/ir/hash.h"

#include <xxhash.h>

#include "dsl/ir/printer.h"

namespace tilejit::ir {

std::string hash_text(std::string_view text) {
  XXH128_hash_t h = XXH3_128bits(text.data(), text.size());
  XXH128_canonical_t c;
  XXH128_canonicalFromHash(&c, h);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (size_t i = 0; i < 16; ++i) {
    out[2 * i] = kHex[c.digest[i] >> 4];
    out[2 * i + 1] = kHex[c.digest[i] & 15];
  }
  return out;
}

std::string stable_hash(const Function& fn) { return hash_text(print(fn)); }

}  // namespace tilejit::ir
