// CUDA launcher of the batched forward pass: one thread per (network, sample) pair, grid-stride
// over B*N pairs with a fixed number of threads so the scratch workspace (threads x 2 max_width,
// allocated by the Python layer) stays bounded. Neighbouring threads share a network, so weight
// reads are broadcasts; scratch is interleaved across threads so its accesses coalesce.
#include "common/cuda_utils.cuh"
#include "common/error.h"
#include "model/forward.h"
#include "model/forward_math.h"

namespace rs {

template <typename T>
__global__ void forward_kernel(ForwardArgs<T> a) {
  const int64_t threads = a.workspace_threads;
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= threads) return;
  const NetSpec& net = a.net;
  for (int64_t i = t; i < a.B * a.N; i += threads) {
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
  constexpr int64_t kMaxBlocks = 1 << 20;
  RS_CHECK(a.workspace_threads <= kMaxBlocks * kLaneCudaBlock, "the CUDA forward workspace holds ",
           a.workspace_threads, " threads; at most ", kMaxBlocks * kLaneCudaBlock, " are launched");
  CudaDeviceGuard guard(ctx.device_id);
  forward_kernel<T><<<blocks_for(a.workspace_threads, kLaneCudaBlock, kMaxBlocks), kLaneCudaBlock, 0, as_stream(ctx.stream)>>>(a);
  RS_CUDA_CHECK_LAUNCH();
}

template void forward_cuda<float>(const ForwardArgs<float>&, const DeviceContext&);
template void forward_cuda<double>(const ForwardArgs<double>&, const DeviceContext&);

}  // namespace rs
