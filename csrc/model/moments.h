// Per-layer moments of B deep networks' pre-activations at pairs of inputs (x_n, y_n), summed over
// each layer's neurons, without materialising the (B, N, layers, width) pre-activations:
// out[b, n, l, k] for the kMoments sums of moment_math.h. One forward pass per input.
#pragma once
#include <cstdint>

#include "common/device.h"
#include "model/net_spec.h"

namespace rs {

// sum_j over layer l's neurons of: z_x^2, z_y^2, z_x z_y, z_x^4, z_y^4, z_x^2 z_y^2.
inline constexpr int kMoments = 6;

template <typename T>
struct MomentArgs {
  NetSpec net;
  const T* theta = nullptr;  // (B, P)
  const T* xy = nullptr;     // (N, 2 d_in) or (B, N, 2 d_in) when x_per_net: x_n then y_n
  T* out = nullptr;          // (B, N, n_layers, kMoments)
  int64_t B = 0, N = 0;
  bool x_per_net = false;
  T* workspace = nullptr;    // CUDA only: (threads, 4 max_width) scratch
  int64_t workspace_threads = 0;
};
static_assert(sizeof(MomentArgs<double>) <= 4096,
              "MomentArgs must fit in a CUDA kernel's parameters");

// CUDA scratch values of a call: 0 on the CPU; threads x 4 max_width with threads <= B N,
// kLaneCudaMaxThreads and kLaneCudaWorkspaceBytes (model/forward.h's launch contract).
int64_t moment_workspace(const NetSpec& net, int64_t B, int64_t N, bool cuda, int64_t elem_size);

template <typename T>
void moments_cpu(const MomentArgs<T>& a);

template <typename T>
void moments_cuda(const MomentArgs<T>& a, const DeviceContext& ctx);

}  // namespace rs
