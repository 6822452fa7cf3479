// CUDA launcher of the layer-moment kernel: one thread per (network, pair), grid-stride over the
// B N pairs with workspace_threads threads (4 max_width interleaved scratch values each, so its
// accesses coalesce), moment_lanes with one lane. O(B N P) time over the grid.
#include "common/cuda_utils.cuh"
#include "common/error.h"
#include "common/launch.h"
#include "model/forward.h"
#include "model/moment_math.h"
#include "model/moments.h"

namespace rs {

template <typename T>
__global__ void moments_kernel(MomentArgs<T> a, int64_t stride) {
  const int64_t threads = a.workspace_threads;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= stride) return;
  const NetSpec& net = a.net;
  const int nl = net.n_layers;
  for (int64_t i = t; i < a.B * a.N; i += stride) {
    const int64_t b = i / a.N, n = i % a.N;
    const T* xy = a.xy + ((a.x_per_net ? b * a.N : 0) + n) * 2 * net.d_in;
    T* out = a.out + i * nl * kMoments;
    moment_lanes<1>(net, a.theta + b * net.n_params, xy, xy + net.d_in, 1, a.workspace + t,
                    threads, [&](int l, const T (&sums)[kMoments][1]) {
      for (int k = 0; k < kMoments; ++k) out[l * kMoments + k] = sums[k][0];
    });
  }
}

template <typename T>
void moments_cuda(const MomentArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.N == 0) return;
  const GridStride g = lane_launch(a.B * a.N, a.workspace_threads);
  CudaDeviceGuard guard(ctx.device_id);
  moments_kernel<T><<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a, g.stride);
  RS_CUDA_CHECK_LAUNCH();
}

template void moments_cuda<float>(const MomentArgs<float>&, const DeviceContext&);
template void moments_cuda<double>(const MomentArgs<double>&, const DeviceContext&);

}  // namespace rs
