// The kernel cache: a hash map in memory, one validated file per key on disk.
#include "backend/runtime/cache.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

#include "backend/runtime/cache_file.h"
#include "dsl/error.h"

namespace tilejit {

namespace fs = std::filesystem;

// ---- key ---------------------------------------------------------------------------------

CacheKeyMaterial::CacheKeyMaterial() : tilejit_version(TILEJIT_VERSION) {}

std::string CacheKeyMaterial::key() const {
  XXH3_state_t* state = XXH3_createState();
  if (!state) throw std::bad_alloc();
  XXH3_128bits_reset(state);
  auto field = [&](std::string_view s) {
    uint64_t n = s.size();
    XXH3_128bits_update(state, &n, sizeof n);
    XXH3_128bits_update(state, s.data(), s.size());
  };
  field("tilejit kernel cache key");
  field(ir_text);
  field(target);
  field(options);
  field(tilejit_version);
  field(llvm_version);
  uint32_t fv = format_version;
  XXH3_128bits_update(state, &fv, sizeof fv);
  XXH128_hash_t h = XXH3_128bits_digest(state);
  XXH3_freeState(state);
  return fmt::format("{:016x}{:016x}", h.high64, h.low64);
}

// ---- config ------------------------------------------------------------------------------

CacheConfig CacheConfig::from_env() {
  CacheConfig c;
  auto env = [](const char* name) -> std::string_view {
    const char* v = std::getenv(name);
    return v ? std::string_view(v) : std::string_view();
  };
  if (env("TILEJIT_CACHE") == "0") c.disk = false;
  if (!env("TILEJIT_CACHE_DIR").empty()) {
    c.dir = fs::path(env("TILEJIT_CACHE_DIR"));
  } else if (!env("XDG_CACHE_HOME").empty()) {
    c.dir = fs::path(env("XDG_CACHE_HOME")) / "tilejit";
  } else if (!env("HOME").empty()) {
    c.dir = fs::path(env("HOME")) / ".cache" / "tilejit";
  } else {
    c.disk = false;
  }
  return c;
}

// ---- cache -------------------------------------------------------------------------------

namespace {

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

bool is_key(std::string_view key) {
  if (key.empty() || key.size() > 128) return false;
  for (char ch : key)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  return true;
}

enum class ReadStatus { Missing, Ok, IoError };

// Reads a whole file; Missing when it does not exist.
ReadStatus read_file(const fs::path& path, std::string& out, std::string& why) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return ReadStatus::Missing;
    why = std::strerror(errno);
    return ReadStatus::IoError;
  }
  out.clear();
  char buf[1 << 16];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::strerror(errno);
      ::close(fd);
      return ReadStatus::IoError;
    }
    out.append(buf, size_t(n));
  }
  ::close(fd);
  return ReadStatus::Ok;
}

bool write_all(int fd, std::string_view data, std::string& why) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      why = std::strerror(errno);
      return false;
    }
    data.remove_prefix(size_t(n));
  }
  return true;
}

}  // namespace

struct KernelCache::Impl {
  CacheConfig config;
  mutable std::shared_mutex mu;
  std::unordered_map<std::string, std::unique_ptr<CompiledEntry>, StringHash, std::equal_to<>>
      entries;
  std::atomic<uint64_t> memory_hits{0}, disk_hits{0}, misses{0}, disk_writes{0}, corrupt{0};
  std::atomic<bool> writable{true};
  std::atomic<bool> read_warned{false};
  std::atomic<uint64_t> temp_counter{0};

  const CompiledEntry* find(std::string_view key) const {
    std::shared_lock lock(mu);
    auto it = entries.find(key);
    return it == entries.end() ? nullptr : it->second.get();
  }

  const CompiledEntry& insert(std::string_view key, CompiledEntry entry) {
    std::unique_lock lock(mu);
    auto [it, fresh] = entries.try_emplace(std::string(key), nullptr);
    if (fresh) it->second = std::make_unique<CompiledEntry>(std::move(entry));
    return *it->second;  // a racing thread's equal entry wins when it was first
  }

  fs::path path_of(std::string_view key) const {
    return config.dir / (std::string(key) + ".tjk");
  }

  void degrade(const std::string& why) {
    if (writable.exchange(false))
      fmt::print(stderr, "tilejit: kernel cache dir {} is not writable ({}); caching in memory only\n",
                 config.dir.string(), why);
  }

  // The disk entry for `key`, or nullopt (missing, unreadable or corrupt).
  std::optional<CompiledEntry> read(std::string_view key) {
    fs::path path = path_of(key);
    std::string bytes, why;
    switch (read_file(path, bytes, why)) {
      case ReadStatus::Missing: return std::nullopt;
      case ReadStatus::IoError:  // said once per cache; the entry is left in place
        if (!read_warned.exchange(true))
          fmt::print(stderr, "tilejit: cannot read cache entry {} ({}); recompiling\n",
                     path.string(), why);
        return std::nullopt;
      case ReadStatus::Ok: break;
    }
    auto entry = decode_cache_entry(key, bytes, why);
    if (!entry) {
      ++corrupt;
      fmt::print(stderr, "tilejit: cache entry {} is corrupt ({}); recompiling\n", path.string(),
                 why);
    }
    return entry;
  }

  // Writes through a temporary file in the same directory, then renames it over the entry.
  void write(std::string_view key, const CompiledEntry& entry) {
    if (!writable) return;
    std::error_code ec;
    fs::create_directories(config.dir, ec);
    if (ec) return degrade(ec.message());
    std::string bytes = encode_cache_entry(key, entry);
    fs::path final_path = path_of(key);
    fs::path temp = config.dir /
                    fmt::format(".{}.tmp.{}.{}.{}", key, ::getpid(),
                                std::hash<std::thread::id>{}(std::this_thread::get_id()),
                                temp_counter.fetch_add(1));
    int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) return degrade(std::strerror(errno));
    std::string why;
    bool ok = write_all(fd, bytes, why);
    if (::close(fd) != 0 && ok) {
      ok = false;
      why = std::strerror(errno);
    }
    if (ok && ::rename(temp.c_str(), final_path.c_str()) != 0) {
      ok = false;
      why = std::strerror(errno);
    }
    if (!ok) {
      ::unlink(temp.c_str());  // only our own temporary file
      return degrade(why);
    }
    ++disk_writes;
  }
};

KernelCache::KernelCache(CacheConfig config) : impl_(std::make_unique<Impl>()) {
  impl_->config = std::move(config);
  if (!impl_->config.disk) impl_->writable = false;
}

KernelCache::~KernelCache() = default;

const CompiledEntry& KernelCache::get_or_compile(const CacheKeyMaterial& material,
                                                 const std::function<CompiledEntry()>& compile) {
  return get_or_compile(material.key(), compile);
}

const CompiledEntry& KernelCache::get_or_compile(std::string_view key,
                                                 const std::function<CompiledEntry()>& compile) {
  if (const CompiledEntry* hit = find(key)) return *hit;
  CompiledEntry entry = compile();
  ++impl_->misses;
  return store(key, std::move(entry));
}

const CompiledEntry* KernelCache::find(std::string_view key) {
  Impl& m = *impl_;
  if (const CompiledEntry* hit = m.find(key)) {
    m.memory_hits.fetch_add(1, std::memory_order_relaxed);
    return hit;
  }
  if (!is_key(key))
    throw InternalError(fmt::format("kernel cache: '{}' is not a key made by CacheKeyMaterial::key()",
                                    key.substr(0, 200)));
  if (m.config.disk) {
    if (auto entry = m.read(key)) {
      ++m.disk_hits;
      return &m.insert(key, std::move(*entry));
    }
  }
  return nullptr;
}

const CompiledEntry& KernelCache::store(std::string_view key, CompiledEntry entry) {
  Impl& m = *impl_;
  if (!is_key(key))
    throw InternalError(fmt::format("kernel cache: '{}' is not a key made by CacheKeyMaterial::key()",
                                    key.substr(0, 200)));
  if (m.config.disk) m.write(key, entry);
  return m.insert(key, std::move(entry));
}

const CompiledEntry* KernelCache::find_in_memory(std::string_view key) const {
  return impl_->find(key);
}

CacheStats KernelCache::stats() const {
  const Impl& m = *impl_;
  return {m.memory_hits.load(), m.disk_hits.load(), m.misses.load(), m.disk_writes.load(),
          m.corrupt.load()};
}

bool KernelCache::disk_writable() const { return impl_->writable; }
bool KernelCache::disk_enabled() const { return impl_->config.disk; }
const fs::path& KernelCache::dir() const { return impl_->config.dir; }
fs::path KernelCache::entry_path(std::string_view key) const { return impl_->path_of(key); }

KernelCache& kernel_cache() {
  static KernelCache* cache = new KernelCache();  // never destroyed: used until exit
  return *cache;
}

}  // namespace tilejit
