// Lane tiles for the CPU launchers that run the shared lane loops (model/lanes.h): the tile width,
// and structure-of-arrays copies of row-major inputs so a tile loads each feature row with one
// contiguous (vectorised) copy.
#pragma once
#include <cstdint>
#include <vector>

#include "common/parallel.h"

namespace rs {

// Samples per tile: four 512-bit vectors — wide enough to amortise the per-row loop overhead
// (8 -> 32/64 lanes made the Hessian benchmark (a) 1.6-2.5x faster; wider was not faster).
template <typename T>
constexpr int kCpuLanes = sizeof(T) == 4 ? 64 : 32;

// dst (sets, d, N) <- src (sets, N, d). O(sets N d) time and memory.
template <typename T>
void transpose_rows(const T* src, int64_t sets, int64_t N, int64_t d, std::vector<T>& dst) {
  dst.resize(size_t(sets * N * d));
  parallel_for(sets, 1, [&](int64_t b0, int64_t b1, int) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t n = 0; n < N; ++n)
        for (int64_t k = 0; k < d; ++k) dst[(b * d + k) * N + n] = src[(b * N + n) * d + k];
  });
}

// Lanes [n, n + L) of the row src[0 .. n1) into dst; lanes past n1 get `pad`.
template <int L, typename T>
inline void load_lanes(T* dst, const T* src, int64_t n, int64_t n1, T pad) {
  if (n + L <= n1) {
    for (int i = 0; i < L; ++i) dst[i] = src[n + i];
  } else {
    for (int i = 0; i < L; ++i) dst[i] = n + i < n1 ? src[n + i] : pad;
  }
}

}  // namespace rs
