// The kernel cache: compiled code in memory and on disk, keyed by everything that determines it.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "backend/runtime/device.h"

namespace tilejit {

/// Bumped whenever the disk format or the meaning of an entry changes.
inline constexpr uint32_t kCacheFormatVersion = 2;

/// Everything a compiled kernel depends on; the cache key hashes all of it.
struct CacheKeyMaterial {
  std::string ir_text;          ///< canonical IR text of the kernel
  std::string target;           ///< full target, e.g. "sm_90a" or "gfx950"
  std::string options;          ///< compile options and invalidating switches, as one string
  std::string tilejit_version;  ///< defaults to tilejit::version()
  std::string llvm_version;     ///< e.g. backend::llvm_version()
  uint32_t format_version = kCacheFormatVersion;

  CacheKeyMaterial();
  /// XXH3-128 of every field (each length-prefixed), as 32 lowercase hex digits.
  std::string key() const;
};

/// One compiled kernel with the texts kept for dumps.
struct CompiledEntry {
  CompiledCode code;
  std::string metadata_json;  ///< resources, stage timings
  std::string llvm_ir;
  std::string assembly;
  /// For an entry stored under a kernel's trace key (compile() with KernelOptions::trace_key):
  /// the printed ir::launch_stub() of the kernel and the stable hash of its whole IR, which is
  /// all compile() needs to load the code without tracing the body. Empty otherwise.
  std::string launch_ir;
  std::string ir_hash;
};

/// Counters since the cache was made.
struct CacheStats {
  uint64_t memory_hits = 0;
  uint64_t disk_hits = 0;
  uint64_t misses = 0;           ///< compiles
  uint64_t disk_writes = 0;
  uint64_t corrupt_entries = 0;  ///< unreadable disk entries found (and rewritten)
};

/// Where (and whether) the disk cache lives.
struct CacheConfig {
  bool disk = true;
  std::filesystem::path dir;
  /// TILEJIT_CACHE=0 disables the disk; the dir is TILEJIT_CACHE_DIR, else
  /// $XDG_CACHE_HOME/tilejit, else $HOME/.cache/tilejit (no HOME: no disk).
  static CacheConfig from_env();
};

/// Compiled kernels by key. Entries are never evicted, so references stay
/// valid for the cache's lifetime. Thread-safe; several processes may share
/// the disk directory (entries are written to a temporary file and renamed).
class KernelCache {
 public:
  explicit KernelCache(CacheConfig config = CacheConfig::from_env());
  ~KernelCache();
  KernelCache(const KernelCache&) = delete;
  KernelCache& operator=(const KernelCache&) = delete;

  /// The entry for `material`: from memory, else from disk, else `compile()`
  /// (then stored in memory and on disk). Exceptions of `compile` propagate
  /// and store nothing.
  const CompiledEntry& get_or_compile(const CacheKeyMaterial& material,
                                      const std::function<CompiledEntry()>& compile);
  /// The same with a key precomputed by CacheKeyMaterial::key() (the cheap
  /// path: a memory hit is one hash-map lookup).
  const CompiledEntry& get_or_compile(std::string_view key,
                                      const std::function<CompiledEntry()>& compile);
  /// The entry for `key` from memory, else from disk (then kept in memory), else null; never
  /// compiles. Counts a memory or disk hit when found.
  const CompiledEntry* find(std::string_view key);
  /// Keeps `entry` under `key` in memory and writes it to disk; an entry already in memory
  /// under `key` stays (and is returned).
  const CompiledEntry& store(std::string_view key, CompiledEntry entry);
  /// The entry in memory, or null (never reads the disk, never counts).
  const CompiledEntry* find_in_memory(std::string_view key) const;

  CacheStats stats() const;
  /// True while entries are read from and written to disk (false when
  /// disabled, or after the directory turned out unwritable).
  bool disk_writable() const;
  bool disk_enabled() const;
  const std::filesystem::path& dir() const;
  /// The file that holds `key`'s entry.
  std::filesystem::path entry_path(std::string_view key) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// The process-wide cache, configured from the environment on first use.
KernelCache& kernel_cache();

}  // namespace tilejit
