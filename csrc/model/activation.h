// Activation functions with their first and second derivatives, per element, for both launchers.
// The enum is exported to Python as reluscope._core.Activation (names = the API's strings).
// Conventions at kinks follow torch autograd: relu'(0) = 0, leaky_relu'(0) = slope; softplus is
// torch's (beta 1, threshold 20).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "common/math_fn.h"
#include "common/value.h"

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

// sigma(z), sigma'(z), sigma''(z) for a value type V (common/value.h): a scalar, or on the host a
// vector of them lane by lane.
template <typename V>
RS_HD V act_value(int32_t act, V z, scalar_of<V> slope) {
  using S = scalar_of<V>;
  switch (act) {
    case ACT_RELU: return select_(z < S(0), S(0), z);  // NaN propagates, as in torch
    case ACT_LEAKY_RELU: return select_(z > S(0), z, slope * z);
    case ACT_TANH: return tanh_(z);
    case ACT_SIGMOID: return sigmoid_(z);
    case ACT_SOFTPLUS:  // log(1 + e^z) = max(z, 0) + log1p(e^{-|z|})
      return select_(z > S(20), z,
                     select_(z > S(0), z, S(0)) + log1p_unit_(exp_nonpositive_(-abs_(z))));
    case ACT_ERF: return erf_(z);
    case ACT_QUADRATIC: return z * z;
    default: return z;
  }
}

template <typename V>
RS_HD V act_d1(int32_t act, V z, scalar_of<V> slope) {
  using S = scalar_of<V>;
  switch (act) {
    case ACT_RELU: return select_(z > S(0), S(1), S(0));
    case ACT_LEAKY_RELU: return select_(z > S(0), S(1), slope);
    case ACT_TANH: { const V t = tanh_(z); return S(1) - t * t; }
    case ACT_SIGMOID: { const V s = sigmoid_(z); return s * (S(1) - s); }
    case ACT_SOFTPLUS: return select_(z > S(20), S(1), sigmoid_(z));
    case ACT_ERF: return S(1.1283791670955126) * exp_nonpositive_(-z * z);  // 2/sqrt(pi)
    case ACT_QUADRATIC: return S(2) * z;
    default: return S(1) - V{};
  }
}

template <typename V>
RS_HD V act_d2(int32_t act, V z, scalar_of<V> /*slope*/) {
  using S = scalar_of<V>;
  switch (act) {
    case ACT_TANH: { const V t = tanh_(z); return S(-2) * t * (S(1) - t * t); }
    case ACT_SIGMOID: { const V s = sigmoid_(z); return s * (S(1) - s) * (S(1) - S(2) * s); }
    case ACT_SOFTPLUS: { const V s = sigmoid_(z); return select_(z > S(20), S(0), s * (S(1) - s)); }
    case ACT_ERF:  // -4/sqrt(pi) z e^{-z^2}
      return S(-2.2567583341910252) * z * exp_nonpositive_(-z * z);
    case ACT_QUADRATIC: return S(2) - V{};
    default: return V{};  // identity, relu, leaky_relu: piecewise linear
  }
}

}  // namespace rs
