// Activation patterns of one network at L samples (lanes), packed into 64-bit words: bit k (over
// the hidden neurons of the piecewise-linear layers, in layer order) is set iff that neuron's
// pre-activation is > 0. Layers whose activation does not split (identity) contribute no bits.
// Word w of lane i goes to words[w * words_stride + i]. The forward pass is forward_lanes's (same
// arguments); cost O(P L) multiply-adds.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/forward_math.h"
#include "model/lanes.h"
#include "model/net_spec.h"

namespace rs {

template <int L, typename T>
RS_HD void pattern_lanes(const NetSpec& net, const T* theta, const T* in, int64_t in_stride,
                         T* buf, int64_t stride, int64_t* words, int64_t words_stride,
                         int n_words) {
  for (int w = 0; w < n_words; ++w) {
    int64_t* wr = words + w * words_stride;
    RS_SIMD for (int i = 0; i < L; ++i) wr[i] = 0;
  }
  int64_t bit = 0;
  forward_lanes<L>(net, theta, in, in_stride, buf, stride, [&](int l, int, const T* z) {
    if (l + 1 == net.n_layers || !act_has_kink(net.layer[l].act)) return;  // the output has no pattern
    int64_t* wr = words + (bit >> 6) * words_stride;
    const int shift = int(bit & 63);
    RS_SIMD for (int i = 0; i < L; ++i) wr[i] |= int64_t(uint64_t(z[i] > T(0)) << shift);
    ++bit;
  });
}

}  // namespace rs
