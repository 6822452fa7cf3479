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
// n = fan-in + 1 and inputs a^_k within e(a_k) of the exact a_k,
//   |z^_j - z_j| <= gamma_n (sum_k |W_jk| |a^_k| + |b_j|) + sum_k |W_jk| e(a_k);
// e(z_j) is twice that (the factor covers the second-order terms and the bound's own rounding).
// e(sigma(z)) from act_error below. Exact zeros stay exact: a fixed z has e = 0.
// Cost: one more pass of |W| over the layer's inputs per layer (the forward's own cost again),
// made only when the flags are asked for.
#pragma once
#include <cstdint>
#include <limits>

#include "common/hostdevice.h"
#include "common/math_fn.h"
#include "model/activation.h"
#include "model/lanes.h"
#include "model/net_spec.h"

namespace rs {

// A bound on |sigma^(z^) - sigma(z)| given |z^ - z| <= e: the Lipschitz constant of sigma on
// [z^ - e, z^ + e] times e, plus sigma's own evaluation error (exact for relu and identity, one
// rounding for leaky_relu, at most 8 u max(1, |sigma|) assumed for the transcendental ones).
template <typename T>
RS_HD T act_error(int32_t act, T z, T e, T slope) {
  constexpr T u = std::numeric_limits<T>::epsilon() / 2;
  const T az = abs_(z);
  switch (act) {
    case ACT_IDENTITY: return e;
    case ACT_RELU: return z < -e ? T(0) : e;
    case ACT_LEAKY_RELU:
      return (abs_(slope) > T(1) ? abs_(slope) : T(1)) * e + u * abs_(slope) * az;
    case ACT_TANH: return e + T(8) * u;
    case ACT_SIGMOID: return T(0.25) * e + T(8) * u;
    case ACT_SOFTPLUS: return e + T(8) * u * (az + T(1));
    case ACT_ERF: return T(1.1283791670955126) * e + T(8) * u;  // 2/sqrt(pi)
    case ACT_QUADRATIC: return (T(2) * az + e) * e + T(2) * u * az * az;
    default: return e;
  }
}

template <int L, typename T>
struct KinkLanes {
  T in_zero[L];   // 1 where every input of the current layer is 0 for all theta nearby
  T out_zero[L];  // the same for the current layer's outputs, so far
  T on_kink[L];   // 1 where some pre-activation so far sits on a moving kink

  // The network's inputs: x(k) is input feature k over the lanes (exact: e(k) rows set to 0).
  template <typename X, typename E>
  RS_HD void start(int d_in, X&& x, E&& e) {
    RS_SIMD for (int i = 0; i < L; ++i) { in_zero[i] = T(1); on_kink[i] = T(0); }
    for (int k = 0; k < d_in; ++k) {
      const T* xk = x(k);
      T* ek = e(k);
      RS_SIMD for (int i = 0; i < L; ++i) {
        in_zero[i] = xk[i] == T(0) ? in_zero[i] : T(0);
        ek[i] = T(0);
      }
    }
  }

  // Before layer Ly's neurons: a(k), e_in(k) its inputs and their bounds (e_in rows are used up);
  // e_out(j) receives the bound e(z_j) of each output's pre-activation.
  template <typename A, typename Ein, typename Eout>
  RS_HD void begin_layer(const LayerSpec& Ly, const T* theta, A&& a, Ein&& e_in, Eout&& e_out) {
    constexpr T u = std::numeric_limits<T>::epsilon() / 2;
    const T n = T(Ly.in + 1), gamma = n * u / (T(1) - n * u);
    for (int k = 0; k < Ly.in; ++k) {  // e_in <- gamma |a^| + e(a)
      const T* ak = a(k);
      T* ek = e_in(k);
      RS_SIMD for (int i = 0; i < L; ++i) ek[i] += gamma * abs_(ak[i]);
    }
    auto bias = [&](int j) {
      return Ly.b_off >= 0 ? T(2) * gamma * abs_(theta[Ly.b_off + j]) : T(0);
    };
    auto w = [&](int j, int k) { return T(2) * abs_(layer_weight(Ly, theta, j, k)); };
    auto m = [&](int k) { return static_cast<const T*>(e_in(k)); };
    lane_sums<L, T>(Ly.out, Ly.in, false, bias, w, m, w, m, [&](int j, const T* val) {
      T* ej = e_out(j);
      RS_SIMD for (int i = 0; i < L; ++i) ej[i] = val[i];
    });
    RS_SIMD for (int i = 0; i < L; ++i) out_zero[i] = T(1);
  }

  // One neuron: z its pre-activation row (before sigma is applied), e the row of its bound e(z),
  // which becomes the bound of sigma(z).
  RS_HD void neuron(int32_t act, bool has_bias, const T* z, T* e, T slope) {
    const bool kink = act_has_kink(act), relu = act == ACT_RELU;
    const bool zero_at_0 = act_value(act, T(0), slope) == T(0);
    for (int i = 0; i < L; ++i) {
      const bool fixed = !has_bias && in_zero[i] != T(0);
      on_kink[i] = kink && abs_(z[i]) <= e[i] && !fixed ? T(1) : on_kink[i];
      const bool zero = (fixed && zero_at_0) || (relu && z[i] < -e[i]);
      out_zero[i] = zero ? out_zero[i] : T(0);
      e[i] = act_error(act, z[i], e[i], slope);
    }
  }

  RS_HD void end_layer() {
    RS_SIMD for (int i = 0; i < L; ++i) in_zero[i] = out_zero[i];
  }

  // 1 for the lanes on a moving kink with a non-zero sample weight w, else 0.
  RS_HD void flags(const T* w, T* out) const {
    RS_SIMD for (int i = 0; i < L; ++i) out[i] = on_kink[i] != T(0) && w[i] != T(0) ? T(1) : T(0);
  }
};

}  // namespace rs
