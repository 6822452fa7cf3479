// The CPU launchers' one parallel loop, on reluscope's own thread pool (common/parallel.cpp), and
// the cooperative stop of long calls.
//
// Why not OpenMP's runtime: in a torch process it is torch's libgomp, configured when torch is
// imported (threads spin-wait at every join, which makes a call several times slower when another
// process keeps a core busy) and not usable in a forked child. The pool here:
//  * hands out chunks from an atomic counter; a call returns when every chunk is done, without
//    waiting for workers that never woke (a worker preempted by another process delays a call by
//    at most the chunk it holds);
//  * lets idle workers sleep (a condition variable), after polling for the next job for at most
//    a millisecond while yielding the CPU (parallel.cpp's spin_until);
//  * is rebuilt, lazily, in a forked child (pthread_atfork);
//  * catches exceptions in chunks (std::bad_alloc included) and rethrows the first on the calling
//    thread once every chunk has stopped, where the binding turns it into a Python exception;
//  * stops handing out chunks once the call's StopToken says so (Ctrl-C, see ndarray.h).
// Results never depend on the number of threads: launchers give every chunk its own outputs.
// Threads: RELUSCOPE_NUM_THREADS, else OMP_NUM_THREADS, else the CPUs this process may run on.
// OpenMP is still used at compile time (omp simd, hostdevice.h) where the compiler has it.
#pragma once
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>
#include <type_traits>

#include <time.h>

namespace rs {

// The threads a parallel_for may use, the calling thread included (>= 1).
int max_threads();

// Stop request of one call into the extension. The binding creates it, with a poll function that
// asks Python for a pending signal (under the GIL); kernels call stop_requested() between pieces
// of work. Only the thread that made the call polls (at most every 50 ms); any thread reads it.
class StopToken {
 public:
  using Poll = bool (*)(void*);
  StopToken(Poll poll, void* ctx) : poll_(poll), ctx_(ctx), owner_(std::this_thread::get_id()) {}

  bool check() {
    if (stop_.load(std::memory_order_relaxed)) return true;
    if (poll_ && std::this_thread::get_id() == owner_) {
      const int64_t now = coarse_now_ms();
      if (now >= next_poll_ms_) {
        next_poll_ms_ = now + 50;
        if (poll_(ctx_)) stop_.store(true, std::memory_order_relaxed);
      }
    }
    return stop_.load(std::memory_order_relaxed);
  }
  bool stopped() const { return stop_.load(std::memory_order_relaxed); }

 private:
  std::atomic<bool> stop_{false};
  Poll poll_;
  void* ctx_;
  std::thread::id owner_;
  int64_t next_poll_ms_ = 0;

  // Milliseconds of a monotonic clock, cheaply (kernels check between tiles): Linux's coarse
  // clock (a few ns, ~4 ms resolution), else steady_clock.
  static int64_t coarse_now_ms() {
#if defined(CLOCK_MONOTONIC_COARSE)
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
#else
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch()).count();
#endif
  }
};

// The token of the call the current thread works for (nullptr outside calls).
StopToken*& current_stop_token();

// True once the current call should stop: long loops check it between pieces of work and return
// early (their outputs are then discarded by the binding, which raises).
inline bool stop_requested() {
  StopToken* t = current_stop_token();
  return t != nullptr && t->check();
}

// stop_requested() for a loop over small pieces of work (a kernel's tiles): asks once in kEvery
// calls, and on the first. A full ask costs a thread-local lookup, the thread's id and, on the
// calling thread, a clock read: ~100 cycles, as much as a small network's tile of samples.
template <int kEvery = 16>
class StopPoll {
 public:
  bool operator()() { return count_++ % kEvery == 0 && stop_requested(); }

 private:
  unsigned count_ = 0;
};

// Sets the current thread's token for a scope.
class StopScope {
 public:
  explicit StopScope(StopToken* t) : saved_(current_stop_token()) { current_stop_token() = t; }
  ~StopScope() { current_stop_token() = saved_; }
  StopScope(const StopScope&) = delete;
  StopScope& operator=(const StopScope&) = delete;

 private:
  StopToken* saved_;
};

// One parallel loop: chunks of `grain` items, each run as chunk(ctx, begin, end, thread).
void run_parallel(int64_t n, int64_t grain, void (*chunk)(void*, int64_t, int64_t, int),
                  void* ctx);

// Calls body(begin, end, thread) on chunks of [0, n) of `grain` items over the pool's threads
// (thread < max_threads(); the calling thread is thread 0). A single chunk runs on the calling
// thread with no hand-off (the tiny calls users make in tight loops). Exceptions thrown by body
// propagate to the caller after every chunk has stopped.
template <typename Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n <= grain) {
    if (!stop_requested()) body(int64_t{0}, n, 0);
    return;
  }
  using Fn = std::remove_reference_t<Body>;
  run_parallel(n, grain,
               [](void* ctx, int64_t begin, int64_t end, int thread) {
                 (*static_cast<Fn*>(ctx))(begin, end, thread);
               },
               const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace rs
