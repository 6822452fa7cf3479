// Lane loops: the building blocks that run the same per-sample arithmetic over L samples at once
// (structure of arrays: value of row r for lane i at row_ptr[i]). The CPU launchers use L = tens
// of lanes so the loops vectorise; CUDA kernels use L = 1 (one thread per sample).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

template <int32_t A>
struct ActTag {
  static constexpr int32_t value = A;
};

// Calls f(ActTag<act>{}) so lane loops can take the activation as a compile-time constant (the
// switch inside act_value & co. then folds away and the loop vectorises).
template <typename F>
RS_HD void with_activation(int32_t act, F&& f) {
  switch (act) {
    case ACT_RELU: f(ActTag<ACT_RELU>{}); break;
    case ACT_LEAKY_RELU: f(ActTag<ACT_LEAKY_RELU>{}); break;
    case ACT_TANH: f(ActTag<ACT_TANH>{}); break;
    case ACT_SIGMOID: f(ActTag<ACT_SIGMOID>{}); break;
    case ACT_SOFTPLUS: f(ActTag<ACT_SOFTPLUS>{}); break;
    case ACT_ERF: f(ActTag<ACT_ERF>{}); break;
    case ACT_QUADRATIC: f(ActTag<ACT_QUADRATIC>{}); break;
    default: f(ActTag<ACT_IDENTITY>{}); break;
  }
}

// z row <- act(z row), in place over L lanes.
template <int L, typename T>
RS_HD void act_value_lanes(int32_t act, T* z, T slope) {
  with_activation(act, [&](auto tag) {
    RS_SIMD for (int i = 0; i < L; ++i) z[i] = act_value(decltype(tag)::value, z[i], slope);
  });
}

// The affine part of one dense layer over L lanes, then finish(j, z) on each output row z:
// z[i] = b_j + sum_k W(j, k) in[k * in_stride + i], z = out + j * out_stride. O(in * out * L).
template <int L, typename T, typename Finish>
RS_HD void dense_lanes(const LayerSpec& Ly, const T* theta, const T* in, int64_t in_stride, T* out,
                       int64_t out_stride, Finish&& finish) {
  T val[L];
  for (int j = 0; j < Ly.out; ++j) {
    const T bj = Ly.b_off >= 0 ? theta[Ly.b_off + j] : T(0);
    RS_SIMD for (int i = 0; i < L; ++i) val[i] = bj;
    for (int k = 0; k < Ly.in; ++k) {
      const T wjk = layer_weight(Ly, theta, j, k);
      const T* r = in + k * in_stride;
      RS_SIMD for (int i = 0; i < L; ++i) val[i] += wjk * r[i];
    }
    T* z = out + j * out_stride;
    RS_SIMD for (int i = 0; i < L; ++i) z[i] = val[i];
    finish(j, z);
  }
}

}  // namespace rs
