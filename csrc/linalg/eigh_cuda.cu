// CUDA launcher of the batched eigensolver: one thread per matrix, grid-stride over the B
// matrices, eigh_matrix with its scratch in global memory (the vectors output, or the workspace
// without vectors). O(n^3) per thread; simple rather than fast (uncoalesced row sweeps):
// reluscope.hessian.spectrum uses it on the CPU only until it is measured on a GPU.
#include "common/cuda_utils.cuh"
#include "common/launch.h"
#include "linalg/eigh.h"
#include "linalg/eigh_math.h"

namespace rs {

template <typename T>
__global__ void eigh_kernel(EighArgs<T> a, int64_t stride) {
  const int64_t t = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= stride) return;
  const int n = a.n;
  const int64_t nn = int64_t(n) * n;
  for (int64_t b = t; b < a.B; b += stride) {
    T* e = a.workspace + b * (a.vectors ? n : n + nn);
    if (a.vectors)
      eigh_matrix<true>(a.A + b * nn, a.vectors + b * nn, a.values + b * n, e, n);
    else
      eigh_matrix<false>(a.A + b * nn, e + n, a.values + b * n, e, n);
  }
}

template <typename T>
void eigh_cuda(const EighArgs<T>& a, const DeviceContext& ctx) {
  if (a.B == 0) return;
  const GridStride g = grid_stride(a.B, a.B, 128);
  CudaDeviceGuard guard(ctx.device_id);
  eigh_kernel<T><<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a, g.stride);
  RS_CUDA_CHECK_LAUNCH();
}

template void eigh_cuda<float>(const EighArgs<float>&, const DeviceContext&);
template void eigh_cuda<double>(const EighArgs<double>&, const DeviceContext&);

}  // namespace rs
