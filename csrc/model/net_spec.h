// NetSpec: one description of a batch-of-networks architecture that every kernel reads.
// A network is a stack of dense layers z = W a + b, a' = act(z). Layer l reads its weight matrix
// from theta[w_off ...] (row-major out x in, or — when `transposed` — the stored in x out matrix
// read transposed, which is how TMS ties W and W^T), its bias from theta[b_off ...] (b_off < 0: no
// bias), and applies its own activation (an MLP's last layer is identity, TMS's is relu). A layer of
// the NTK parameterisation reads its weights times w_scale = 1/sqrt(in): z = W a / sqrt(in) + b
// (layer_weight applies it; the weight slots of a gradient get the same factor).
// Plain data, passed by value to CUDA kernels (kernel parameter space, 4 KiB).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/activation.h"

namespace rs {

inline constexpr int kMaxLayers = 64;

struct LayerSpec {
  int64_t w_off = 0;
  int64_t b_off = -1;
  int32_t in = 0;
  int32_t out = 0;
  int32_t w_sj = 0;  // theta stride of W(j, k) in j: `in`, or 1 when transposed
  int32_t w_sk = 0;  // ... and in k: 1, or `out` when transposed
  int32_t act = 0;
  double w_scale = 1.0;  // 1, or 1/sqrt(in) in the NTK parameterisation
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
// CUDA kernels take NetSpec inside their argument structs, by value (4 KiB of parameters).
static_assert(sizeof(NetSpec) <= 3200, "NetSpec must leave room in a CUDA kernel's parameters");

// Index into theta of W(j, k), the weight from input k to output j of layer L (strides, not a
// branch on `transposed`, so the lane loops around it stay simple); tied weights accumulate.
RS_HD int64_t layer_weight_index(const LayerSpec& L, int j, int k) {
  return L.w_off + int64_t(j) * L.w_sj + int64_t(k) * L.w_sk;
}

// theta's entry of W(j, k), before w_scale: what lane_sums takes, scaling each sum once.
template <typename T>
RS_HD T layer_theta(const LayerSpec& L, const T* theta, int j, int k) {
  return theta[layer_weight_index(L, j, k)];
}

// The weight W(j, k) as the layer applies it: theta's entry times w_scale (a product with 1 is
// exact, so the standard parameterisation keeps its bits).
template <typename T>
RS_HD T layer_weight(const LayerSpec& L, const T* theta, int j, int k) {
  return layer_theta(L, theta, j, k) * T(L.w_scale);
}

// Whether a layer scales its weights (the NTK parameterisation).
RS_HD bool layer_scaled(const LayerSpec& L) { return L.w_scale != 1.0; }

// Activation patterns (region counter): one bit per neuron of every hidden layer whose activation
// has a kink, in layer order, packed into 64-bit words (at least one word).
inline int64_t pattern_bits(const NetSpec& net) {
  int64_t bits = 0;
  for (int l = 0; l + 1 < net.n_layers; ++l)
    if (act_has_kink(net.layer[l].act)) bits += net.layer[l].out;
  return bits;
}

inline int32_t pattern_words(const NetSpec& net) {
  const int64_t words = (pattern_bits(net) + 63) / 64;
  return words > 0 ? int32_t(words) : 1;
}

}  // namespace rs
