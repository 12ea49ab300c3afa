// A small deterministic thread pool for the intra-op parallelism of the
// optimised kernels (SessionOptions.intra_op_num_threads).
//
// parallel_for(n, fn) splits the task indices [0, n) into size() contiguous
// ranges, always the same ones for the same n and size(), and calls
// fn(begin, end, worker) once per non-empty range, worker in [0, size()). The
// kernels give every output element to exactly one task and compute it with
// the same integer operations whatever the split, so results do not depend on
// the number of threads. `worker` selects the caller's per-worker scratch
// memory: two ranges never run at once with the same worker index.
//
// One parallel_for runs at a time: a call made while another is in flight (a
// concurrent Session::run) runs all its ranges on the calling thread, one
// after the other, as worker 0 (same results, no waiting).
//
// Range r is run by pool thread r, or by the caller when that thread has not
// claimed it by the time the caller finished its own range (a compare-and-swap
// on the range's claim word decides): on cores busy with other processes a
// late worker costs nothing, and results do not change, since range r always
// runs as worker r. The caller waits only for ranges a worker claimed.
// Waking a sleeping thread costs tens of microseconds, and a model runs one
// parallel_for per layer (or more): so a worker that finished a range spins
// on the call counter for a short while (kSpinRounds pauses, about 50 us)
// before it sleeps, and the caller spins the same way on the claimed ranges.
// Between runs the workers sleep.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace linger {
namespace runtime {
namespace opt {

class ThreadPool {
 public:
  using Fn = std::function<void(int64_t begin, int64_t end, int worker)>;

  // threads >= 1: the calling thread plus threads - 1 pool threads.
  explicit ThreadPool(int threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return threads_; }
  // Wakes sleeping pool threads ahead of the next parallel_for (they spin for
  // it as after a task): a run calls this first, so that its first layers do
  // not wait for the scheduler. Cheap when none sleeps.
  void prewake();
  // Rethrows the first exception a range threw, after every range finished.
  void parallel_for(int64_t n, const Fn& fn);

  // Range r of [0, n) split in `parts`: [begin, end).
  static void split(int64_t n, int parts, int r, int64_t* begin, int64_t* end);

 private:
  void worker_loop(int worker);

  int threads_;
  std::vector<std::thread> pool_;
  std::mutex run_mutex_;  // one parallel_for at a time
  std::mutex mutex_;      // the sleeping / waking below, stop_, error_
  std::condition_variable wake_, done_cv_;
  // The current call: written by the caller before it publishes generation_
  // (release), read by a worker only after it claimed its range for that
  // generation (the caller then waits for the range, so they stay valid).
  const Fn* fn_ = nullptr;
  int64_t n_ = 0;
  std::atomic<uint64_t> generation_{0};  // the number of the current (or last) call
  // Per range r (1 .. threads-1): the call that claimed it (claim_) and the
  // call whose range the worker finished (done_). claim_[r] == g - 1 means
  // range r of call g is not claimed yet.
  std::unique_ptr<std::atomic<uint64_t>[]> claim_, done_;
  std::atomic<int> sleepers_{0};         // pool threads blocked on wake_ (a notify is needed)
  uint64_t wake_epoch_ = 0;              // prewake() calls (under mutex_)
  std::atomic<bool> caller_waiting_{false};  // the caller is blocked on done_cv_
  bool stop_ = false;
  std::exception_ptr error_;
};

// parallel_for on `pool`, or the whole range on the calling thread (worker 0)
// when pool is null or has one thread. A template, so that the one-thread call
// is direct (no std::function, whose capture may be heap-allocated per call);
// the pool gets a std::function holding a reference to fn (no allocation).
template <typename F>
void parallel_for(ThreadPool* pool, int64_t n, F&& fn) {
  if (n <= 0) return;
  if (pool && pool->size() > 1) {
    pool->parallel_for(n, ThreadPool::Fn(std::ref(fn)));
    return;
  }
  fn(int64_t{0}, n, 0);
}
inline int pool_threads(const ThreadPool* pool) { return pool ? pool->size() : 1; }

}  // namespace opt
}  // namespace runtime
}  // namespace linger
