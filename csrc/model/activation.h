// Activation functions with their first and second derivatives, per element, for both launchers.
// The enum is exported to Python as reluscope._core.Activation (names = the API's strings).
// Conventions at kinks follow torch autograd: relu'(0) = 0, leaky_relu'(0) = slope; softplus is
// torch's (beta 1, threshold 20).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "common/math_fn.h"

namespace rs {

enum Activation : int32_t {
  ACT_IDENTITY = 0,
  ACT_RELU = 1,
  ACT_LEAKY_RELU = 2,
  ACT_TANH = 3,
  ACT_SIGMOID = 4,
  ACT_SOFTPLUS = 5,
  ACT_ERF = 6,
  ACT_QUADRATIC = 7,
  ACT_COUNT  // one past the last activation: a new one is an entry above it and its math branches
};
inline constexpr int32_t kNumActivations = ACT_COUNT;

// Piecewise-linear activations: their networks are piecewise linear (the region counter takes only
// these) and their sigma'' is 0 wherever it is defined.
RS_HD constexpr bool act_piecewise_linear(int32_t act) {
  return act == ACT_IDENTITY || act == ACT_RELU || act == ACT_LEAKY_RELU;
}

// Activations with a kink at z = 0: each such neuron splits the input space (one activation-pattern
// bit per neuron).
RS_HD constexpr bool act_has_kink(int32_t act) { return act == ACT_RELU || act == ACT_LEAKY_RELU; }

RS_HD constexpr bool act_has_d2(int32_t act) { return !act_piecewise_linear(act); }

template <typename T>
RS_HD T act_value(int32_t act, T z, T slope) {
  switch (act) {
    case ACT_RELU: return z < T(0) ? T(0) : z;  // NaN propagates, as in torch
    case ACT_LEAKY_RELU: return z > T(0) ? z : slope * z;
    case ACT_TANH: return tanh_(z);
    case ACT_SIGMOID: return sigmoid_(z);
    case ACT_SOFTPLUS:  // log(1 + e^z) = max(z, 0) + log1p(e^{-|z|})
      return z > T(20) ? z : (z > T(0) ? z : T(0)) + log1p_unit_(exp_nonpositive_(-abs_(z)));
    case ACT_ERF: return erf_(z);
    case ACT_QUADRATIC: return z * z;
    default: return z;
  }
}

template <typename T>
RS_HD T act_d1(int32_t act, T z, T slope) {
  switch (act) {
    case ACT_RELU: return z > T(0) ? T(1) : T(0);
    case ACT_LEAKY_RELU: return z > T(0) ? T(1) : slope;
    case ACT_TANH: { T t = tanh_(z); return T(1) - t * t; }
    case ACT_SIGMOID: { T s = sigmoid_(z); return s * (T(1) - s); }
    case ACT_SOFTPLUS: return z > T(20) ? T(1) : sigmoid_(z);
    case ACT_ERF: return T(1.1283791670955126) * exp_nonpositive_(-z * z);  // 2/sqrt(pi)
    case ACT_QUADRATIC: return T(2) * z;
    default: return T(1);
  }
}

template <typename T>
RS_HD T act_d2(int32_t act, T z, T /*slope*/) {
  switch (act) {
    case ACT_TANH: { T t = tanh_(z); return T(-2) * t * (T(1) - t * t); }
    case ACT_SIGMOID: { T s = sigmoid_(z); return s * (T(1) - s) * (T(1) - T(2) * s); }
    case ACT_SOFTPLUS: { if (z > T(20)) return T(0); T s = sigmoid_(z); return s * (T(1) - s); }
    case ACT_ERF:  // -4/sqrt(pi) z e^{-z^2}
      return T(-2.2567583341910252) * z * exp_nonpositive_(-z * z);
    case ACT_QUADRATIC: return T(2);
    default: return T(0);  // identity, relu, leaky_relu: piecewise linear
  }
}

}  // namespace rs
