// State an emulator device shares with the kernels it loaded: options, memory, worker pool.
#pragma once
#include <memory>
#include <mutex>

#include "backend/emulator/emulator.h"
#include "backend/emulator/memory.h"
#include "backend/emulator/thread_pool.h"

namespace tilejit::emulator::detail {

struct DeviceState {
  Options opts;
  Registry mem;

  /// The worker pool (created on first use with Options::threads workers, 0 = hardware concurrency).
  ThreadPool& pool();

 private:
  std::mutex pool_mu_;
  std::unique_ptr<ThreadPool> pool_;
};

/// A LoadedKernel that runs `fn` on the emulator.
std::unique_ptr<LoadedKernel> make_kernel(std::shared_ptr<DeviceState> dev, const ir::Function& fn);

}  // namespace tilejit::emulator::detail
