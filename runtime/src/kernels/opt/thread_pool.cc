#include "thread_pool.h"

#include <algorithm>

#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#define LINGER_CPU_PAUSE() _mm_pause()
#else
#define LINGER_CPU_PAUSE() std::this_thread::yield()
#endif

namespace linger {
namespace runtime {
namespace opt {

namespace {
// Pause instructions a thread spins before it blocks (a pause is ~10-70 cycles
// depending on the CPU: tens of microseconds in all).
constexpr int kSpinRounds = 4000;
}  // namespace

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
    // Spin for the next call, then sleep.
    bool started = false;
    for (int k = 0; k < kSpinRounds; ++k) {
      if (generation_.load(std::memory_order_acquire) != seen) {
        started = true;
        break;
      }
      LINGER_CPU_PAUSE();
    }
    if (!started) {
      std::unique_lock<std::mutex> lock(mutex_);
      sleepers_.fetch_add(1, std::memory_order_seq_cst);
      wake_.wait(lock, [&] { return stop_ || generation_.load(std::memory_order_acquire) != seen; });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (stop_) return;
    }
    seen = generation_.load(std::memory_order_acquire);
    const Fn* fn = fn_;
    const int64_t n = n_;
    int64_t b = 0, e = 0;
    split(n, threads_, worker, &b, &e);
    if (b < e) {
      try {
        (*fn)(b, e, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller may be about to block on done_
      done_.notify_one();
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
    error_ = nullptr;
    pending_.store(threads_ - 1, std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_seq_cst);  // publishes fn_, n_, pending_
  }
  if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_.notify_all();
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
  for (int k = 0; k < kSpinRounds && pending_.load(std::memory_order_acquire) != 0; ++k) LINGER_CPU_PAUSE();
  std::unique_lock<std::mutex> lock(mutex_);
  done_.wait(lock, [&] { return pending_.load(std::memory_order_acquire) == 0; });
  if (!err) err = error_;
  fn_ = nullptr;
  if (err) std::rethrow_exception(err);
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
