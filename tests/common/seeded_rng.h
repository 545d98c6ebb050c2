// A fresh random generator per test whose seed is printed on failure (TILEJIT_TEST_SEED=<n> replays it).
#pragma once
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>

namespace tilejit::testing_support {

/// Seed from TILEJIT_TEST_SEED when set, else from std::random_device.
inline uint32_t pick_test_seed() {
  if (const char* env = std::getenv("TILEJIT_TEST_SEED")) return uint32_t(std::strtoul(env, nullptr, 10));
  return std::random_device{}();
}

/// std::mt19937 with a fresh seed; while alive, gtest failures show the seed.
class SeededRng {
 public:
  explicit SeededRng(const char* file = __builtin_FILE(), int line = __builtin_LINE())
      : seed_(pick_test_seed()), rng_(seed_), trace_(file, line, fmt::format("seed {} (TILEJIT_TEST_SEED={})", seed_, seed_)) {}
  std::mt19937& operator*() { return rng_; }
  std::mt19937* operator->() { return &rng_; }
  std::mt19937& get() { return rng_; }
  uint32_t seed() const { return seed_; }

 private:
  uint32_t seed_;
  std::mt19937 rng_;
  ::testing::ScopedTrace trace_;
};

/// Uniform integer in [lo, hi].
inline int64_t uniform(std::mt19937& rng, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }

/// Runs `f` and checks it throws E whose message contains every one of `parts`.
template <class E, class F>
void expect_throw_with(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "no exception thrown";
  } catch (const E& e) {
    const std::string what = e.what();
    for (const auto& p : parts) EXPECT_NE(what.find(p), std::string::npos) << "message '" << what << "' lacks '" << p << "'";
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

}  // namespace tilejit::testing_support
