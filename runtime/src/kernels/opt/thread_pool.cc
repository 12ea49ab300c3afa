#include "thread_pool.h"

#include <algorithm>

namespace linger {
namespace runtime {
namespace opt {

ThreadPool::ThreadPool(int threads) : threads_(std::max(1, threads)) {
  for (int w = 1; w < threads_; ++w) pool_.emplace_back([this, w] { worker_loop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : pool_) t.join();
}

void ThreadPool::split(int64_t n, int parts, int r, int64_t* begin, int64_t* end) {
  const int64_t base = n / parts, extra = n % parts;
  *begin = r * base + std::min<int64_t>(r, extra);
  *end = *begin + base + (r < extra ? 1 : 0);
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    const Fn* fn = nullptr;
    int64_t n = 0;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
      if (stop_) return;
      seen = generation_;
      fn = fn_;
      n = n_;
    }
    int64_t b = 0, e = 0;
    split(n, threads_, worker, &b, &e);
    std::exception_ptr err;
    if (b < e) {
      try {
        (*fn)(b, e, worker);
      } catch (...) {
        err = std::current_exception();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (err && !error_) error_ = err;
      if (--pending_ == 0) done_.notify_one();
    }
  }
}

void ThreadPool::parallel_for(int64_t n, const Fn& fn) {
  if (n <= 0) return;
  std::unique_lock<std::mutex> run(run_mutex_, std::try_to_lock);
  if (threads_ == 1 || n == 1 || !run.owns_lock()) {
    // Busy (another run's parallel_for) or nothing to share: the same ranges, here, as worker 0.
    for (int r = 0; r < threads_; ++r) {
      int64_t b = 0, e = 0;
      split(n, threads_, r, &b, &e);
      if (b < e) fn(b, e, 0);
    }
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    n_ = n;
    pending_ = threads_ - 1;
    error_ = nullptr;
    ++generation_;
  }
  wake_.notify_all();
  std::exception_ptr err;
  int64_t b = 0, e = 0;
  split(n, threads_, 0, &b, &e);
  if (b < e) {
    try {
      fn(b, e, 0);
    } catch (...) {
      err = std::current_exception();
    }
  }
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_ == 0; });
  if (!err) err = error_;
  fn_ = nullptr;
  if (err) std::rethrow_exception(err);
}

void parallel_for(ThreadPool* pool, int64_t n, const ThreadPool::Fn& fn) {
  if (n <= 0) return;
  if (pool && pool->size() > 1) {
    pool->parallel_for(n, fn);
    return;
  }
  fn(0, n, 0);
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
