// CUDA launcher of the activation-pattern kernel: one thread per (network, sample), grid-stride
// (common/launch.h) with a bounded workspace (workspace_threads x 2 max_width, interleaved so
// accesses coalesce). Distinct rows are then counted with torch.unique on the device
// (reluscope.regions.patterns).
#include "common/cuda_utils.cuh"
#include "common/launch.h"
#include "model/forward.h"
#include "regions/pattern_math.h"
#include "regions/regions.h"

namespace rs {

template <typename T>
__global__ void pattern_kernel(PatternArgs<T> a, int64_t stride) {
  const int64_t threads = a.workspace_threads;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= stride) return;
  for (int64_t i = t; i < a.B * a.N; i += stride) {
    const int64_t b = i / a.N, n = i % a.N;
    const T* x = a.x + ((a.x_per_net ? b * a.N : 0) + n) * a.net.d_in;
    pattern_lanes<1>(a.net, a.theta + b * a.net.n_params, x, 1, a.workspace + t, threads,
                     a.words + i * a.n_words, 1, a.n_words);
  }
}

template <typename T>
void pattern_cuda(const PatternArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.N == 0) return;
  const GridStride g = lane_launch(a.B * a.N, a.workspace_threads);
  CudaDeviceGuard guard(ctx.device_id);
  pattern_kernel<T><<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a, g.stride);
  RS_CUDA_CHECK_LAUNCH();
}

template void pattern_cuda<float>(const PatternArgs<float>&, const DeviceContext&);
template void pattern_cuda<double>(const PatternArgs<double>&, const DeviceContext&);

}  // namespace rs
