// A small fixed thread pool: runs one job on several workers at a time, the caller included.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace tilejit::emulator::detail {

/// Workers wait for a job; run() hands the same function to `n` workers and waits for all.
class ThreadPool {
 public:
  /// A pool of `workers` (>= 1) workers: the calling thread plus workers - 1 background threads.
  explicit ThreadPool(unsigned workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  unsigned size() const { return unsigned(threads_.size()) + 1; }
  /// Calls fn(i) for i in [0, n) on distinct workers (i = 0 on the caller) and waits. One job at a time.
  void run(unsigned n, const std::function<void(unsigned)>& fn);

 private:
  void loop(unsigned index);

  std::mutex run_mu_;  // one job at a time
  std::mutex mu_;
  std::condition_variable start_, done_;
  const std::function<void(unsigned)>* job_ = nullptr;
  unsigned job_workers_ = 0;
  unsigned pending_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace tilejit::emulator::detail
