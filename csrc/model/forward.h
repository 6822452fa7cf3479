// Batched forward pass: Y[b, n] = network(theta[b]; X[n] or X[b, n]) for B networks, N samples.
#pragma once
#include <cstdint>

#include "common/device.h"
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

template <typename T>
void forward_cpu(const ForwardArgs<T>& a);

template <typename T>
void forward_cuda(const ForwardArgs<T>& a, const DeviceContext& ctx);

}  // namespace rs
