// OpenMP helpers for the CPU launchers. Without OpenMP everything runs on the calling thread.
#pragma once
#include <algorithm>
#include <cstdint>

#if defined(RELUSCOPE_WITH_OPENMP)
#include <omp.h>
#endif

namespace rs {

inline int max_threads() {
#if defined(RELUSCOPE_WITH_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// Calls body(begin, end, thread) on chunks of [0, n) of `grain` items, dynamically scheduled over
// the OpenMP threads. A single chunk runs on the calling thread (no parallel-region start-up cost,
// which matters for the tiny calls users make in tight loops). Exceptions must not escape body.
template <typename Body>
void parallel_for(int64_t n, int64_t grain, Body&& body) {
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  const int64_t chunks = (n + grain - 1) / grain;
  if (chunks == 1 || max_threads() == 1) {
    body(int64_t{0}, n, 0);
    return;
  }
#if defined(RELUSCOPE_WITH_OPENMP)
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < chunks; ++c) {
    body(c * grain, std::min(n, (c + 1) * grain), omp_get_thread_num());
  }
#endif
}

}  // namespace rs
