// Forward pass of one network on one sample, shared by the CPU and CUDA launchers.
// Cost O(P) multiply-adds; scratch: two ping-pong buffers of max_width values, element i of
// buffer h at buf[(h * max_width + i) * stride] (stride 1 on CPU, the thread count on CUDA so that
// neighbouring threads touch neighbouring addresses).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

// out[j * out_stride] = act(b_j + sum_k W(j,k) in[k * in_stride]) for the layer L.
template <typename T>
RS_HD void dense_layer(const LayerSpec& L, T slope, const T* theta, const T* in, int64_t in_stride,
                       T* out, int64_t out_stride) {
  for (int j = 0; j < L.out; ++j) {
    T z = L.b_off >= 0 ? theta[L.b_off + j] : T(0);
    for (int k = 0; k < L.in; ++k) z += layer_weight(L, theta, j, k) * in[k * in_stride];
    out[j * out_stride] = act_value(L.act, z, slope);
  }
}

// y[0 .. d_out) = network(theta; x[0 .. d_in)).
template <typename T>
RS_HD void forward_sample(const NetSpec& net, const T* theta, const T* x, T* y, T* buf,
                          int64_t stride) {
  const T slope = T(net.slope);
  const T* in = x;
  int64_t in_stride = 1;
  for (int l = 0; l < net.n_layers; ++l) {
    const bool last = l + 1 == net.n_layers;
    T* out = last ? y : buf + int64_t(l % 2) * net.max_width * stride;
    const int64_t out_stride = last ? 1 : stride;
    dense_layer(net.layer[l], slope, theta, in, in_stride, out, out_stride);
    in = out;
    in_stride = out_stride;
  }
}

}  // namespace rs
