// CUDA launcher of the activation-pattern kernel: one thread per (network, sample), grid-stride
// with a bounded workspace (threads x 2 max_width, interleaved so accesses coalesce). Distinct
// rows are then counted with torch.unique on the device (see reluscope/regions).
#include "common/cuda_utils.cuh"
#include "model/forward.h"
#include "regions/pattern_math.h"
#include "regions/regions.h"

namespace rs {

template <typename T>
__global__ void pattern_kernel(PatternArgs<T> a) {
  const int64_t threads = a.workspace_threads;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  for (int64_t i = t; i < a.B * a.N; i += threads) {
    const int64_t b = i / a.N, n = i % a.N;
    const T* x = a.x + ((a.x_per_net ? b * a.N : 0) + n) * a.net.d_in;
    pattern_lanes<1>(a.net, a.theta + b * a.net.n_params, x, 1, a.workspace + t, threads,
                     a.words + i * a.n_words, 1, a.n_words);
  }
}

template <typename T>
void pattern_cuda(const PatternArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.N == 0) return;
  CudaDeviceGuard guard(ctx.device_id);
  pattern_kernel<T><<<blocks_for(a.workspace_threads, kLaneCudaBlock), kLaneCudaBlock, 0, as_stream(ctx.stream)>>>(a);
  RS_CUDA_CHECK_LAUNCH();
}

template void pattern_cuda<float>(const PatternArgs<float>&, const DeviceContext&);
template void pattern_cuda<double>(const PatternArgs<double>&, const DeviceContext&);

}  // namespace rs
