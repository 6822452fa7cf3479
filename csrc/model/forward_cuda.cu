// CUDA launcher of the batched forward pass: one thread per (network, sample) pair, grid-stride
// over B*N pairs (common/launch.h) with at most workspace_threads threads so the scratch workspace
// (workspace_threads x 2 max_width, allocated by the Python layer) stays bounded. Neighbouring
// threads share a network, so weight reads are broadcasts; scratch is interleaved across threads
// so its accesses coalesce.
#include "common/cuda_utils.cuh"
#include "common/error.h"
#include "common/launch.h"
#include "model/forward.h"
#include "model/forward_math.h"

namespace rs {

template <typename T>
__global__ void forward_kernel(ForwardArgs<T> a, int64_t stride) {
  const int64_t threads = a.workspace_threads;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= stride) return;
  const NetSpec& net = a.net;
  for (int64_t i = t; i < a.B * a.N; i += stride) {
    const int64_t b = i / a.N, n = i % a.N;
    const T* x = a.x + ((a.x_per_net ? b * a.N : 0) + n) * net.d_in;
    const T* out = forward_lanes<1>(net, a.theta + b * net.n_params, x, 1, a.workspace + t,
                                    threads, [](int, int, const T*) {});
    for (int j = 0; j < net.d_out; ++j) a.y[i * net.d_out + j] = out[j * threads];
  }
}

template <typename T>
void forward_cuda(const ForwardArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.N == 0) return;
  const GridStride g = lane_launch(a.B * a.N, a.workspace_threads);
  CudaDeviceGuard guard(ctx.device_id);
  forward_kernel<T><<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a, g.stride);
  RS_CUDA_CHECK_LAUNCH();
}

template void forward_cuda<float>(const ForwardArgs<float>&, const DeviceContext&);
template void forward_cuda<double>(const ForwardArgs<double>&, const DeviceContext&);

}  // namespace rs
