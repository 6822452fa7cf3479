// CPU launchers of the brute-force hypercube sweep. Threads over groups of consecutive chunks (f:
// over (group, block of w) tasks); the groups are fixed by the caller, not by the thread count, and
// each writes its own partial, so the result is bitwise reproducible. Per chunk: the pair weights are computed once into a buffer
// (2^c), then for each w one pass computes d[kl] = p(x) 1(s>=0) - p(-x) 1(-s>=0) and the mass, and
// a fold of d (2 * 2^c additions) gives sum_kl d[kl] x_i for the c low coordinates; the high
// coordinates are constant on the chunk. Time O(B 2^(n-1)) with O(1) work per pair and w;
// memory O(2^c) per thread. Compiled with -ffp-contract=off (CMakeLists.txt): the AVX2 and
// AVX-512 variants round every product as the baseline one does (tests/hypercube/test_sums.py
// checks the bits of every variant and thread count).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "common/cpu_isa.h"
#include "common/parallel.h"
#include "hypercube/hypercube.h"
#include "hypercube/weights_math.h"

namespace rs {

namespace {

struct GroupRange {
  int64_t begin, end;
};

inline GroupRange group_range(int64_t chunks, int64_t groups, int64_t g) {
  const int64_t per = (chunks + groups - 1) / groups;
  return {std::min(chunks, g * per), std::min(chunks, (g + 1) * per)};
}

// sum_{k < n} of what step(k, partial) adds to `partial`, for n a power of two: in kSumLanes
// interleaved partial sums so the loop vectorises (a single running sum is a chain of dependent
// additions), added in a fixed order, so every ISA variant and thread count gives the same bits.
constexpr int kSumLanes = 16;

template <typename Step>
double lane_sum(int64_t n, Step&& step) {
  double acc[kSumLanes] = {};
  if (n < kSumLanes) {
    for (int64_t k = 0; k < n; ++k) step(k, acc[0]);
  } else {
    for (int64_t k0 = 0; k0 < n; k0 += kSumLanes) {
      RS_SIMD for (int l = 0; l < kSumLanes; ++l) step(k0 + l, acc[l]);
    }
  }
  double total = 0;
  for (int l = 0; l < kSumLanes; ++l) total += acc[l];
  return total;
}

// One w over one chunk: d[kl] = p(x) 1(s >= 0) - p(-x) 1(-s >= 0) for the 2^c pairs (x, -x) of
// the chunk, s = <w, x> = hs + L[kl]; returns the chunk's mass, the sum of p(x) 1(s >= 0) +
// p(-x) 1(-s >= 0).
template <typename T>
double chunk_sides(const T* wp, const T* wm, const T* L, T hs, T tol, T tie, int64_t nlo,
                   double* d) {
  return lane_sum(nlo, [&](int64_t kl, double& mass) {
    const T s = hs + L[kl];
    const double up = double(wp[kl] * side(s, tol, tie));
    const double dn = double(wm[kl] * side(-s, tol, tie));
    d[kl] = up - dn;
    mass += up + dn;
  });
}

// The pair weights wp[kl] = p(x), wm[kl] = p(-x) of chunk kh (2^c pairs), as pair_weights gives
// them. Ising's exps run in a loop of their own, which the compiler vectorises (each lane does
// the scalar arithmetic: the same bits).
template <typename T>
void chunk_weights(const HcWeights<T>& W, const HcChunkState<T>& st, int64_t kh, int64_t nlo,
                   T* wp, T* wm) {
  if (W.kind == kIsingW) {
    for (int64_t kl = 0; kl < nlo; ++kl) ising_log_weights(W, st, kl, wp[kl], wm[kl]);
    RS_SIMD for (int64_t kl = 0; kl < nlo; ++kl) {
      wp[kl] = exp_(wp[kl]);
      wm[kl] = exp_(wm[kl]);
    }
  } else {
    for (int64_t kl = 0; kl < nlo; ++kl) pair_weights(W, st, kh, kl, wp[kl], wm[kl]);
  }
}

// Folds d[0 .. 2^c) in place: S[i] = sum_k d[k] x_i(k) for i < c; returns sum_k d[k].
inline double fold_bits(double* d, int c, double* S) {
  for (int j = c - 1; j >= 0; --j) {
    const int64_t half = int64_t(1) << j;
    S[j] = lane_sum(half, [&](int64_t k, double& sum) {
      sum += d[k + half] - d[k];
      d[k] += d[k + half];
    });
  }
  return d[0];
}

}  // namespace

// w per task of the f sweep: a task is (group, block of w), so a call with few groups (small n)
// still spreads over the threads; each task writes its own partials, whatever the partition.
constexpr int64_t kWBlock = 64;

template <typename T>
void hc_brute_f_cpu(const HcBruteArgs<T>& a) {
  const HcWeights<T>& W = a.W;
  const int n = W.n, c = W.c;
  const int64_t nlo = int64_t(1) << c, chunks = (int64_t(1) << (n - 1)) >> c;
  const int64_t wblocks = (a.B + kWBlock - 1) / kWBlock;
  const CpuIsa isa = cpu_isa();  // the sweep compiled for the widest vector ISA the CPU has
  parallel_for(a.groups * wblocks, 1, [&](int64_t t0, int64_t t1, int) {
    std::vector<T> wp(nlo), wm(nlo);
    std::vector<double> d(nlo), S(kMaxChunkBits);
    call_for_isa(isa, [&] {
      for (int64_t task = t0; task < t1; ++task) {
        const int64_t g = task / wblocks, b0 = (task % wblocks) * kWBlock;
        const int64_t b1 = std::min(a.B, b0 + kWBlock);
        double* out = a.out + g * a.B * (n + 1);
        for (int64_t i = b0 * (n + 1); i < b1 * (n + 1); ++i) out[i] = 0;
        const GroupRange r = group_range(chunks, a.groups, g);
        for (int64_t kh = r.begin; kh < r.end; ++kh) {
          if (stop_requested()) return;
          HcChunkState<T> st;
          chunk_state(W, kh, st);
          chunk_weights(W, st, kh, nlo, wp.data(), wm.data());
          for (int64_t b = b0; b < b1; ++b) {
            const double m = chunk_sides(wp.data(), wm.data(), a.L + b * nlo,
                                         a.H[b * chunks + kh], a.tol[b], a.tie, nlo, d.data());
            double* o = out + b * (n + 1);
            const double D = fold_bits(d.data(), c, S.data());
            for (int i = 0; i < c; ++i) o[i] += S[i];
            for (int i = c; i < n; ++i) o[i] += spin<double>(kh << c, i) * D;
            o[n] += m;
          }
        }
      }
    });
  });
}

template <typename T>
void hc_brute_delta_cpu(const HcBruteArgs<T>& a) {
  const int n = a.W.n, c = a.W.c;
  const int64_t nlo = int64_t(1) << c, chunks = (int64_t(1) << (n - 1)) >> c;
  parallel_for(a.groups * a.B, 1, [&](int64_t i0, int64_t i1, int) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t g = i / a.B, b = i % a.B;
      const GroupRange r = group_range(chunks, a.groups, g);
      const T* L = a.L + b * nlo;
      T best = std::numeric_limits<T>::infinity();
      int64_t arg = r.begin << c;
      for (int64_t kh = r.begin; kh < r.end && !stop_requested(); ++kh)
        delta_scan(a.H[b * chunks + kh], L, nlo, kh, c, best, arg);
      a.out_val[g * a.B + b] = best;
      a.out_idx[g * a.B + b] = arg;
    }
  });
}

template <typename T>
void hc_log_partition_cpu(const HcBruteArgs<T>& a) {
  const int64_t chunks = (int64_t(1) << (a.W.n - 1)) >> a.W.c;
  parallel_for(a.groups, 1, [&](int64_t g0, int64_t g1, int) {
    for (int64_t g = g0; g < g1; ++g) {
      double m = -std::numeric_limits<double>::infinity(), s = 0;
      const GroupRange r = group_range(chunks, a.groups, g);
      for (int64_t kh = r.begin; kh < r.end && !stop_requested(); ++kh)
        chunk_log_partition(a.W, kh, m, s);
      a.out[2 * g] = m;
      a.out[2 * g + 1] = s;
    }
  });
}

#define RS_INSTANTIATE(T)                                     \
  template void hc_brute_f_cpu<T>(const HcBruteArgs<T>&);     \
  template void hc_brute_delta_cpu<T>(const HcBruteArgs<T>&); \
  template void hc_log_partition_cpu<T>(const HcBruteArgs<T>&);
RS_INSTANTIATE(float)
RS_INSTANTIATE(double)
#undef RS_INSTANTIATE

}  // namespace rs
