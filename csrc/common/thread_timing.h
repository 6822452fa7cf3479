// Timing of the roofline's microbenchmarks (peak_cpu.cpp, hessian/act_rate_cpu.cpp): one piece
// of work on every pool thread at once, as the kernels run.
#pragma once
#include <chrono>
#include <cstdint>

#include "common/parallel.h"

namespace rs {

// Wall-clock seconds for body(t) on each pool thread t < max_threads(), all started together.
template <typename Body>
double seconds_on_every_thread(Body&& body) {
  const int threads = max_threads();
  const auto t0 = std::chrono::steady_clock::now();
  parallel_for(threads, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t t = begin; t < end; ++t) body(int(t));
  });
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace rs
