// An early-started kernel (LaunchOptions::early_start) against the kernel before it: shared by the
// emulator test and the GPU test.
#pragma once
#include <cstdint>

#include "backend/runtime/device.h"

namespace tilejit::testing_support {

/// What check_early_start saw.
struct EarlyStartResult {
  int64_t threads = 0;          ///< consumer threads (one value each)
  int64_t wrong = 0;            ///< values after the wait that differ from the producer's
  int64_t overlapped = 0;       ///< threads whose read before the wait did not find the producer's
                                ///  value yet: the consumer ran while the producer did
};

/// A producer kernel (launch_dependents first, then `spin` dependent multiply-adds per thread,
/// then buf[i] = 2 src[i]) and a consumer launched early after it (reads buf[i], waits for the
/// producer, reads it again and writes out[i] = buf[i] + 1), `rounds` times with fresh inputs,
/// each round both directly on a stream and as a captured graph. Fails the current test (gtest)
/// on any wrong value; returns the counts so that the caller can check the overlap.
EarlyStartResult check_early_start(Device& dev, uint32_t seed, int spin, int rounds);

}  // namespace tilejit::testing_support
