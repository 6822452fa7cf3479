// The thread pool behind parallel_for (see parallel.h for what it guarantees and why).
// One job at a time: a call that finds the pool busy (another Python thread's call) runs its
// chunks on its own thread (correct, slower). Idle workers sleep on a condition variable, after
// a short polite wait (spin_until).
#include "common/parallel.h"

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <string>
#include <system_error>
#include <vector>

#if defined(__linux__)
#include <pthread.h>
#include <sched.h>
#endif

namespace rs {

namespace {

constexpr int kMaxThreads = 1024;
constexpr int kStopPollMs = 20;  // a caller waiting for the pool polls its stop token this often

// How long a waiting thread polls before it sleeps (spin_until).
constexpr auto kSpin = std::chrono::microseconds(1000);

// Polls ready() for up to kSpin, yielding the CPU between polls; ready()'s last value. Used where
// a thread would otherwise sleep on a condition variable: a worker between jobs (the next call of
// a loop comes within a fraction of a millisecond) and the caller waiting for the last chunks. A
// sleeping thread lets its CPU go idle, and the first work after the wake-up then ran cold here
// (a virtual machine: a clone of 16000 values took 130 us right after a 2.5 ms sleep, 18 us
// after a 2.5 ms spin); the yield gives the core to any other runnable thread, so on a busy CPU
// the wait costs the other process little (bench/results/NOTES.md). At most kSpin of CPU time
// per wait: a call of a few ms, back to back, ran 6-12 % faster.
template <typename Ready>
bool spin_until(Ready&& ready) {
  const auto end = std::chrono::steady_clock::now() + kSpin;
  for (int i = 1;; ++i) {
    if (ready()) return true;
    std::this_thread::yield();
    if (i % 16 == 0 && std::chrono::steady_clock::now() >= end) return ready();
  }
}

int threads_from_env() {
  for (const char* name : {"RELUSCOPE_NUM_THREADS", "OMP_NUM_THREADS"}) {
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);  // OMP_NUM_THREADS may be a list "4,2": its first entry
      if (n >= 1) return std::min(n, kMaxThreads);
    }
  }
#if defined(__linux__)
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    return std::clamp(CPU_COUNT(&set), 1, kMaxThreads);
#endif
  return std::clamp(int(std::thread::hardware_concurrency()), 1, kMaxThreads);
}

// One parallel_for in flight: chunks handed out by `next`, counted by `done`.
struct Job {
  int64_t n = 0, grain = 1, chunks = 0;
  void (*chunk)(void*, int64_t, int64_t, int) = nullptr;
  void* ctx = nullptr;
  StopToken* stop = nullptr;
  std::atomic<int64_t> next{0}, done{0};
  std::atomic<bool> failed{false};
  std::mutex error_mutex;
  std::exception_ptr error;

  // Runs chunks until none is left; returns once this thread has no chunk in hand.
  void work(int thread) {
    StopScope scope(stop);
    for (int64_t c; (c = next.fetch_add(1)) < chunks;) {
      if (!failed.load(std::memory_order_relaxed) && !(stop && stop->check())) {
        try {
          chunk(ctx, c * grain, std::min(n, (c + 1) * grain), thread);
        } catch (...) {
          std::lock_guard<std::mutex> lock(error_mutex);
          if (!error) error = std::current_exception();
          failed.store(true);
        }
      }
      done.fetch_add(1, std::memory_order_acq_rel);
    }
  }
};

class Pool {
 public:
  // Starts up to threads - 1 workers; if the system refuses a thread, the pool runs with those
  // it got (every index stays below max_threads(), which sizes per-thread scratch).
  explicit Pool(int threads) {
    try {
      for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { loop(i); });
    } catch (const std::system_error&) {
    }
  }
  // Never destroyed: workers outlive static destruction at exit, and a forked child abandons the
  // parent's pool (its threads do not exist there) and builds its own.

  int threads() const { return int(workers_.size()) + 1; }

  // Runs the job on the pool; false (nothing run) when the pool is busy with another job.
  bool run(Job& job) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (job_ != nullptr) return false;
      job_ = &job;
      ++generation_;
    }
    wake_.notify_all();
    job.work(0);
    // The others' last chunks may run for seconds. Only this thread polls the stop token (it asks
    // Python for Ctrl-C), so it keeps polling while it waits: the workers then stop at their next
    // check instead of finishing the chunk they hold.
    const auto finished = [&] { return job.done.load() == job.chunks && active_.load() == 0; };
    spin_until(finished);  // then again under the lock, which decides
    std::unique_lock<std::mutex> lock(mutex_);
    while (!finished_.wait_for(lock, std::chrono::milliseconds(kStopPollMs), finished)) {
      if (job.stop == nullptr) continue;
      lock.unlock();
      job.stop->check();
      lock.lock();
    }
    job_ = nullptr;
    return true;
  }

 private:
  void loop(int thread) {
    uint64_t seen = 0;
    for (;;) {
      Job* job = nullptr;
      spin_until([&] { return generation_.load() != seen; });
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return generation_ != seen; });
        seen = generation_;
        job = job_;
        if (job == nullptr) continue;
        ++active_;
      }
      job->work(thread);
      {
        std::lock_guard<std::mutex> lock(mutex_);
        --active_;
      }
      finished_.notify_all();
    }
  }

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  Job* job_ = nullptr;
  std::atomic<uint64_t> generation_{0};  // changed under mutex_; read without it to poll
  std::atomic<int> active_{0};
};

std::atomic<Pool*> g_pool{nullptr};
std::mutex* g_pool_mutex = new std::mutex();  // replaced, not destroyed, in a forked child
std::atomic<int> g_threads{0};

int configured_threads() {
  int t = g_threads.load();
  if (t == 0) {
    t = threads_from_env();
    g_threads.store(t);
  }
  return t;
}

void forget_pool_in_child() {
  // The parent's workers do not exist in the child, and its mutexes may have been held by other
  // threads at the fork: abandon both (a small leak per fork) and build anew on first use.
  g_pool.store(nullptr);
  g_pool_mutex = new std::mutex();
}

Pool& pool() {
  Pool* p = g_pool.load();
  if (p != nullptr) return *p;
  std::lock_guard<std::mutex> lock(*g_pool_mutex);
  p = g_pool.load();
  if (p == nullptr) {
#if defined(__linux__)
    static const bool registered = [] {
      pthread_atfork(nullptr, nullptr, &forget_pool_in_child);
      return true;
    }();
    (void)registered;
#endif
    p = new Pool(configured_threads());
    g_pool.store(p);
  }
  return *p;
}

}  // namespace

int max_threads() { return configured_threads(); }

StopToken*& current_stop_token() {
  thread_local StopToken* token = nullptr;
  return token;
}

void run_parallel(int64_t n, int64_t grain, void (*chunk)(void*, int64_t, int64_t, int),
                  void* ctx) {
  Job job;
  job.n = n;
  job.grain = grain;
  job.chunks = (n + grain - 1) / grain;
  job.chunk = chunk;
  job.ctx = ctx;
  job.stop = current_stop_token();
  if (max_threads() == 1 || !pool().run(job)) job.work(0);
  if (job.error) std::rethrow_exception(job.error);
}

}  // namespace rs
