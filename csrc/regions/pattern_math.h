// Activation pattern of one network at one sample, packed into 64-bit words: bit k (over the
// hidden neurons of the piecewise-linear layers, in layer order) is set iff that neuron's
// pre-activation is > 0. Layers whose activation does not split (identity) contribute no bits.
// Cost O(P) multiply-adds; scratch two max_width buffers at buf[(h * max_width + i) * stride].
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/activation.h"
#include "model/net_spec.h"
#include "regions/segment_math.h"

namespace rs {

template <typename T>
RS_HD void pattern_sample(const NetSpec& net, const T* theta, const T* x, int64_t* words,
                          int n_words, T* buf, int64_t stride) {
  for (int w = 0; w < n_words; ++w) words[w] = 0;
  const T slope = T(net.slope);
  const T* in = x;
  int64_t in_stride = 1;
  int64_t bit = 0;
  for (int l = 0; l + 1 < net.n_layers; ++l) {  // the output layer has no pattern
    const LayerSpec& L = net.layer[l];
    T* out = buf + int64_t(l % 2) * net.max_width * stride;
    for (int j = 0; j < L.out; ++j) {
      T z = L.b_off >= 0 ? theta[L.b_off + j] : T(0);
      for (int k = 0; k < L.in; ++k) z += layer_weight(L, theta, j, k) * in[k * in_stride];
      if (splits(L.act)) {
        if (z > T(0)) words[bit >> 6] |= int64_t(uint64_t(1) << (bit & 63));
        ++bit;
      }
      out[j * stride] = act_value(L.act, z, slope);
    }
    in = out;
    in_stride = stride;
  }
}

}  // namespace rs
