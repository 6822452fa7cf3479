// Lane tiles for the CPU launchers that run the shared lane loops (model/lanes.h): the tile width,
// and structure-of-arrays copies of row-major inputs so a tile loads each feature row with one
// contiguous (vectorised) copy.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/cpu_isa.h"
#include "common/parallel.h"

namespace rs {

// Samples per tile: four 512-bit vectors, wide enough to amortise the per-row loop overhead while
// a small network's scratch stays in L1 (measurements: bench/results/NOTES.md).
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

// Lanes [n, n + L) of column k of row-major samples (src = &samples[0][k], rows `stride` apart,
// samples [0, n1) valid) into dst; lanes past n1 get `pad`. Sample i is row i, or row rows[i]
// when rows is given (a minibatch read in place). Reads the samples in place: no transposed copy
// (for per-network data that copy costs more than the kernel on small nets).
template <int L, typename T>
inline void load_lanes_strided(T* dst, const T* src, int64_t stride, int64_t n, int64_t n1,
                               T pad, const int64_t* rows = nullptr) {
  if (rows == nullptr && stride == 1) {  // one feature: contiguous, vector loads
    load_lanes<L>(dst, src, n, n1, pad);
  } else if (rows == nullptr) {
    if (n + L <= n1) {
      for (int i = 0; i < L; ++i) dst[i] = src[(n + i) * stride];
    } else {
      for (int i = 0; i < L; ++i) dst[i] = n + i < n1 ? src[(n + i) * stride] : pad;
    }
  } else if (n + L <= n1) {
    for (int i = 0; i < L; ++i) dst[i] = src[rows[n + i] * stride];
  } else {
    for (int i = 0; i < L; ++i) dst[i] = n + i < n1 ? src[rows[n + i] * stride] : pad;
  }
}

// The loop of the per-sample lane launchers (forward, activation patterns): for every (network b,
// tile of kCpuLanes samples starting at n) calls fn(b, n, lanes, xt, scratch, thread), where xt
// holds the tile's inputs (feature k of lane i at xt[k * kCpuLanes + i]; lanes >= `lanes` are
// zero), scratch is the calling thread's own `scratch_values` values, thread < max_threads().
// x is (N, d_in), or (B, N, d_in) when x_per_net; it is transposed once per call. Threads over
// tasks in chunks of about 64k units of `work_per_sample`; fn runs compiled for the CPU's widest
// vector ISA.
template <typename T, typename Fn>
void for_each_tile_cpu(const T* x, bool x_per_net, int64_t B, int64_t N, int d_in,
                       int64_t work_per_sample, size_t scratch_values, Fn&& fn) {
  constexpr int kL = kCpuLanes<T>;
  std::vector<T> xs;
  transpose_rows(x, x_per_net ? B : 1, N, d_in, xs);
  const CpuIsa isa = cpu_isa();
  const int64_t tiles = (N + kL - 1) / kL;
  const int64_t grain = std::max<int64_t>(1, 65536 / (kL * std::max<int64_t>(work_per_sample, 1)));
  parallel_for(B * tiles, grain, [&](int64_t begin, int64_t end, int thread) {
    std::vector<T> xt(size_t(d_in) * kL), scratch(scratch_values);
    call_for_isa(isa, [&] {
      StopPoll<> stopped;
      for (int64_t task = begin; task < end && !stopped(); ++task) {
        const int64_t b = task / tiles, n = (task % tiles) * kL;
        const T* xb = xs.data() + (x_per_net ? b * N * d_in : 0);
        for (int k = 0; k < d_in; ++k) load_lanes<kL>(xt.data() + k * kL, xb + k * N, n, N, T(0));
        fn(b, n, int(std::min<int64_t>(kL, N - n)), xt.data(), scratch.data(), thread);
      }
    });
  });
}

}  // namespace rs
