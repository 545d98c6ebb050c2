// Encoding and validating kernel cache entry files.
#include "backend/runtime/cache_file.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <cstring>

namespace tilejit {

namespace {

constexpr char kMagic[8] = {'T', 'J', 'K', 'C', 'A', 'C', 'H', 'E'};

void put_u32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = char((v >> (8 * i)) & 0xff);
  out.append(b, 4);
}
void put_u64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = char((v >> (8 * i)) & 0xff);
  out.append(b, 8);
}
void put_bytes(std::string& out, std::string_view s) {
  put_u64(out, s.size());
  out.append(s);
}

// Bounds-checked little-endian reads; `ok` turns false at the first overrun.
struct Reader {
  std::string_view data;
  size_t pos = 0;
  bool ok = true;

  bool have(uint64_t n) {
    if (!ok || data.size() - pos < n) ok = false;
    return ok;
  }
  uint64_t uint(int bytes) {
    if (!have(uint64_t(bytes))) return 0;
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= uint64_t(uint8_t(data[pos + i])) << (8 * i);
    pos += size_t(bytes);
    return v;
  }
  std::string_view bytes(uint64_t n) {
    if (!have(n)) return {};
    std::string_view s = data.substr(pos, size_t(n));
    pos += size_t(n);
    return s;
  }
  std::string string() {
    uint64_t n = uint(8);
    return std::string(bytes(n));
  }
};

std::string encode_payload(const CompiledEntry& e) {
  std::string p;
  p.push_back(char(e.code.target));
  put_bytes(p, e.code.symbol);
  put_bytes(p, std::string_view(reinterpret_cast<const char*>(e.code.binary.data()),
                                e.code.binary.size()));
  put_bytes(p, e.code.metadata_json);
  put_bytes(p, e.metadata_json);
  put_bytes(p, e.llvm_ir);
  put_bytes(p, e.assembly);
  put_bytes(p, e.launch_ir);
  put_bytes(p, e.ir_hash);
  return p;
}

}  // namespace

std::string encode_cache_entry(std::string_view key, const CompiledEntry& entry) {
  std::string payload = encode_payload(entry);
  std::string out(kMagic, sizeof kMagic);
  put_u32(out, kCacheFormatVersion);
  put_u32(out, uint32_t(key.size()));
  out.append(key);
  put_u64(out, payload.size());
  put_u64(out, XXH3_64bits(payload.data(), payload.size()));
  out += payload;
  return out;
}

std::optional<CompiledEntry> decode_cache_entry(std::string_view key, std::string_view bytes,
                                                std::string& why) {
  Reader r{bytes};
  std::string_view magic = r.bytes(sizeof kMagic);
  if (!r.ok) {
    why = fmt::format("truncated: {} bytes, shorter than the header", bytes.size());
    return std::nullopt;
  }
  if (std::memcmp(magic.data(), kMagic, sizeof kMagic) != 0) {
    why = "bad magic";
    return std::nullopt;
  }
  uint32_t version = uint32_t(r.uint(4));
  uint32_t key_size = uint32_t(r.uint(4));
  std::string_view stored_key = r.bytes(key_size);
  uint64_t payload_size = r.uint(8);
  uint64_t checksum = r.uint(8);
  if (!r.ok) {
    why = fmt::format("truncated: {} bytes, shorter than the header", bytes.size());
    return std::nullopt;
  }
  if (version != kCacheFormatVersion) {
    why = fmt::format("format version {}, expected {}", version, kCacheFormatVersion);
    return std::nullopt;
  }
  if (stored_key != key) {
    why = fmt::format("it holds key {}", stored_key.substr(0, 64));
    return std::nullopt;
  }
  size_t have = bytes.size() - r.pos;
  if (have < payload_size) {
    why = fmt::format("truncated: {} of {} payload bytes", have, payload_size);
    return std::nullopt;
  }
  if (have > payload_size) {
    why = fmt::format("{} bytes after the payload", have - payload_size);
    return std::nullopt;
  }
  std::string_view payload = bytes.substr(r.pos);
  if (XXH3_64bits(payload.data(), payload.size()) != checksum) {
    why = "payload checksum mismatch";
    return std::nullopt;
  }
  Reader p{payload};
  CompiledEntry e;
  uint64_t target = p.uint(1);
  e.code.symbol = p.string();
  std::string binary = p.string();
  e.code.binary.assign(binary.begin(), binary.end());
  e.code.metadata_json = p.string();
  e.metadata_json = p.string();
  e.llvm_ir = p.string();
  e.assembly = p.string();
  e.launch_ir = p.string();
  e.ir_hash = p.string();
  if (!p.ok || p.pos != payload.size()) {
    why = "malformed payload";
    return std::nullopt;
  }
  if (target != uint64_t(Target::Gfx950) && target != uint64_t(Target::Sm90a)) {
    why = fmt::format("unknown target {}", target);
    return std::nullopt;
  }
  e.code.target = Target(target);
  return e;
}

}  // namespace tilejit
