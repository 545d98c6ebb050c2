// Tests of the kernel cache: keys, memory and disk hits, corrupt entries, concurrency, bad dirs.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include "backend/runtime/cache.h"
#include "backend/runtime/cache_file.h"
#include "dsl/error.h"
#include "test_support.h"

namespace tilejit {
namespace {

namespace fs = std::filesystem;
using test::count_of;
using test::ScopedEnv;
using test::TempDir;

std::string random_text(std::mt19937& rng, size_t min_len, size_t max_len) {
  std::uniform_int_distribution<size_t> len(min_len, max_len);
  std::uniform_int_distribution<int> ch(32, 126);
  std::string s(len(rng), ' ');
  for (char& c : s) c = char(ch(rng));
  return s;
}

CacheKeyMaterial random_material(std::mt19937& rng) {
  CacheKeyMaterial m;
  m.ir_text = random_text(rng, 50, 400);
  m.target = rng() % 2 ? "sm_90a" : "gfx950";
  m.options = random_text(rng, 1, 40);
  m.llvm_version = "22." + std::to_string(rng() % 10) + "." + std::to_string(rng() % 10);
  return m;
}

CompiledEntry random_entry(std::mt19937& rng) {
  CompiledEntry e;
  e.code.target = rng() % 2 ? Target::Sm90a : Target::Gfx950;
  e.code.symbol = "k_" + std::to_string(rng());
  e.code.binary.resize(1000 + rng() % 5000);
  for (auto& b : e.code.binary) b = uint8_t(rng());  // arbitrary bytes, NULs included
  e.code.metadata_json = R"({"vgpr":)" + std::to_string(rng() % 512) + "}";
  e.metadata_json = R"({"lower_ms":)" + std::to_string(rng() % 1000) + "}";
  e.llvm_ir = random_text(rng, 100, 3000);
  e.assembly = random_text(rng, 100, 3000);
  if (rng() % 2) {
    e.launch_ir = random_text(rng, 20, 500);
    e.ir_hash = random_text(rng, 32, 32);
  }
  return e;
}

void expect_same(const CompiledEntry& a, const CompiledEntry& b) {
  EXPECT_EQ(a.code.target, b.code.target);
  EXPECT_EQ(a.code.symbol, b.code.symbol);
  EXPECT_EQ(a.code.binary, b.code.binary);
  EXPECT_EQ(a.code.metadata_json, b.code.metadata_json);
  EXPECT_EQ(a.metadata_json, b.metadata_json);
  EXPECT_EQ(a.llvm_ir, b.llvm_ir);
  EXPECT_EQ(a.assembly, b.assembly);
  EXPECT_EQ(a.launch_ir, b.launch_ir);
  EXPECT_EQ(a.ir_hash, b.ir_hash);
}

CacheConfig disk_at(const fs::path& dir) { return CacheConfig{true, dir}; }

// A compile function that must not run.
std::function<CompiledEntry()> no_compile() {
  return [] {
    ADD_FAILURE() << "compile() ran although the entry should have been cached";
    return CompiledEntry{};
  };
}

// ---- keys ------------------------------------------------------------------------------

TEST(CacheKey, IsXxh3_128OfTheLengthPrefixedFields) {
  TJ_SEEDED_RNG(rng);
  CacheKeyMaterial m = random_material(rng);
  EXPECT_EQ(m.tilejit_version, TILEJIT_VERSION_FOR_TESTS);
  EXPECT_EQ(m.format_version, kCacheFormatVersion);
  // Independent reference: one-shot XXH3-128 over the same serialization.
  std::string buf;
  auto field = [&](const std::string& s) {
    uint64_t n = s.size();
    buf.append(reinterpret_cast<const char*>(&n), 8);
    buf += s;
  };
  field("tilejit kernel cache key");
  field(m.ir_text);
  field(m.target);
  field(m.options);
  field(m.tilejit_version);
  field(m.llvm_version);
  uint32_t fv = m.format_version;
  buf.append(reinterpret_cast<const char*>(&fv), 4);
  XXH128_hash_t h = XXH3_128bits(buf.data(), buf.size());
  char hex[33];
  std::snprintf(hex, sizeof hex, "%016llx%016llx", (unsigned long long)h.high64,
                (unsigned long long)h.low64);
  EXPECT_EQ(m.key(), std::string(hex));
  EXPECT_EQ(m.key().size(), 32u);
  CacheKeyMaterial copy = m;
  EXPECT_EQ(copy.key(), m.key());
}

TEST(CacheKey, EveryFieldChangesTheKey) {
  TJ_SEEDED_RNG(rng);
  CacheKeyMaterial base = random_material(rng);
  std::vector<std::pair<const char*, CacheKeyMaterial>> variants;
  auto vary = [&](const char* what, auto&& change) {
    CacheKeyMaterial m = base;
    change(m);
    variants.emplace_back(what, m);
  };
  vary("ir_text", [](CacheKeyMaterial& m) { m.ir_text += " "; });
  vary("ir_text one char", [&](CacheKeyMaterial& m) { m.ir_text[rng() % m.ir_text.size()] ^= 1; });
  vary("target", [](CacheKeyMaterial& m) { m.target = m.target == "sm_90a" ? "gfx950" : "sm_90a"; });
  vary("options", [](CacheKeyMaterial& m) { m.options += "x"; });
  vary("tilejit_version", [](CacheKeyMaterial& m) { m.tilejit_version += ".1"; });
  vary("llvm_version", [](CacheKeyMaterial& m) { m.llvm_version += "git"; });
  vary("format_version", [](CacheKeyMaterial& m) { m.format_version += 1; });
  // Moving text from one field to the next must change the key too.
  vary("field boundary", [](CacheKeyMaterial& m) {
    m.target = m.ir_text.back() + m.target;
    m.ir_text.pop_back();
  });
  std::set<std::string> keys{base.key()};
  for (auto& [what, m] : variants) {
    SCOPED_TRACE(what);
    EXPECT_NE(m.key(), base.key());
    keys.insert(m.key());
  }
  EXPECT_EQ(keys.size(), variants.size() + 1) << "two variants collided";
}

// ---- memory ----------------------------------------------------------------------------

TEST(KernelCache, MissCompilesOnceThenHitsMemory) {
  TJ_SEEDED_RNG(rng);
  KernelCache cache(CacheConfig{false, {}});
  CacheKeyMaterial m = random_material(rng);
  CompiledEntry want = random_entry(rng);
  int compiles = 0;
  auto compile = [&] {
    ++compiles;
    return want;
  };
  const CompiledEntry& first = cache.get_or_compile(m, compile);
  const CompiledEntry& second = cache.get_or_compile(m, compile);
  const CompiledEntry& third = cache.get_or_compile(m.key(), compile);
  EXPECT_EQ(compiles, 1);
  EXPECT_EQ(&first, &second);
  EXPECT_EQ(&first, &third);
  expect_same(first, want);
  CacheStats s = cache.stats();
  EXPECT_EQ(s.misses, 1u);
  EXPECT_EQ(s.memory_hits, 2u);
  EXPECT_EQ(s.disk_hits, 0u);
  EXPECT_EQ(s.disk_writes, 0u);
  EXPECT_EQ(cache.find_in_memory(m.key()), &first);

  // A different key is a different entry.
  CacheKeyMaterial other = m;
  other.options += "-fast";
  CompiledEntry want2 = random_entry(rng);
  const CompiledEntry& e2 = cache.get_or_compile(other, [&] { return want2; });
  EXPECT_NE(&e2, &first);
  expect_same(e2, want2);
  EXPECT_EQ(cache.stats().misses, 2u);
}

TEST(KernelCache, CompileFailureStoresNothing) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  KernelCache cache(disk_at(dir.path()));
  CacheKeyMaterial m = random_material(rng);
  EXPECT_THROW(cache.get_or_compile(m, []() -> CompiledEntry { throw InternalError("llvm said no"); }),
               InternalError);
  EXPECT_EQ(cache.find_in_memory(m.key()), nullptr);
  EXPECT_FALSE(fs::exists(cache.entry_path(m.key())));
  CompiledEntry want = random_entry(rng);
  expect_same(cache.get_or_compile(m, [&] { return want; }), want);
  EXPECT_EQ(cache.stats().misses, 1u);
}

TEST(KernelCache, RejectsKeysThatAreNotKeys) {
  KernelCache cache(CacheConfig{false, {}});
  for (const char* bad : {"", "../../etc/passwd", "ABCDEF", "12 34"})
    EXPECT_THROW(cache.get_or_compile(std::string_view(bad), no_compile()), InternalError) << bad;
}

TEST(KernelCache, MemoryHitIsCheap) {
  TJ_SEEDED_RNG(rng);
  KernelCache cache(CacheConfig{false, {}});
  std::vector<std::string> keys;
  for (int i = 0; i < 64; ++i) {
    CacheKeyMaterial m = random_material(rng);
    cache.get_or_compile(m, [&] { return random_entry(rng); });
    keys.push_back(m.key());
  }
  const std::function<CompiledEntry()> compile = no_compile();
  constexpr int kLookups = 200000;
  auto t0 = std::chrono::steady_clock::now();
  size_t sum = 0;
  for (int i = 0; i < kLookups; ++i) sum += cache.get_or_compile(keys[i % keys.size()], compile).code.binary.size();
  double ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count() / kLookups;
  EXPECT_GT(sum, 0u);
  EXPECT_LE(ns, 5000.0) << "a memory hit took " << ns << " ns on average";
  EXPECT_EQ(cache.stats().memory_hits, uint64_t(kLookups));
  RecordProperty("memory_hit_ns", std::to_string(ns));
}

// ---- disk ------------------------------------------------------------------------------

TEST(KernelCache, SecondCacheHitsDisk) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  CacheKeyMaterial m = random_material(rng);
  CompiledEntry want = random_entry(rng);
  {
    KernelCache writer(disk_at(dir.path() / "sub" / "dir"));
    writer.get_or_compile(m, [&] { return want; });
    EXPECT_EQ(writer.stats().disk_writes, 1u);
    EXPECT_TRUE(fs::exists(writer.entry_path(m.key())));
  }
  KernelCache reader(disk_at(dir.path() / "sub" / "dir"));
  const CompiledEntry& got = reader.get_or_compile(m, no_compile());
  expect_same(got, want);
  CacheStats s = reader.stats();
  EXPECT_EQ(s.disk_hits, 1u);
  EXPECT_EQ(s.misses, 0u);
  EXPECT_EQ(&reader.get_or_compile(m, no_compile()), &got);
  EXPECT_EQ(reader.stats().memory_hits, 1u);
  // Only the entry is left in the directory: no temporary files.
  int files = 0;
  for (auto& f : fs::directory_iterator(dir.path() / "sub" / "dir")) {
    ++files;
    EXPECT_EQ(f.path().filename().string(), m.key() + ".tjk");
  }
  EXPECT_EQ(files, 1);
}

TEST(KernelCache, FindNeverCompilesAndStoreReachesTheDisk) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  CacheKeyMaterial m = random_material(rng);
  CompiledEntry want = random_entry(rng);
  want.launch_ir = random_text(rng, 20, 500);
  want.ir_hash = random_text(rng, 32, 32);
  {
    KernelCache writer(disk_at(dir.path()));
    EXPECT_EQ(writer.find(m.key()), nullptr);
    const CompiledEntry& stored = writer.store(m.key(), want);
    expect_same(stored, want);
    EXPECT_EQ(writer.find(m.key()), &stored);
    CacheStats s = writer.stats();
    EXPECT_EQ(s.misses, 0u);
    EXPECT_EQ(s.memory_hits, 1u);
    EXPECT_EQ(s.disk_writes, 1u);
  }
  KernelCache reader(disk_at(dir.path()));
  const CompiledEntry* got = reader.find(m.key());
  ASSERT_NE(got, nullptr);
  expect_same(*got, want);
  EXPECT_EQ(reader.stats().disk_hits, 1u);
  EXPECT_EQ(&reader.get_or_compile(m, no_compile()), got);
  EXPECT_THROW(reader.find("not a key"), InternalError);
  EXPECT_THROW(reader.store("not a key", want), InternalError);
}

// Damages the entry file of `key` with `damage`, then checks a fresh cache
// reports it once, recompiles, and rewrites an intact entry.
void check_recovers(const std::function<void(const fs::path&)>& damage, const char* why) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  CacheKeyMaterial m = random_material(rng);
  CompiledEntry want = random_entry(rng);
  fs::path path;
  {
    KernelCache writer(disk_at(dir.path()));
    writer.get_or_compile(m, [&] { return want; });
    path = writer.entry_path(m.key());
  }
  damage(path);
  KernelCache cache(disk_at(dir.path()));
  int compiles = 0;
  testing::internal::CaptureStderr();
  const CompiledEntry& got = cache.get_or_compile(m, [&] {
    ++compiles;
    return want;
  });
  cache.get_or_compile(m, [&] {
    ++compiles;
    return want;
  });
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(compiles, 1);
  expect_same(got, want);
  EXPECT_EQ(count_of(err, "tilejit: cache entry " + path.string() + " is corrupt ("), 1) << err;
  EXPECT_NE(err.find(why), std::string::npos) << err;
  EXPECT_NE(err.find("); recompiling"), std::string::npos) << err;
  EXPECT_EQ(cache.stats().corrupt_entries, 1u);
  // Rewritten: a third cache reads it from disk.
  KernelCache third(disk_at(dir.path()));
  expect_same(third.get_or_compile(m, no_compile()), want);
  EXPECT_EQ(third.stats().disk_hits, 1u);
}

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void spit(const fs::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << bytes;
}

TEST(KernelCache, CorruptEntryIsReportedAndRewritten) {
  check_recovers(
      [](const fs::path& p) {
        std::string b = slurp(p);
        b[b.size() - 100] ^= 0x40;  // inside the payload
        spit(p, b);
      },
      "checksum mismatch");
}

TEST(KernelCache, TruncatedEntryIsReportedAndRewritten) {
  check_recovers(
      [](const fs::path& p) {
        std::string b = slurp(p);
        spit(p, b.substr(0, b.size() / 2));
      },
      "truncated");
}

TEST(KernelCache, EntryCutInsideTheHeaderIsReportedAndRewritten) {
  check_recovers([](const fs::path& p) { spit(p, slurp(p).substr(0, 11)); }, "truncated");
}

TEST(KernelCache, EntryOfAnotherKeyIsRejected) {
  // An entry file renamed to another key's name must not be served.
  TJ_SEEDED_RNG(rng);
  CacheKeyMaterial a = random_material(rng), b = random_material(rng);
  CompiledEntry ea = random_entry(rng);
  std::string why;
  std::string bytes = encode_cache_entry(a.key(), ea);
  EXPECT_FALSE(decode_cache_entry(b.key(), bytes, why).has_value());
  EXPECT_NE(why.find("holds key " + a.key()), std::string::npos) << why;
  auto back = decode_cache_entry(a.key(), bytes, why);
  ASSERT_TRUE(back.has_value()) << why;
  expect_same(*back, ea);
  // Truncations at many lengths are all detected.
  for (size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 300)
    EXPECT_FALSE(decode_cache_entry(a.key(), std::string_view(bytes).substr(0, n), why)) << n;
}

TEST(KernelCache, TwoProcessesCompilingTheSameKeyBothGetAValidEntry) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  CacheKeyMaterial m = random_material(rng);
  CompiledEntry want = random_entry(rng);
  int start[2];
  ASSERT_EQ(pipe(start), 0);
  pid_t kids[2];
  for (pid_t& kid : kids) {
    kid = fork();
    ASSERT_GE(kid, 0);
    if (kid == 0) {
      close(start[1]);
      char c;
      while (read(start[0], &c, 1) < 0) {
      }  // wait for the parent to release both at once
      KernelCache cache(disk_at(dir.path()));
      const CompiledEntry& got = cache.get_or_compile(m, [&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));  // overlap the compiles
        return want;
      });
      bool ok = got.code.binary == want.code.binary && got.assembly == want.assembly &&
                got.llvm_ir == want.llvm_ir && got.code.symbol == want.code.symbol &&
                cache.stats().misses == 1 && cache.stats().disk_writes == 1;
      std::_Exit(ok ? 0 : 3);
    }
  }
  close(start[0]);
  close(start[1]);  // both children start now
  for (pid_t kid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(kid, &status, 0), kid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  KernelCache reader(disk_at(dir.path()));
  expect_same(reader.get_or_compile(m, no_compile()), want);
  EXPECT_EQ(reader.stats().corrupt_entries, 0u);
  std::vector<std::string> names;
  for (auto& f : fs::directory_iterator(dir.path())) names.push_back(f.path().filename().string());
  EXPECT_EQ(names, std::vector<std::string>{m.key() + ".tjk"});
}

TEST(KernelCache, UnwritableDirDegradesToMemoryOnlyWithOneWarning) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  spit(dir.path() / "a-file", "not a directory");
  fs::path bad = dir.path() / "a-file" / "cache";  // cannot be created, even by root
  KernelCache cache(disk_at(bad));
  testing::internal::CaptureStderr();
  std::vector<std::pair<CacheKeyMaterial, CompiledEntry>> kernels;
  for (int i = 0; i < 3; ++i) {
    kernels.emplace_back(random_material(rng), random_entry(rng));
    expect_same(cache.get_or_compile(kernels.back().first, [&] { return kernels.back().second; }),
                kernels.back().second);
  }
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count_of(err, "tilejit: kernel cache dir " + bad.string() + " is not writable"), 1) << err;
  EXPECT_EQ(count_of(err, "tilejit:"), 1) << err;
  EXPECT_FALSE(cache.disk_writable());
  EXPECT_EQ(cache.stats().misses, 3u);
  EXPECT_EQ(cache.stats().disk_writes, 0u);
  for (auto& [m, e] : kernels) expect_same(cache.get_or_compile(m, no_compile()), e);
  EXPECT_EQ(cache.stats().memory_hits, 3u);
}

TEST(KernelCache, ReadOnlyDirStillServesItsEntries) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  CacheKeyMaterial old_m = random_material(rng);
  CompiledEntry old_e = random_entry(rng);
  KernelCache(disk_at(dir.path())).get_or_compile(old_m, [&] { return old_e; });
  fs::permissions(dir.path(), fs::perms::owner_read | fs::perms::owner_exec);
  bool can_write = access(dir.path().c_str(), W_OK) == 0;  // root ignores the mode

  KernelCache cache(disk_at(dir.path()));
  testing::internal::CaptureStderr();
  expect_same(cache.get_or_compile(old_m, no_compile()), old_e);
  CacheKeyMaterial m1 = random_material(rng), m2 = random_material(rng);
  CompiledEntry e1 = random_entry(rng), e2 = random_entry(rng);
  expect_same(cache.get_or_compile(m1, [&] { return e1; }), e1);
  expect_same(cache.get_or_compile(m2, [&] { return e2; }), e2);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(cache.stats().disk_hits, 1u);
  EXPECT_EQ(cache.stats().misses, 2u);
  EXPECT_EQ(cache.disk_writable(), can_write);
  EXPECT_EQ(count_of(err, "is not writable"), can_write ? 0 : 1) << err;
  EXPECT_EQ(cache.stats().disk_writes, can_write ? 2u : 0u);
  EXPECT_TRUE(fs::exists(cache.entry_path(old_m.key()))) << "never delete an entry";
}

TEST(KernelCache, DisabledDiskNeverTouchesTheDir) {
  TJ_SEEDED_RNG(rng);
  TempDir dir;
  ScopedEnv off("TILEJIT_CACHE", "0");
  ScopedEnv at("TILEJIT_CACHE_DIR", dir.path().string());
  CacheConfig config = CacheConfig::from_env();
  EXPECT_FALSE(config.disk);
  CacheKeyMaterial m = random_material(rng);
  CompiledEntry e = random_entry(rng);
  KernelCache(config).get_or_compile(m, [&] { return e; });
  KernelCache again(config);
  int compiles = 0;
  again.get_or_compile(m, [&] {
    ++compiles;
    return e;
  });
  EXPECT_EQ(compiles, 1);
  EXPECT_TRUE(fs::is_empty(dir.path()));
}

TEST(CacheConfig, DirectoryComesFromTheEnvironment) {
  TempDir dir;
  {
    ScopedEnv a("TILEJIT_CACHE", std::nullopt);
    ScopedEnv b("TILEJIT_CACHE_DIR", (dir.path() / "explicit").string());
    ScopedEnv c("XDG_CACHE_HOME", (dir.path() / "xdg").string());
    CacheConfig cfg = CacheConfig::from_env();
    EXPECT_TRUE(cfg.disk);
    EXPECT_EQ(cfg.dir, dir.path() / "explicit");
  }
  {
    ScopedEnv b("TILEJIT_CACHE_DIR", std::nullopt);
    ScopedEnv c("XDG_CACHE_HOME", (dir.path() / "xdg").string());
    EXPECT_EQ(CacheConfig::from_env().dir, dir.path() / "xdg" / "tilejit");
  }
  {
    ScopedEnv b("TILEJIT_CACHE_DIR", std::nullopt);
    ScopedEnv c("XDG_CACHE_HOME", std::nullopt);
    ScopedEnv h("HOME", (dir.path() / "home").string());
    EXPECT_EQ(CacheConfig::from_env().dir, dir.path() / "home" / ".cache" / "tilejit");
  }
  {
    ScopedEnv b("TILEJIT_CACHE_DIR", std::nullopt);
    ScopedEnv c("XDG_CACHE_HOME", std::nullopt);
    ScopedEnv h("HOME", std::nullopt);
    EXPECT_FALSE(CacheConfig::from_env().disk);
  }
}

}  // namespace
}  // namespace tilejit
