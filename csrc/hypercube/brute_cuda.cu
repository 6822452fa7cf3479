// CUDA launchers of the brute-force hypercube sweep: one thread per (chunk, w), grid-stride. The
// thread walks the 2^c pairs of its chunk (same pair arithmetic as the CPU: weights_math.h),
// accumulating f for the c low coordinates directly (O(c) per pair) and the chunk total for the
// high ones, and writes its own partial (chunks, B, n+1) that the Python layer sums in a fixed
// order (deterministic; no atomics). Time O(B 2^(n-1) c / threads); memory O(chunks B n).
#include <cmath>

#include "common/cuda_utils.cuh"
#include "common/error.h"
#include "common/launch.h"
#include "hypercube/hypercube.h"
#include "hypercube/weights_math.h"

namespace rs {

inline constexpr int kMaxBruteN = 64;

template <typename T>
__global__ void hc_brute_f_kernel(HcBruteArgs<T> a) {
  const HcWeights<T>& W = a.W;
  const int n = W.n, c = W.c;
  const int64_t nlo = int64_t(1) << c, chunks = a.groups;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < chunks * a.B;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t kh = t / a.B, b = t % a.B;
    HcChunkState<T> st;
    chunk_state(W, kh, st);
    const T hs = a.H[b * chunks + kh], tol = a.tol[b];
    const T* L = a.L + b * nlo;
    double low[kMaxChunkBits];
    for (int i = 0; i < c; ++i) low[i] = 0;
    double D = 0, m = 0;
    for (int64_t kl = 0; kl < nlo; ++kl) {
      T wp, wm;
      pair_weights(W, st, kh, kl, wp, wm);
      const T s = hs + L[kl];
      const double up = double(wp * side(s, tol, a.tie));
      const double dn = double(wm * side(-s, tol, a.tie));
      const double d = up - dn;
      for (int i = 0; i < c; ++i) low[i] += spin<double>(kl, i) * d;
      D += d;
      m += up + dn;
    }
    double* o = a.out + t * (n + 1);
    for (int i = 0; i < c; ++i) o[i] = low[i];
    for (int i = c; i < n; ++i) o[i] = spin<double>(kh << c, i) * D;
    o[n] = m;
  }
}

template <typename T>
__global__ void hc_brute_delta_kernel(HcBruteArgs<T> a) {
  const int c = a.W.c;
  const int64_t nlo = int64_t(1) << c, chunks = a.groups;
  for (int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; t < chunks * a.B;
       t += int64_t(gridDim.x) * blockDim.x) {
    const int64_t kh = t / a.B, b = t % a.B;
    T best = T(INFINITY);
    int64_t arg = kh << c;
    delta_scan(a.H[b * chunks + kh], a.L + b * nlo, nlo, kh, c, best, arg);
    a.out_val[kh * a.B + b] = best;
    a.out_idx[kh * a.B + b] = arg;
  }
}

template <typename T>
__global__ void hc_log_partition_kernel(HcBruteArgs<T> a) {
  for (int64_t kh = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; kh < a.groups;
       kh += int64_t(gridDim.x) * blockDim.x) {
    double m = -INFINITY, s = 0;
    chunk_log_partition(a.W, kh, m, s);
    a.out[2 * kh] = m;
    a.out[2 * kh + 1] = s;
  }
}

namespace {
constexpr int kBlock = 128;

inline void check_groups(int64_t groups, int n, int c) {
  RS_CHECK(n <= kMaxBruteN, "CUDA brute force supports n <= ", kMaxBruteN);
  RS_CHECK(groups == ((int64_t(1) << (n - 1)) >> c),
           "the CUDA sweep needs one group per chunk (groups = 2^(n-1-c))");
}

// Launches one of the kernels above over `threads` grid-stride threads.
template <typename T>
void launch(void (*kernel)(HcBruteArgs<T>), int64_t threads, const HcBruteArgs<T>& a,
            const DeviceContext& ctx) {
  check_groups(a.groups, a.W.n, a.W.c);
  CudaDeviceGuard guard(ctx.device_id);
  const GridStride g = grid_stride(threads, threads, kBlock);
  kernel<<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a);
  RS_CUDA_CHECK_LAUNCH();
}
}  // namespace

template <typename T>
void hc_brute_f_cuda(const HcBruteArgs<T>& a, const DeviceContext& ctx) {
  launch(hc_brute_f_kernel<T>, a.groups * a.B, a, ctx);
}

template <typename T>
void hc_brute_delta_cuda(const HcBruteArgs<T>& a, const DeviceContext& ctx) {
  launch(hc_brute_delta_kernel<T>, a.groups * a.B, a, ctx);
}

template <typename T>
void hc_log_partition_cuda(const HcBruteArgs<T>& a, const DeviceContext& ctx) {
  launch(hc_log_partition_kernel<T>, a.groups, a, ctx);
}

#define RS_INSTANTIATE(T)                                                               \
  template void hc_brute_f_cuda<T>(const HcBruteArgs<T>&, const DeviceContext&);     \
  template void hc_brute_delta_cuda<T>(const HcBruteArgs<T>&, const DeviceContext&); \
  template void hc_log_partition_cuda<T>(const HcBruteArgs<T>&, const DeviceContext&);
RS_INSTANTIATE(float)
RS_INSTANTIATE(double)
#undef RS_INSTANTIATE

}  // namespace rs
