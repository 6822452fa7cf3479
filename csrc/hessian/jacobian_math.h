// The per-sample arithmetic of the Jacobian kernel, shared by the CPU and CUDA launchers.
//
// jac_tile processes one tile of L samples of one network (L = kCpuLanes on the CPU, 1 on CUDA):
// the forward pass of the Hessian engine (dense_lanes, act_lanes_dispatch: a and sigma' kept), then
//   mode full: for each output o one backward pass from e_o, g_l = sigma'_l (W_{l+1}^T g_{l+1}),
//     handing d y_o / d W_jk = w_scale g_j a_k and d y_o / d b_j = g_j to st.add(o, slot, lanes)
//     (tied weights add into shared slots);
//   mode jvp: for each direction u_k one R-forward, Rz = w_scale (U a + W Ra) + u_b,
//     Ra = sigma' Rz, handing the outputs' Ra to st.set(o, k, lanes);
//   mode features: the same backward passes, handing each layer's input a^{l-1} and each
//     delta^l_o (rows, not their outer products) to st.feature(index, lanes).
// Cost per sample: O(P) forward + O(d_out P) (full, features) or O(K P) (jvp) multiply-adds.
// Scratch: rows of JacLayout, row r / lane i at s[r * stride + i].
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "hessian/hessian_math.h"
#include "hessian/jacobian.h"
#include "model/lanes.h"
#include "model/net_spec.h"

namespace rs {

// One tile of L samples of one network. The launcher has filled rows a[0].. (inputs). theta: this
// network's (P,); u: its (K, P) directions (mode jvp). Row stride NS when NS > 0 (compile-time,
// so the CPU lane loops vectorise), else ns.
template <int L, int NS, typename T, typename Store>
RS_HD void jac_tile(const JacArgs<T>& A, const T* theta, const T* u, T* s, int64_t ns, Store& st) {
  const NetSpec& net = A.net;
  const JacLayout& lay = A.lay;
  const int nl = net.n_layers;
  const int64_t stride = NS > 0 ? NS : ns;
  const T slope = T(net.slope);
  auto row = [&](int64_t r) { return s + r * stride; };
  auto block = [&](int l) { return row(lay.g + (l % 2) * net.max_width); };  // ping-pong
  auto zero = [](int) { return T(0); };

  for (int l = 0; l < nl; ++l) {  // forward: a[l+1] = sigma(W a[l] + b), sigma' kept
    const LayerSpec& Ly = net.layer[l];
    dense_lanes<L>(Ly, theta, row(lay.a[l]), stride, row(lay.a[l + 1]), stride,
                   [&](int j, T* z) {
                     act_lanes_dispatch<L>(Ly.act, z, row(lay.d1[l] + j), row(lay.d2), slope);
                   });
  }
  // r <- sigma'(layer l, unit j) val (the identity's sigma' rows are not written: 1)
  auto times_d1 = [&](int l, int j, const T* val, T* r) {
    if (net.layer[l].act == ACT_IDENTITY) {
      RS_SIMD for (int i = 0; i < L; ++i) r[i] = val[i];
    } else {
      const T* d1 = row(lay.d1[l] + j);
      RS_SIMD for (int i = 0; i < L; ++i) r[i] = d1[i] * val[i];
    }
  };

  if (A.mode == JAC_JVP) {
    const int64_t P = net.n_params;
    for (int64_t kv = 0; kv < A.K; ++kv) {
      const T* uk = u + kv * P;
      for (int l = 0; l < nl; ++l) {
        const LayerSpec& Ly = net.layer[l];
        T* cur = block(l);
        const T* prev = block(l + 1);  // layer l - 1's Ra (read only when l > 0)
        auto ub = [&](int j) { return Ly.b_off >= 0 ? uk[Ly.b_off + j] : T(0); };
        auto uw = [&](int j, int k) { return layer_theta(Ly, uk, j, k); };
        auto a_in = [&](int k) { return static_cast<const T*>(row(lay.a[l] + k)); };
        auto w = [&](int j, int k) { return layer_theta(Ly, theta, j, k); };
        auto r_in = [&](int k) { return prev + k * stride; };
        lane_sums<L, T>(Ly.out, Ly.in, l > 0, T(Ly.w_scale), ub, uw, a_in, w, r_in,
                        [&](int j, const T* val) { times_d1(l, j, val, cur + j * stride); });
      }
      const T* ra = block(nl - 1);
      for (int o = 0; o < net.d_out; ++o) st.set(o, kv, ra + o * stride);
    }
    return;
  }

  const bool features = A.mode == JAC_FEATURES;
  if (features) {
    for (int l = 0; l < nl; ++l) {
      const int64_t off = jac_feature_offset(net, l);
      for (int k = 0; k < net.layer[l].in; ++k) st.feature(off + k, row(lay.a[l] + k));
    }
  }
  for (int o = 0; o < net.d_out; ++o) {
    {  // g of the output layer: e_o sigma'
      T* g = block(nl - 1);
      T one[L];
      RS_SIMD for (int i = 0; i < L; ++i) one[i] = T(1);
      for (int j = 0; j < net.layer[nl - 1].out; ++j) {
        T* gj = g + j * stride;
        if (j == o) {
          times_d1(nl - 1, j, one, gj);
        } else {
          RS_SIMD for (int i = 0; i < L; ++i) gj[i] = T(0);
        }
      }
    }
    for (int l = nl - 1; l >= 0; --l) {
      const LayerSpec& Ly = net.layer[l];
      const T* cur = block(l);
      const T sc = T(Ly.w_scale);
      if (features) {
        const int64_t off = jac_feature_offset(net, l) + Ly.in + int64_t(o) * Ly.out;
        for (int j = 0; j < Ly.out; ++j) st.feature(off + j, cur + j * stride);
      }
      for (int j = 0; j < Ly.out && !features; ++j) {
        const T* gj = cur + j * stride;
        for (int k = 0; k < Ly.in; ++k) {
          const T* in = row(lay.a[l] + k);
          T val[L];
          RS_SIMD for (int i = 0; i < L; ++i) val[i] = gj[i] * in[i];
          if (layer_scaled(Ly)) {
            RS_SIMD for (int i = 0; i < L; ++i) val[i] *= sc;
          }
          st.add(o, layer_weight_index(Ly, j, k), val);
        }
        if (Ly.b_off >= 0) st.add(o, Ly.b_off + j, gj);
      }
      if (l > 0) {  // g_{l-1} = sigma'_{l-1} (W^T g_l)
        T* nxt = block(l - 1);
        auto wt = [&](int k, int j) { return layer_theta(Ly, theta, j, k); };
        auto gr = [&](int j) { return cur + j * stride; };
        lane_sums<L, T>(Ly.in, Ly.out, false, T(Ly.w_scale), zero, wt, gr, wt, gr,
                        [&](int k, const T* val) { times_d1(l - 1, k, val, nxt + k * stride); });
      }
    }
  }
}

}  // namespace rs
