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

ThreadPool::ThreadPool(int threads)
    : threads_(std::max(1, threads)),
      claim_(new std::atomic<uint64_t>[static_cast<size_t>(threads_)]),
      done_(new std::atomic<uint64_t>[static_cast<size_t>(threads_)]) {
  for (int r = 0; r < threads_; ++r) {
    claim_[r].store(0);
    done_[r].store(0);
  }
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

void ThreadPool::prewake() {
  if (sleepers_.load(std::memory_order_seq_cst) == 0) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++wake_epoch_;
  }
  wake_.notify_all();
}

void ThreadPool::worker_loop(int worker) {
  uint64_t seen = 0, woken = 0;
  for (;;) {
    // Spin for the next call, then sleep (until a call or a prewake()).
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
      wake_.wait(lock, [&] {
        return stop_ || generation_.load(std::memory_order_acquire) != seen || wake_epoch_ != woken;
      });
      sleepers_.fetch_sub(1, std::memory_order_relaxed);
      if (stop_) return;
      if (generation_.load(std::memory_order_acquire) == seen) {  // prewoken: spin for the call
        woken = wake_epoch_;
        continue;
      }
      woken = wake_epoch_;
    }
    const uint64_t g = generation_.load(std::memory_order_acquire);
    seen = g;
    uint64_t expected = g - 1;
    // Claimed by the caller already (it finished first), or a call that is over: nothing to do.
    if (!claim_[worker].compare_exchange_strong(expected, g, std::memory_order_acq_rel)) continue;
    int64_t b = 0, e = 0;
    split(n_, threads_, worker, &b, &e);
    if (b < e) {
      try {
        (*fn_)(b, e, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
      }
    }
    done_[worker].store(g, std::memory_order_seq_cst);
    if (caller_waiting_.load(std::memory_order_seq_cst)) {
      std::lock_guard<std::mutex> lock(mutex_);  // the caller checks done_ under the mutex before it blocks
      done_cv_.notify_all();
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
  const uint64_t g = generation_.load(std::memory_order_relaxed) + 1;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    fn_ = &fn;
    n_ = n;
    error_ = nullptr;
    generation_.store(g, std::memory_order_seq_cst);  // publishes fn_ and n_
  }
  if (sleepers_.load(std::memory_order_seq_cst) > 0) wake_.notify_all();
  std::exception_ptr err;
  auto run_range = [&](int r) {
    int64_t b = 0, e = 0;
    split(n, threads_, r, &b, &e);
    if (b < e && !err) {
      try {
        fn(b, e, r);
      } catch (...) {
        err = std::current_exception();
      }
    }
  };
  run_range(0);
  // The ranges no worker has claimed yet: here, each as its own worker index.
  std::vector<int> claimed;  // by workers: wait for them
  for (int r = 1; r < threads_; ++r) {
    uint64_t expected = g - 1;
    if (claim_[r].compare_exchange_strong(expected, g, std::memory_order_acq_rel))
      run_range(r);
    else
      claimed.push_back(r);
  }
  for (int r : claimed) {
    for (int k = 0; k < kSpinRounds && done_[r].load(std::memory_order_acquire) != g; ++k) LINGER_CPU_PAUSE();
    if (done_[r].load(std::memory_order_acquire) == g) continue;
    std::unique_lock<std::mutex> lock(mutex_);
    caller_waiting_.store(true, std::memory_order_seq_cst);
    done_cv_.wait(lock, [&] { return done_[r].load(std::memory_order_seq_cst) == g; });
    caller_waiting_.store(false, std::memory_order_relaxed);
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!err) err = error_;
    fn_ = nullptr;
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace opt
}  // namespace runtime
}  // namespace linger
