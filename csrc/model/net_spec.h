// NetSpec: one description of a batch-of-networks architecture that every kernel reads.
// A network is a stack of dense layers z = W a + b, a' = act(z). Layer l reads its weight matrix
// from theta[w_off ...] (row-major out x in, or — when `transposed` — the stored in x out matrix
// read transposed, which is how TMS ties W and W^T), its bias from theta[b_off ...] (b_off < 0: no
// bias), and applies its own activation (an MLP's last layer is identity, TMS's is relu).
// Plain data, passed by value to CUDA kernels (kernel parameter space, 4 KiB).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"

namespace rs {

inline constexpr int kMaxLayers = 64;

struct LayerSpec {
  int64_t w_off = 0;
  int64_t b_off = -1;
  int32_t in = 0;
  int32_t out = 0;
  int32_t transposed = 0;
  int32_t act = 0;
};

struct NetSpec {
  int32_t n_layers = 0;
  int32_t d_in = 0;
  int32_t d_out = 0;
  int32_t max_width = 0;   // largest layer width, input and output included
  int64_t n_params = 0;    // P: length of one network's theta row
  double slope = 0.01;     // negative slope of leaky_relu
  LayerSpec layer[kMaxLayers];
};

// W(j, k): weight from input k to output j of layer L.
template <typename T>
RS_HD T layer_weight(const LayerSpec& L, const T* theta, int j, int k) {
  return L.transposed ? theta[L.w_off + int64_t(k) * L.out + j]
                      : theta[L.w_off + int64_t(j) * L.in + k];
}

// Index into theta of W(j, k); used by kernels that write gradients (tied weights accumulate).
RS_HD int64_t layer_weight_index(const LayerSpec& L, int j, int k) {
  return L.transposed ? L.w_off + int64_t(k) * L.out + j : L.w_off + int64_t(j) * L.in + k;
}

}  // namespace rs
