// Shared helpers for the examples: device choice, random data, result checks.
#pragma once
#include <cmath>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "backend/emulator/emulator.h"
#include "backend/launch/kernel.h"
#include "backend/runtime/select.h"

namespace example {

/// Fresh random floats in [lo, hi) from a seed printed for reproduction.
inline std::vector<float> random_floats(size_t n, float lo, float hi, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(n);
  for (float& x : v) x = d(rng);
  return v;
}

inline unsigned fresh_seed() {
  unsigned s = std::random_device{}();
  std::printf("seed %u\n", s);
  return s;
}

/// Prints PASS/FAIL and returns the process exit code.
inline int report(const char* name, size_t bad, size_t total, double max_err) {
  if (bad == 0) {
    std::printf("%s: PASS (%zu elements, max error %.3g)\n", name, total, max_err);
    return 0;
  }
  std::printf("%s: FAIL (%zu of %zu elements wrong, max error %.3g)\n", name, bad, total, max_err);
  return 1;
}

/// A second device for cross-checks: the emulator with the GPU's target, or null when
/// `primary` already is the emulator.
inline std::unique_ptr<tilejit::Device> emulator_twin(const tilejit::Device& primary) {
  if (primary.kind() == tilejit::DeviceKind::Emulator) return nullptr;
  return tilejit::emulator::make_emulator_device({.target = primary.target()});
}

}  // namespace example
