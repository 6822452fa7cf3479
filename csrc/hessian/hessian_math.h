// The fused per-sample arithmetic of the Hessian engine, shared by the CPU and CUDA launchers.
//
// hess_tile processes one tile of L samples of one network (L = kCpuLanes on the CPU so the lane
// loops vectorise; L = 1 on CUDA, one thread per sample): forward pass (storing a, sigma', sigma'';
// when A.kinks, flagging samples on a kink that moves with theta, model/kink_math.h), loss,
// backward pass (delta_l, g_l sigma''), then for each of K directions v a Pearlmutter
// R-forward (Rz, Ra) and R-backward, accumulating into theta-index slots with
// acc.add(slot, lane values) (the unit directions of a full Hessian instead share one pass per
// neuron: hessian_unit_math.h; the per-neuron R steps of both: r_pass_math.h). Tied weights
// (TMS's W and W^T) need no special case: both layers add into the same slots. A layer of the
// NTK parameterisation (w_scale != 1, net_spec.h) reads its weights scaled and scales what it
// adds into its weight slots.
// Gauss-Newton mode drops the sigma'' term and the residual cross terms (V^T delta, delta Ra^T),
// i.e. computes J^T (d2l/dy2) J v. The loss l and its derivatives in y: loss_math.h. In mode grad
// with A.dx set, the tile also hands each sample's input gradient to
// acc.store_input_grad(k, lanes).
// Cost per sample: O(P) forward + O(P) backward + O(K P).
// Scratch: rows of HessLayout, row r / lane i at s[r * ns + i].
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "hessian/hessian.h"
#include "hessian/hessian_unit_math.h"
#include "hessian/r_pass_math.h"
#include "model/activation.h"
#include "model/kink_math.h"
#include "model/lanes.h"
#include "model/net_spec.h"

namespace rs {

// a = sigma(z), d1 = sigma'(z), d2 = sigma''(z), sharing the transcendental where possible; V a
// scalar or a host vector (common/value.h).
template <typename V>
RS_HD void act_all(int32_t act, V z, scalar_of<V> slope, V& a, V& d1, V& d2) {
  using S = scalar_of<V>;
  if (act == ACT_SIGMOID) {
    const V s = sigmoid_(z);
    a = s; d1 = s * (S(1) - s); d2 = d1 * (S(1) - S(2) * s);
  } else if (act == ACT_TANH) {
    const V t = tanh_(z);
    a = t; d1 = S(1) - t * t; d2 = S(-2) * t * d1;
  } else {
    a = act_value(act, z, slope); d1 = act_d1(act, z, slope); d2 = act_d2(act, z, slope);
  }
}

// In place over L lanes: z -> sigma(z); d1, d2 <- sigma', sigma'' (d2 is left unwritten when
// !act_has_d2, and both for the identity: nothing reads them then). ACT is a compile-time
// constant so the activation switch folds away and the lane loop can vectorise.
template <int ACT, int L, typename T>
RS_HD void act_lanes(T* z, T* d1, T* d2, T slope) {
  if (ACT != ACT_IDENTITY) {
    RS_SIMD for (int i = 0; i < L; ++i) {
      T a, g1, g2;
      act_all(int32_t(ACT), z[i], slope, a, g1, g2);
      z[i] = a; d1[i] = g1;
      if (act_has_d2(ACT)) d2[i] = g2;
    }
  }
}

template <int L, typename T>
RS_HD void act_lanes_dispatch(int32_t act, T* z, T* d1, T* d2, T slope) {
  with_activation(act, [&](auto tag) { act_lanes<decltype(tag)::value, L>(z, d1, d2, slope); });
}

// Whether acc.add_outer takes a layer's weight slots: unscaled, row-major (slot of W(j, k) at
// w_off + j w_sj + k) and at least kMinBlockedSum inputs wide.
RS_HD bool outer_layer(const LayerSpec& Ly) {
  return !layer_scaled(Ly) && Ly.w_sk == 1 && Ly.in >= kMinBlockedSum;
}

// One tile of L samples of one network (UNIT, at compile time: the unit directions of a full
// Hessian). The launcher has filled rows w_row (sample weights, 0 for padding lanes), t_row..
// (targets) and a[0].. (inputs), and when A.kinks lane 0 of the kink_max rows (kink_row_max,
// once per network and data chunk). theta, v: this network's (P,), (K, P).
// Row stride: NS when NS > 0 (a compile-time constant lets the CPU lane loops vectorise), else ns.
// The matrix-vector sums of each layer run through lane_sums (register blocks); values to
// accumulate are handed to acc.add(slot, values[L]), a weight's lane products a b (+ c d) to
// acc.add_products(slot, a, b, c, d, two), which sums them without storing them first, and the
// outer products of a whole layer (outer_layer) to acc.add_outer.
template <int L, int NS, bool UNIT, typename T, typename Acc>
RS_HD void hess_tile(const HessArgs<T>& A, const T* theta, const T* v, T* s, int64_t ns,
                     Acc& acc) {
  const NetSpec& net = A.net;
  const HessLayout& lay = A.lay;
  const int nl = net.n_layers;
  const int64_t P = net.n_params;
  const int64_t stride = NS > 0 ? NS : ns;
  const T slope = T(net.slope);
  auto row = [&](int64_t r) { return s + r * stride; };
  auto zero = [](int) { return T(0); };
  const T* w = row(lay.w_row);

  // ---- forward: a[l+1] = sigma(W a[l] + b), keeping sigma' and sigma'' (and the kink flags,
  // when asked for, with the rounding bounds of the current layer's values in the err rows; none
  // after the last kinked layer, where nothing reads them)
  KinkLanes<L, T> kinks;
  auto err = [&](int k) { return row(lay.err + k); };
  int last_kinked = -1;
  for (int l = 0; l < nl; ++l)
    if (act_has_kink(net.layer[l].act)) last_kinked = l;
  if (A.kinks)
    kinks.start(net.d_in, [&](int k) { return static_cast<const T*>(row(lay.a[0] + k)); }, err);
  for (int l = 0; l < nl; ++l) {
    const LayerSpec& Ly = net.layer[l];
    const bool bound = A.kinks && l <= last_kinked;
    if (bound)
      kinks.begin_layer(Ly, [&](int k) { return static_cast<const T*>(row(lay.a[l] + k)); },
                        [&](int k) { return static_cast<const T*>(err(k)); });
    dense_lanes<L>(Ly, theta, row(lay.a[l]), stride, row(lay.a[l + 1]), stride,
                   [&](int j, T* z) {
                     if (bound)
                       with_activation(Ly.act, [&](auto tag) {
                         const T w_max = row(lay.kink_max + lay.h[l] + j)[0];
                         kinks.template neuron<decltype(tag)::value>(Ly, theta, j, w_max, z,
                                                                     err(j), slope);
                       });
                     act_lanes_dispatch<L>(Ly.act, z, row(lay.d1 + lay.h[l] + j),
                                           row(lay.d2 + lay.h[l] + j), slope);
                   });
    if (bound) kinks.end_layer();
  }
  if (A.kinks) {
    T on_kink[L];
    kinks.flags(w, on_kink);
    acc.add(kHessKinkSlot, on_kink);
  }

  // ---- loss, dL/dy into the del rows of the last layer, the loss's curvature rows
  const int64_t gbase = kHessHeaderSlots, hbase = kHessHeaderSlots + A.grad_len();
  const int32_t out_h = lay.h[nl - 1];
  auto out_row = [&](int j) { return row(lay.a[nl] + j); };
  auto t_row = [&](int j) { return row(lay.t_row + j); };
  auto g_row = [&](int j) { return row(lay.del + out_h + j); };
  auto curv_row = [&](int j) { return row(lay.curv + j); };
  T loss[L];
  RS_SIMD for (int i = 0; i < L; ++i) loss[i] = T(0);
  loss_lanes<L, T>(A.loss, net.d_out, A.imp, out_row, t_row, w, g_row, curv_row, row(lay.ws),
                   loss);
  acc.add(kHessLossSlot, loss);
  if (A.mode == HESS_LOSS) return;
  const bool full = A.mode != HESS_GNVP;

  // ---- backward: del = g sigma' (delta), gd2 = g sigma''; gradient when asked for
  if (full) {
    for (int l = nl - 1; l >= 0; --l) {
      const LayerSpec& Ly = net.layer[l];
      const int32_t h = lay.h[l];
      for (int j = 0; j < Ly.out; ++j) {
        T* g = row(lay.del + h + j);
        const T* d1 = row(lay.d1 + h + j);
        const T* d2 = row(lay.d2 + h + j);
        T* gd2 = row(lay.gd2 + h + j);
        if (act_has_d2(Ly.act)) {
          RS_SIMD for (int i = 0; i < L; ++i) { gd2[i] = g[i] * d2[i]; g[i] *= d1[i]; }
        } else if (Ly.act != ACT_IDENTITY) {
          RS_SIMD for (int i = 0; i < L; ++i) g[i] *= d1[i];
        }
      }
      if (A.mode == HESS_GRAD) {
        const T sc = T(Ly.w_scale);  // d z / d theta_W = w_scale a
        const bool outer = outer_layer(Ly);
        if (outer)
          acc.add_outer(gbase + Ly.w_off, Ly.w_sj, Ly.out, Ly.in, row(lay.del + h),
                        row(lay.a[l]), row(lay.del + h), row(lay.a[l]), stride, false);
        for (int j = 0; j < Ly.out; ++j) {
          const T* dj = row(lay.del + h + j);
          for (int k = 0; !outer && k < Ly.in; ++k) {
            const T* in = row(lay.a[l] + k);
            T val[L];
            RS_SIMD for (int i = 0; i < L; ++i) val[i] = dj[i] * in[i];
            if (layer_scaled(Ly)) {
              RS_SIMD for (int i = 0; i < L; ++i) val[i] *= sc;
            }
            acc.add(gbase + layer_weight_index(Ly, j, k), val);
          }
          if (Ly.b_off >= 0) acc.add(gbase + Ly.b_off + j, dj);
        }
      }
      // g_prev = W^T delta; for the first layer, the input gradients (when asked for)
      auto wt = [&](int k, int j) { return layer_theta(Ly, theta, j, k); };
      auto del = [&](int j) { return row(lay.del + h + j); };
      if (l > 0) {
        lane_sums<L, T>(Ly.in, Ly.out, false, T(Ly.w_scale), zero, wt, del, wt, del,
                        [&](int k, const T* val) {
          T* gp = row(lay.del + lay.h[l - 1] + k);
          RS_SIMD for (int i = 0; i < L; ++i) gp[i] = val[i];
        });
      } else if (A.mode == HESS_GRAD && A.dx != nullptr) {
        lane_sums<L, T>(Ly.in, Ly.out, false, T(Ly.w_scale), zero, wt, del, wt, del,
                        [&](int k, const T* val) { acc.store_input_grad(k, val); });
      }
    }
  }

  // ---- K directions: R-forward then R-backward (UNIT: the unit directions A.unit_first.., in
  // hessian_unit_math.h; a compile-time choice, so the general instantiation holds none of it)
  if constexpr (UNIT) {
    hess_unit_columns<L, NS>(A, theta, s, ns, acc);
  } else {
    for (int64_t kv = 0; kv < A.K; ++kv) {
      const T* vk = v + kv * P;
      const int64_t base = hbase + kv * P;
      for (int l = 0; l < nl; ++l) {  // Rz = V a + W Ra + vb, Ra = sigma' Rz
        const LayerSpec& Ly = net.layer[l];
        const int32_t h = lay.h[l];
        auto vb = [&](int j) { return Ly.b_off >= 0 ? vk[Ly.b_off + j] : T(0); };
        auto vw = [&](int j, int k) { return layer_theta(Ly, vk, j, k); };
        auto a_in = [&](int k) { return row(lay.a[l] + k); };
        auto w = [&](int j, int k) { return layer_theta(Ly, theta, j, k); };
        auto ra_in = [&](int k) { return row(lay.ra + lay.h[l > 0 ? l - 1 : 0] + k); };
        const bool keep_rz = full && act_has_d2(Ly.act), identity = Ly.act == ACT_IDENTITY;
        lane_sums<L, T>(Ly.out, Ly.in, l > 0, T(Ly.w_scale), vb, vw, a_in, w, ra_in,
                        [&](int j, const T* val) {
          r_forward_store<L>(val, row(lay.d1 + h + j), row(lay.rz + h + j), row(lay.ra + h + j),
                             keep_rz, identity);
        });
      }
      // R(dL/dy) = (d2l/dy2) Ra_out into the first half of the rg rows
      loss_hessian_lanes<L, T>(A.loss, net.d_out, [&](int j) { return row(lay.ra + out_h + j); },
                               curv_row, row(lay.ws), [&](int j) { return row(lay.rg + j); });
      for (int l = nl - 1; l >= 0; --l) {
        const LayerSpec& Ly = net.layer[l];
        const int32_t h = lay.h[l];
        T* cur = row(lay.rg + ((nl - 1 - l) % 2) * net.max_width);
        T* nxt = row(lay.rg + ((nl - l) % 2) * net.max_width);
        for (int j = 0; j < Ly.out; ++j)  // R delta = R g sigma' (+ g sigma'' Rz)
          r_delta_finish<L>(Ly.act, full, cur + j * stride, row(lay.d1 + h + j),
                            row(lay.gd2 + h + j), row(lay.rz + h + j));
        // R dW = R delta a^T (+ delta Ra^T), R db = R delta. Unscaled row-major weights of
        // layers with at least kMinBlockedSum inputs go to acc.add_outer, all of the layer's
        // slots in one call (the CPU runs them as register-blocked matrix products).
        const bool two = full && l > 0;
        auto rd_row = [&](int j) { return static_cast<const T*>(cur + j * stride); };
        auto dj_row = [&](int j) { return row(lay.del + h + j); };
        auto in_row = [&](int k) { return row(lay.a[l] + k); };
        auto rin_row = [&](int k) { return row(lay.ra + lay.h[two ? l - 1 : 0] + k); };
        const bool outer = outer_layer(Ly);
        if (outer)
          acc.add_outer(base + Ly.w_off, Ly.w_sj, Ly.out, Ly.in, rd_row(0), in_row(0), dj_row(0),
                        rin_row(0), stride, two);
        for (int j = 0; j < Ly.out; ++j) {  // the other weights, and the biases
          for (int k = 0; !outer && k < Ly.in; ++k)
            add_weight_products<L>(acc, Ly, base + layer_weight_index(Ly, j, k), rd_row(j),
                                   in_row(k), dj_row(j), rin_row(k), two);
          if (Ly.b_off >= 0) acc.add(base + Ly.b_off + j, rd_row(j));
        }
        if (l > 0) {  // R g_prev = W^T R delta (+ V^T delta)
          auto wt = [&](int k, int j) { return layer_theta(Ly, theta, j, k); };
          auto vt = [&](int k, int j) { return layer_theta(Ly, vk, j, k); };
          lane_sums<L, T>(Ly.in, Ly.out, full, T(Ly.w_scale), zero, wt, rd_row, vt, dj_row,
                          [&](int k, const T* val) {
            T* rg = nxt + k * stride;
            RS_SIMD for (int i = 0; i < L; ++i) rg[i] = val[i];
          });
        }
      }
    }
  }
}

}  // namespace rs
