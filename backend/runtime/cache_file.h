// The on-disk format of one kernel cache entry: header (magic, version, key, checksum) + payload.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "backend/runtime/cache.h"

namespace tilejit {

/// The bytes of an entry file for `key`.
std::string encode_cache_entry(std::string_view key, const CompiledEntry& entry);

/// Parses an entry file expected to hold `key`. Returns nullopt with `why`
/// set ("truncated ...", "bad magic", "checksum mismatch", ...) when the bytes
/// are not a complete, intact entry for `key`.
std::optional<CompiledEntry> decode_cache_entry(std::string_view key, std::string_view bytes,
                                                std::string& why);

}  // namespace tilejit
