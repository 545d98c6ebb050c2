// Helpers for the runtime tests: temporary dirs, scoped env vars, seeded RNGs, fresh processes.
#pragma once
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <random>
#include <string>

namespace tilejit::test {

/// A fresh directory under the system temp dir, removed (recursively) at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "tilejit-rt-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::add, ec);
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Sets (or unsets, with nullopt) an environment variable; restores it at scope exit.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value) : name_(name) {
    if (const char* old = getenv(name)) old_ = old;
    if (value)
      setenv(name, value->c_str(), 1);
    else
      unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_)
      setenv(name_.c_str(), old_->c_str(), 1);
    else
      unsetenv(name_.c_str());
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};

/// Occurrences of `needle` in `hay`.
inline int count_of(const std::string& hay, const std::string& needle) {
  int n = 0;
  for (size_t p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
  return n;
}

}  // namespace tilejit::test

/// Declares `std::mt19937 name` seeded from std::random_device; the seed is printed on failure.
#define TJ_SEEDED_RNG(name)                                                        \
  const uint32_t name##_seed = std::random_device{}();                             \
  SCOPED_TRACE(::testing::Message() << "random seed " << name##_seed);             \
  std::mt19937 name(name##_seed)

/// Runs `body` in a freshly started copy of the test binary (no driver library
/// loaded, no process-wide state set), which must exit 0 with no failed
/// assertion; `regex` must match its stderr.
#define TJ_IN_FRESH_PROCESS(body, regex)                                           \
  do {                                                                             \
    GTEST_FLAG_SET(death_test_style, "threadsafe");                                \
    EXPECT_EXIT(                                                                   \
        {                                                                          \
          body;                                                                    \
          std::fflush(nullptr);                                                    \
          std::_Exit(::testing::Test::HasFailure() ? 1 : 0);                       \
        },                                                                         \
        ::testing::ExitedWithCode(0), regex);                                      \
  } while (0)
