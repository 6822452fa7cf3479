// CUDA launcher of count_1d: one thread per (network, segment) work item, grid-stride over the
// B*S items (common/launch.h) with at most `workspace_items` threads, each owning a FixedStore of
// `capacity` points in the workspace. An item whose points do not fit sets overflow[i] =
// SEGMENT_OVER_CAPACITY and leaves counts[i] invalid;
// the Python layer recounts those items on the CPU (never a silent truncation).
#include "common/cuda_utils.cuh"
#include "common/launch.h"
#include "regions/regions.h"
#include "regions/segment_math.h"

namespace rs {

template <typename T>
__global__ void segment_kernel(SegmentArgs<T> a, int64_t item_bytes, int64_t stride) {
  const int64_t tid = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (tid >= stride) return;
  const NetSpec& net = a.net;
  FixedStore<T> st(a.workspace + tid * item_bytes, net.max_width, a.capacity);
  for (int64_t i = tid; i < a.B * a.S; i += stride) {
    const int64_t b = i / a.S;
    const int64_t x_off = (a.x_per_net ? i : i % a.S) * net.d_in;
    int64_t n;
    int h;
    if (!segment_pieces(net, a.theta + b * net.n_params, a.xa + x_off, a.xb + x_off, st, n, h)) {
      a.overflow[i] = SEGMENT_OVER_CAPACITY;
      a.counts[i] = 0;
      continue;
    }
    T* out;
    int64_t room;
    const bool fits = breakpoint_slice(a, i, out, room);
    const int64_t count = segment_count(st, h, n, net.d_out, a.merge, out, room);
    const bool mismatch = a.bp_offsets != nullptr && (!fits || count != room + 1);
    a.overflow[i] = mismatch ? SEGMENT_OFFSETS_MISMATCH : SEGMENT_OK;
    a.counts[i] = count;
  }
}

template <typename T>
void segment_cuda(const SegmentArgs<T>& a, const DeviceContext& ctx) {
  if (a.B * a.S == 0) return;
  const GridStride g = segment_launch(a.B * a.S, a.workspace_items);
  const int64_t item_bytes = FixedStore<T>::bytes(a.net.max_width, a.capacity);
  CudaDeviceGuard guard(ctx.device_id);
  segment_kernel<T><<<unsigned(g.blocks), g.block, 0, as_stream(ctx.stream)>>>(a, item_bytes,
                                                                              g.stride);
  RS_CUDA_CHECK_LAUNCH();
}

template void segment_cuda<float>(const SegmentArgs<float>&, const DeviceContext&);
template void segment_cuda<double>(const SegmentArgs<double>&, const DeviceContext&);

}  // namespace rs
