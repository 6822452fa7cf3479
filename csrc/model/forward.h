// Batched forward pass: Y[b, n] = network(theta[b]; X[n] or X[b, n]) for B networks, N samples.
#pragma once
#include <cstdint>

#include "common/device.h"
#include "common/launch.h"
#include "model/net_spec.h"

namespace rs {

template <typename T>
struct ForwardArgs {
  NetSpec net;
  const T* theta = nullptr;  // (B, P)
  const T* x = nullptr;      // (N, d_in) shared, or (B, N, d_in) when x_per_net
  T* y = nullptr;            // (B, N, d_out)
  int64_t B = 0, N = 0;
  bool x_per_net = false;
  T* workspace = nullptr;    // CUDA only: (threads, 2 * max_width) scratch
  int64_t workspace_threads = 0;
};
// Passed by value to the CUDA kernel, whose parameters may hold at most 4 KB.
static_assert(sizeof(ForwardArgs<double>) <= 4096,
              "ForwardArgs must fit in a CUDA kernel's parameters");

// Launch contract of the sample-parallel CUDA kernels (forward and activation patterns): one
// thread per (network, sample) pair, grid-stride over the pairs with a bounded number of threads,
// each owning 2 max_width scratch values; the scratch is allocated by the Python layer as the
// plan says.
inline constexpr int kLaneCudaBlock = 128;
inline constexpr int64_t kLaneCudaMaxThreads = int64_t(1) << 18;
inline constexpr int64_t kLaneCudaWorkspaceBytes = int64_t(1) << 30;

// Scratch values (of elem_size bytes) a sample-parallel kernel needs for `items` pairs: 0 on the
// CPU; on CUDA threads x 2 max_width with threads <= items, kLaneCudaMaxThreads and the byte budget
// (max_bytes, or kLaneCudaWorkspaceBytes when max_bytes < 0; at least one thread).
int64_t lane_workspace(const NetSpec& net, int64_t items, bool cuda, int64_t elem_size,
                       int64_t max_bytes = -1);

// Threads a lane workspace of `values` scratch values serves.
inline int64_t lane_workspace_threads(const NetSpec& net, int64_t values) {
  return values / (2 * int64_t(net.max_width));
}

// The launch of a sample-parallel kernel over `items` pairs with `workers` scratch slots.
inline GridStride lane_launch(int64_t items, int64_t workers) {
  return grid_stride(items, workers, kLaneCudaBlock);
}

template <typename T>
void forward_cpu(const ForwardArgs<T>& a);

template <typename T>
void forward_cuda(const ForwardArgs<T>& a, const DeviceContext& ctx);

}  // namespace rs
