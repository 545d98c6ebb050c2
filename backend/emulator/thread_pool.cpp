// The emulator's worker threads.
#include "backend/emulator/thread_pool.h"

#include <algorithm>

namespace tilejit::emulator::detail {

ThreadPool::ThreadPool(unsigned workers) {
  for (unsigned i = 1; i < workers; ++i) threads_.emplace_back([this, i] { loop(i); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  start_.notify_all();
  for (auto& t : threads_) t.join();
}

void ThreadPool::run(unsigned n, const std::function<void(unsigned)>& fn) {
  std::lock_guard job_lock(run_mu_);
  n = std::min(n, size());
  if (n > 1) {
    std::lock_guard lock(mu_);
    job_ = &fn;
    job_workers_ = n;
    pending_ = n - 1;
    ++generation_;
  }
  if (n > 1) start_.notify_all();
  fn(0);  // must not throw: callers catch inside fn
  if (n > 1) {
    std::unique_lock lock(mu_);
    done_.wait(lock, [&] { return pending_ == 0; });
    job_ = nullptr;
  }
}

void ThreadPool::loop(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    const std::function<void(unsigned)>* job;
    {
      std::unique_lock lock(mu_);
      start_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      if (index >= job_workers_) continue;
      job = job_;
    }
    (*job)(index);
    {
      std::lock_guard lock(mu_);
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

}  // namespace tilejit::emulator::detail
