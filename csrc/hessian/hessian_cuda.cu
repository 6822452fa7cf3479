// CUDA launcher of the Hessian engine: one block of kHessCudaBlock threads per (network, data chunk)
// task (grid-stride over tasks, so the scratch workspace — threads x rows values, interleaved
// across threads so accesses coalesce — stays bounded), one thread per sample (hess_tile with one
// lane). Contributions are summed over the warp with shuffles and lane 0 adds them to the warp's
// own row of `part` (no atomics: every row has one writer, and its samples come in a fixed
// order), so a call gives the same bits every time; the Python layer sums the rows.
// Time O(B N (P + K P)) spread over the grid; O(len) shuffles per 32 samples.
#include "common/cuda_utils.cuh"
#include "common/error.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "model/kink_math.h"

namespace rs {

namespace {

// A padding thread (past the chunk's samples) adds 0 by a select, not its weight-0 product, which
// would be NaN where the sample's values are inf.
// store_input_grad writes this thread's input gradient k into dx (its sample's row).
template <typename T>
struct WarpAcc {
  T* p;
  bool valid;
  T* dx = nullptr;
  __device__ void store_input_grad(int k, const T* lanes) {
    if (valid) dx[k] = lanes[0];
  }
  __device__ void add_products(int64_t slot, const T* a, const T* b, const T* c, const T* d,
                               bool two) {
    T value = a[0] * b[0];
    if (two) value += c[0] * d[0];
    add(slot, &value);
  }
  // Slot slot0 + j sj + k gets a_j b_k (+ c_j d_k), row r of a at a + r * stride (LaneAcc's
  // contract; here one slot at a time).
  __device__ void add_outer(int64_t slot0, int64_t sj, int nj, int nk, const T* a, const T* b,
                            const T* c, const T* d, int64_t stride, bool two) {
    for (int j = 0; j < nj; ++j)
      for (int k = 0; k < nk; ++k)
        add_products(slot0 + j * sj + k, a + j * stride, b + k * stride, two ? c + j * stride : a,
                     two ? d + k * stride : b, two);
  }
  __device__ void add(int64_t slot, const T* lanes) {
    T value = valid ? lanes[0] : T(0);
    for (int o = 16; o > 0; o >>= 1) value += __shfl_down_sync(0xffffffffu, value, o);
    if ((threadIdx.x & 31) == 0) p[slot] += value;
  }
};

template <typename T>
__global__ void hess_kernel(HessArgs<T> a) {
  const NetSpec& net = a.net;
  const int64_t threads = a.workspace_threads, P = net.n_params, len = a.len();
  T* s = a.workspace + int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (int64_t task = blockIdx.x; task < a.B * a.C; task += gridDim.x) {
    const int64_t b = task / a.C, c = task % a.C;
    const int64_t n0 = a.N * c / a.C, n1 = a.N * (c + 1) / a.C;
    const T* x = a.x + (a.x_per_net ? b * a.D * net.d_in : 0);
    const T* t = a.t + (a.t_per_net ? b * a.D * net.d_out : 0);
    const T* w = a.w + (a.w_per_net ? b * a.N : 0);
    const T* v = a.v ? a.v + (a.v_per_net ? b * a.K * P : 0) : nullptr;
    WarpAcc<T> acc{a.part + (task * kHessCudaWarps + threadIdx.x / 32) * len, true};
    if (a.kinks)
      kink_row_max(net, a.theta + b * P, [&](int r) { return s + (a.lay.kink_max + r) * threads; });
    // Every thread runs the same trip count (padding samples carry weight 0), so warps stay
    // converged for the shuffles in WarpAcc.
    for (int64_t n = n0; n < n1; n += blockDim.x) {
      const bool valid = n + threadIdx.x < n1;
      acc.valid = valid;
      const int64_t m = valid ? n + threadIdx.x : n0;
      const int64_t r = a.rows ? a.rows[b * a.N + m] : m;   // its row of x and t
      if (a.dx) acc.dx = a.dx + (b * a.N + m) * net.d_in;
      s[a.lay.w_row * threads] = valid ? w[m] : T(0);
      for (int j = 0; j < net.d_out; ++j) s[(a.lay.t_row + j) * threads] = t[r * net.d_out + j];
      for (int k = 0; k < net.d_in; ++k) s[(a.lay.a[0] + k) * threads] = x[r * net.d_in + k];
      if (a.unit_first >= 0)
        hess_tile<1, 0, true>(a, a.theta + b * P, v, s, threads, acc);
      else
        hess_tile<1, 0, false>(a, a.theta + b * P, v, s, threads, acc);
    }
  }
}

}  // namespace

template <typename T>
void hess_cuda(const HessArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.C == 0) return;
  RS_CHECK(a.workspace_threads > 0 && a.workspace_threads % kHessCudaBlock == 0,
           "the CUDA Hessian workspace must hold a multiple of ", kHessCudaBlock, " threads");
  CudaDeviceGuard guard(ctx.device_id);
  const unsigned blocks = static_cast<unsigned>(a.workspace_threads / kHessCudaBlock);
  hess_kernel<T><<<blocks, kHessCudaBlock, 0, as_stream(ctx.stream)>>>(a);
  RS_CUDA_CHECK_LAUNCH();
}

template void hess_cuda<float>(const HessArgs<float>&, const DeviceContext&);
template void hess_cuda<double>(const HessArgs<double>&, const DeviceContext&);

}  // namespace rs
