// Samples on a kink that moves with theta, over L lanes: the Hessian engine's flag
// (hessian_math.h).
//
// On a kink: some relu / leaky_relu pre-activation z is 0 to within the rounding of its own
// computation, |z^| <= e(z) below, so that the side of the kink the sample is on (and with it the
// loss's Hessian) is not determined — unless z is *fixed*: 0 for every theta nearby. A z_j =
// sum_k W_jk a_k + b_j is fixed exactly when the layer has no bias and every input a_k is 0 for
// every theta nearby (otherwise b_j, or some W_jk with a_k != 0 near theta, moves z_j; also with
// TMS's tied weights: W^T W x is a non-zero quadratic form in W unless x = 0). An activation is
// 0 for every theta nearby when its z is fixed and sigma(0) = 0, or when sigma is relu and z is
// certainly negative (z^ < -e(z)). The inputs are constants: 0 where x_k = 0. A kink of an earlier
// layer is flagged at that layer (its output then counts as moving).
//
// Rounding bound e (Higham, Accuracy and Stability, 3.1: a dot product of n terms in any order,
// with or without FMA, errs by at most gamma_n sum |terms|, gamma_n = n u / (1 - n u)): with
// n = fan-in + 1 (+ 3 in the NTK parameterisation: lane_sums multiplies the sum of theta_jk a_k
// by the computed 1/sqrt(fan-in), itself within 2u of the exact factor, and that product rounds
// once more before the bias is added) and
// inputs a^_k within e(a_k) of the exact a_k,
//   |z^_j - z_j| <= gamma_n (sum_k |W_jk| |a^_k| + |b_j|) + sum_k |W_jk| e(a_k)
//                <= gamma_n |b_j| + max_k |W_jk| sum_k (gamma_n |a^_k| + e(a_k));
// e(z_j) is twice the last line (the factor covers the second-order terms and the bound's own
// rounding). The max over the row makes it looser than the sum by max |W_j.| / mean |W_j.| (~4
// for dense random rows), a bound ~ 1e-13 of the pre-activation's scale in float64; the row
// maxima come once per (model, data chunk) from kink_row_max, so the bound costs O(1) per neuron
// and sample instead of a second matrix-vector product. e(sigma(z)) from act_error below. Exact
// zeros stay exact: a fixed z has e = 0.
#pragma once
#include <cstdint>
#include <limits>

#include "common/hostdevice.h"
#include "common/math_fn.h"
#include "common/value.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

// A bound on |sigma^(z^) - sigma(z)| given |z^ - z| <= e: the Lipschitz constant of sigma on
// [z^ - e, z^ + e] times e, plus sigma's own evaluation error (exact for relu and identity, one
// rounding for leaky_relu, at most 8 u max(1, |sigma|) assumed for the transcendental ones).
template <typename V>
RS_HD V act_error(int32_t act, V z, V e, scalar_of<V> slope) {
  using S = scalar_of<V>;
  constexpr S u = std::numeric_limits<S>::epsilon() / 2;
  const V az = abs_(z);
  switch (act) {
    case ACT_IDENTITY: return e;
    case ACT_RELU: return select_(z < -e, S(0), e);
    case ACT_LEAKY_RELU:
      return (abs_(slope) > S(1) ? abs_(slope) : S(1)) * e + u * abs_(slope) * az;
    case ACT_TANH: return e + S(8) * u;
    case ACT_SIGMOID: return S(0.25) * e + S(8) * u;
    case ACT_SOFTPLUS: return e + S(8) * u * (az + S(1));
    case ACT_ERF: return S(1.1283791670955126) * e + S(8) * u;  // 2/sqrt(pi)
    case ACT_QUADRATIC: return (S(2) * az + e) * e + S(2) * u * az * az;
    default: return e;
  }
}

// The per-element steps of KinkLanes below, for a value type V (common/value.h): one lane, or a
// host vector of lanes (the CPU's small-net path calls them directly).
// gamma_n of layer Ly's pre-activations (n = fan-in + 1, + 3 in the NTK parameterisation).
template <typename T>
RS_HD T kink_gamma(const LayerSpec& Ly) {
  constexpr T u = std::numeric_limits<T>::epsilon() / 2;
  const T n = T(Ly.in + 1 + (layer_scaled(Ly) ? 3 : 0));  // NTK: w_scale (2u), scaled sum (1)
  return n * u / (T(1) - n * u);
}

// 1 where the input x is 0, else 0 (in_zero is the product over a layer's inputs).
template <typename V>
RS_HD V kink_input_zero(V x) {
  using S = scalar_of<V>;
  return select_(x == S(0), S(1), S(0));
}

// An input's term of in_sum: gamma |a^| + e(a).
template <typename V>
RS_HD V kink_input_term(scalar_of<V> gamma, V a, V e) {
  return gamma * abs_(a) + e;
}

// Neuron step: z the pre-activation, e_z its bound, moving 0 where z is fixed (0 for all theta
// nearby), else 1; adds 1 to on_kink (a count) where a kink moves through z, multiplies out_zero
// by whether sigma(z) is 0 for all theta nearby, and returns the bound of sigma(z).
template <int ACT, typename V>
RS_HD V kink_neuron_step(V z, V e_z, V moving, scalar_of<V> slope, V& on_kink, V& out_zero) {
  using S = scalar_of<V>;
  constexpr bool kink = act_has_kink(ACT), relu = ACT == ACT_RELU;
  const bool zero_at_0 = act_value(int32_t(ACT), S(0), slope) == S(0);
  // The flags are 0/1 values combined by arithmetic, not conditional stores: GCC turned those
  // into branches around masked stores (the relu forward with flags ran 2x the one without).
  if (kink) on_kink += select_(abs_(z) <= e_z, moving, S(0));
  const V below = relu ? select_(z < -e_z, S(1), S(0)) : V{};
  const V zero = zero_at_0 ? select_(moving == S(0), S(1), below) : below;
  out_zero *= zero;
  return act_error(int32_t(ACT), z, e_z, slope);
}

// 1 for a sample on a moving kink (a count on_kink > 0) with a non-zero weight w, else 0.
template <typename V>
RS_HD V kink_flag(V on_kink, V w) {
  using S = scalar_of<V>;
  return select_(on_kink > S(1), S(1), on_kink) * select_(w != S(0), S(1), S(0));
}

// max_k |W_jk| of every neuron, layer after layer (neuron j of layer l at h_l + j, h_l the sum of
// the widths before l), into max(r)[0]: what KinkLanes::neuron reads. O(P).
template <typename T, typename Max>
RS_HD void kink_row_max(const NetSpec& net, const T* theta, Max&& max) {
  int32_t h = 0;
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& Ly = net.layer[l];
    for (int j = 0; j < Ly.out; ++j) {
      T m = T(0);
      for (int k = 0; k < Ly.in; ++k) {
        const T w = abs_(layer_weight(Ly, theta, j, k));
        m = w > m ? w : m;
      }
      max(h + j)[0] = m;
    }
    h += Ly.out;
  }
}

template <int L, typename T>
struct KinkLanes {
  T in_zero[L];   // 1 where every input of the current layer is 0 for all theta nearby
  T out_zero[L];  // the same for the current layer's outputs, so far
  T on_kink[L];   // how many pre-activations so far sit on a moving kink
  T in_sum[L];    // sum_k (gamma |a^_k| + e(a_k)) over the current layer's inputs
  T gamma = T(0);

  // The network's inputs: x(k) is input feature k over the lanes (exact: their e(k) rows are 0).
  template <typename X, typename E>
  RS_HD void start(int d_in, X&& x, E&& e) {
    RS_SIMD for (int i = 0; i < L; ++i) { in_zero[i] = T(1); on_kink[i] = T(0); }
    for (int k = 0; k < d_in; ++k) {
      const T* xk = x(k);
      T* ek = e(k);
      RS_SIMD for (int i = 0; i < L; ++i) {
        in_zero[i] *= kink_input_zero(xk[i]);
        ek[i] = T(0);
      }
    }
  }

  // Before layer Ly's neurons: a(k), e(k) its inputs and their bounds (the e rows are then free
  // for the bounds of the layer's outputs).
  template <typename A, typename E>
  RS_HD void begin_layer(const LayerSpec& Ly, A&& a, E&& e) {
    gamma = kink_gamma<T>(Ly);
    RS_SIMD for (int i = 0; i < L; ++i) { in_sum[i] = T(0); out_zero[i] = T(1); }
    for (int k = 0; k < Ly.in; ++k) {
      const T* ak = a(k);
      const T* ek = e(k);
      RS_SIMD for (int i = 0; i < L; ++i) in_sum[i] += kink_input_term(gamma, ak[i], ek[i]);
    }
  }

  // Neuron j of layer Ly, with activation ACT and w_max = max_k |W_jk| (kink_row_max): z its
  // pre-activation row (before sigma is applied); e receives the bound of sigma(z). ACT is a
  // compile-time constant so the activation's switch folds away and the lane loop vectorises.
  template <int ACT>
  RS_HD void neuron(const LayerSpec& Ly, const T* theta, int j, T w_max, const T* z, T* e,
                    T slope) {
    const bool bias = Ly.b_off >= 0;
    const T e_bias = bias ? gamma * abs_(theta[Ly.b_off + j]) : T(0);
    const T no_bias = bias ? T(0) : T(1);
    RS_SIMD for (int i = 0; i < L; ++i) {
      const T ei = T(2) * (w_max * in_sum[i] + e_bias);
      e[i] = kink_neuron_step<ACT>(z[i], ei, T(1) - no_bias * in_zero[i], slope, on_kink[i],
                                   out_zero[i]);
    }
  }

  RS_HD void end_layer() {
    RS_SIMD for (int i = 0; i < L; ++i) in_zero[i] = out_zero[i];
  }

  // 1 for the lanes on a moving kink with a non-zero sample weight w, else 0.
  RS_HD void flags(const T* w, T* out) const {
    RS_SIMD for (int i = 0; i < L; ++i) out[i] = kink_flag(on_kink[i], w[i]);
  }
};

}  // namespace rs
