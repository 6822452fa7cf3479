// CUDA launcher of the Jacobian kernel: one thread per (network, sample) pair, grid-stride over
// the B N pairs with workspace_threads threads (each owning one column of the interleaved scratch
// workspace, so its accesses coalesce), jac_tile with one lane writing its sample's own rows of
// `out`. Time O(B N P (1 + d_out)) (full, features) or O(B N P (1 + K)) (jvp) over the grid.
#include "common/cuda_utils.cuh"
#include "common/error.h"
#include "common/launch.h"
#include "hessian/jacobian.h"
#include "hessian/jacobian_math.h"

namespace rs {

namespace {

template <typename T>
struct ThreadStore {
  T* out;
  int64_t per_output;
  __device__ void add(int o, int64_t slot, const T* lane) { out[o * per_output + slot] += lane[0]; }
  __device__ void set(int o, int64_t k, const T* lane) { out[o * per_output + k] = lane[0]; }
  __device__ void feature(int64_t index, const T* lane) { out[index] = lane[0]; }
};

template <typename T>
__global__ void jac_kernel(JacArgs<T> a, int64_t stride) {
  const int64_t threads = a.workspace_threads;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= stride) return;
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, per_output = a.mode == JAC_JVP ? a.K : P;
  const int64_t per_sample =
      a.mode == JAC_FEATURES ? jac_feature_offset(net, net.n_layers) : net.d_out * per_output;
  T* s = a.workspace + t;
  for (int64_t i = t; i < a.B * a.N; i += stride) {
    const int64_t b = i / a.N, n = i % a.N;
    const T* x = a.x + ((a.x_per_net ? b * a.N : 0) + n) * net.d_in;
    for (int k = 0; k < net.d_in; ++k) s[(a.lay.a[0] + k) * threads] = x[k];
    ThreadStore<T> st{a.out + i * per_sample, per_output};
    const T* u = a.u ? a.u + (a.u_per_net ? b * a.K * P : 0) : nullptr;
    jac_tile<1, 0>(a, a.theta + b * P, u, s, threads, st);
  }
}

}  // namespace

template <typename T>
void jac_cuda(const JacArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.N == 0) return;
  const GridStride g = grid_stride(a.B * a.N, a.workspace_threads, kJacCudaBlock);
  CudaDeviceGuard guard(ctx.device_id);
  jac_kernel<T><<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a, g.stride);
  RS_CUDA_CHECK_LAUNCH();
}

template void jac_cuda<float>(const JacArgs<float>&, const DeviceContext&);
template void jac_cuda<double>(const JacArgs<double>&, const DeviceContext&);

}  // namespace rs
