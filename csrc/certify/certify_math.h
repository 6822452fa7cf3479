// The per-sample interval math of reluscope.certify, shared by the CPU and CUDA launchers.
//
// cert_sample adds to acc = [loss | grad (P) | hess (P x P)] enclosures of one sample's loss l, its
// gradient and its Hessian over the box th (P intervals), for any NetSpec (MLPs of any depth, with
// or without biases; TMS, whose tied W is read by two layers: both add into the same slots):
//   forward   z_l = W_l a_{l-1} + b_l, a_l = sigma(z_l), keeping sigma', sigma'' (act_enclose);
//   loss      l, g = dl/dy and d2l/dy2 (hessian/loss_math.h's formulas, in intervals);
//   backward  delta_l = g_l sigma'(z_l), grad W_l += delta_l a_{l-1}^T, g_{l-1} = W_l^T delta_l;
//   Hessian   row p = the Pearlmutter R-pass (forward over reverse) along the unit direction e_p:
//             Rz_l = V_l a_{l-1} + W_l Ra_{l-1} + Vb_l, Ra_l = sigma' Rz_l,
//             Rg_out = d2l/dy2 Ra_out, Rdelta_l = Rg_l sigma' + g_l sigma'' Rz_l,
//             R grad W_l = Rdelta_l a_{l-1}^T + delta_l Ra_{l-1}^T, Rg_{l-1} = W_l^T Rdelta_l
//             + V_l^T delta_l (V = e_p: one entry per layer that holds p); layers below the first
//             that holds p have Rz = Ra = 0 and are skipped in the R-forward.
// Every quantity is an Interval (interval.h), so each result contains the exact value for every
// theta in the box (natural interval extension: sound, wider than the exact range by the
// dependency effect, which grows with the radius). A relu / leaky_relu pre-activation containing
// 0 returns kCertKink (the loss is not C^2 there; the enclosures then hold both pieces).
// Cost per sample: O(P) forward and backward, O(P^2) for the P rows of the Hessian, all in
// interval operations. Scratch: CertLayout::rows intervals (O(sum of widths)).
#pragma once
#include <cstdint>

#include "certify/certify.h"
#include "certify/interval.h"
#include "common/hostdevice.h"
#include "hessian/loss_math.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

// The box of network b: th[i] = [c_i - r, c_i + r], rounded outward (the point c_i when r = 0).
RS_HD void cert_box(const CertArgs& A, int64_t b, Interval* th) {
  const int64_t P = A.net.n_params;
  const double* c = A.theta + b * P;
  const double r = A.radius[b];
  for (int64_t i = 0; i < P; ++i)
    th[i] = r == 0.0 ? point(c[i]) : Interval{add_dn(c[i], -r), add_up(c[i], r)};
}

// Whether theta index p is the weight W(j, k) of layer L (at most one entry: W is a block).
RS_HD bool cert_weight_at(const LayerSpec& L, int64_t p, int& j, int& k) {
  const int64_t off = p - L.w_off;
  if (off < 0 || off >= int64_t(L.in) * L.out) return false;
  if (L.w_sk == 1) {  // row-major out x in
    j = int(off / L.w_sj);
    k = int(off % L.w_sj);
  } else {            // stored in x out, read transposed
    k = int(off / L.w_sk);
    j = int(off % L.w_sk);
  }
  return true;
}

// Whether theta index p is the bias b(j) of layer L.
RS_HD bool cert_bias_at(const LayerSpec& L, int64_t p, int& j) {
  if (L.b_off < 0 || p < L.b_off || p >= L.b_off + L.out) return false;
  j = int(p - L.b_off);
  return true;
}

// The loss of one sample with outputs y (rows s[a_out ..]) into loss; g = dl/dy into the del rows
// of the last layer, d2l/dy2's diagonal (or p and w s for the cross-entropy) into curv, ws.
RS_HD void cert_loss(const CertArgs& A, const double* t, double w, Interval* s, Interval& loss) {
  const NetSpec& net = A.net;
  const CertLayout& lay = A.lay;
  const int nl = net.n_layers, d = net.d_out;
  const Interval* y = s + lay.a[nl];
  Interval* g = s + lay.del + lay.h[nl - 1];
  Interval* curv = s + lay.curv;
  const Interval W = point(w);
  if (A.loss == LOSS_CROSS_ENTROPY) {
    // l = w sum_j I_j t_j (lse(y) - y_j), p = softmax(y) = e^{y - lse}, g = w (st p - I t)
    double m = y[0].hi;
    for (int j = 1; j < d; ++j) m = max_nan(m, y[j].hi);
    Interval sum = point(0.0), st = point(0.0);
    for (int j = 0; j < d; ++j) {
      sum += iv_exp(y[j] - point(m));
      st += point(A.imp[j]) * point(t[j]);
    }
    const Interval lse = point(m) + iv_log(sum);
    Interval l = point(0.0);
    for (int j = 0; j < d; ++j) {
      const Interval it = point(A.imp[j]) * point(t[j]);
      l += it * (lse - y[j]);
      curv[j] = clamp(iv_exp(y[j] - lse), 0.0, 1.0);
      g[j] = W * (st * curv[j] - it);
    }
    loss += W * l;
    s[lay.ws] = W * st;
    return;
  }
  for (int j = 0; j < d; ++j) {
    const Interval wc = W * point(A.imp[j]);
    if (A.loss == LOSS_MSE) {  // l = w I (y - t)^2, g = 2 w I (y - t), l'' = 2 w I
      const Interval r = y[j] - point(t[j]);
      loss += wc * sqr(r);
      g[j] = point(2.0) * wc * r;
      curv[j] = point(2.0) * wc;
    } else {  // bce_with_logits: l = w I (softplus(y) - t y), g = w I (sigmoid(y) - t)
      const Interval sg = iv_sigmoid(y[j]);
      loss += wc * (iv_softplus(y[j]) - point(t[j]) * y[j]);
      g[j] = wc * (sg - point(t[j]));
      curv[j] = wc * iv_sigmoid_d1(sg);
    }
  }
}

// One sample (x, t, weight w != 0) of one network over the box th; adds to acc (len intervals).
// Returns kCertKink or 0.
RS_HD int32_t cert_sample(const CertArgs& A, const Interval* th, const double* x, const double* t,
                          double w, Interval* s, Interval* acc) {
  const NetSpec& net = A.net;
  const CertLayout& lay = A.lay;
  const int nl = net.n_layers;
  const int64_t P = net.n_params;
  const Interval zero = point(0.0);
  int32_t flags = 0;
  auto W = [&](const LayerSpec& L, int j, int k) { return th[layer_weight_index(L, j, k)]; };
  // v sigma' of hidden row r (the identity's sigma' = 1 exactly: no rounding)
  auto times_d1 = [&](const LayerSpec& L, int32_t r, Interval v) {
    return L.act == ACT_IDENTITY ? v : v * s[lay.d1 + r];
  };

  // ---- forward
  for (int k = 0; k < net.d_in; ++k) s[lay.a[0] + k] = point(x[k]);
  for (int l = 0; l < nl; ++l) {
    const LayerSpec& L = net.layer[l];
    const Interval* in = s + lay.a[l];
    const int32_t h = lay.h[l];
    for (int j = 0; j < L.out; ++j) {
      Interval z = L.b_off >= 0 ? th[L.b_off + j] : zero;
      for (int k = 0; k < L.in; ++k) z += W(L, j, k) * in[k];
      const ActEnclosure e = act_enclose(L.act, z, net.slope);
      if (e.kink) flags |= kCertKink;
      s[lay.a[l + 1] + j] = e.a;
      s[lay.d1 + h + j] = e.d1;
      s[lay.d2 + h + j] = e.d2;
    }
  }

  // ---- loss and dl/dy
  cert_loss(A, t, w, s, acc[0]);

  // ---- backward: del = g sigma', gd2 = g sigma''; the gradient
  Interval* grad = acc + 1;
  for (int l = nl - 1; l >= 0; --l) {
    const LayerSpec& L = net.layer[l];
    const int32_t h = lay.h[l];
    Interval* del = s + lay.del + h;
    const Interval* in = s + lay.a[l];
    for (int j = 0; j < L.out; ++j) {
      s[lay.gd2 + h + j] = del[j] * s[lay.d2 + h + j];
      del[j] = times_d1(L, h + j, del[j]);
      for (int k = 0; k < L.in; ++k) grad[layer_weight_index(L, j, k)] += del[j] * in[k];
      if (L.b_off >= 0) grad[L.b_off + j] += del[j];
    }
    if (l > 0) {
      Interval* gp = s + lay.del + lay.h[l - 1];
      for (int k = 0; k < L.in; ++k) {
        Interval v = zero;
        for (int j = 0; j < L.out; ++j) v += W(L, j, k) * del[j];
        gp[k] = v;
      }
    }
  }

  // ---- Hessian row p: R-pass along e_p
  Interval* hess = acc + 1 + P;
  for (int64_t p = 0; p < P; ++p) {
    Interval* hrow = hess + p * P;
    uint64_t live = 0;  // bit l: layer l's Rz, Ra are not all zero
    for (int l = 0; l < nl; ++l) {
      const LayerSpec& L = net.layer[l];
      int jw = -1, kw = -1, jb = -1;
      const bool on_w = cert_weight_at(L, p, jw, kw), on_b = cert_bias_at(L, p, jb);
      const bool prev = l > 0 && ((live >> (l - 1)) & 1u);
      if (!prev && !on_w && !on_b) continue;
      live |= uint64_t(1) << l;
      const int32_t h = lay.h[l];
      const Interval* ra_in = s + lay.ra + (l > 0 ? lay.h[l - 1] : 0);
      for (int j = 0; j < L.out; ++j) {
        Interval rz = zero;
        if (prev)
          for (int k = 0; k < L.in; ++k) rz += W(L, j, k) * ra_in[k];
        if (on_w && j == jw) rz += s[lay.a[l] + kw];
        if (on_b && j == jb) rz += point(1.0);
        s[lay.rz + h + j] = rz;
        s[lay.ra + h + j] = times_d1(L, h + j, rz);
      }
    }
    // Rg_out = d2l/dy2 Ra_out into the first rg block
    const int32_t out_h = lay.h[nl - 1];
    const bool out_live = (live >> (nl - 1)) & 1u;
    Interval* rg = s + lay.rg;
    const Interval* ra_out = s + lay.ra + out_h;
    const Interval* curv = s + lay.curv;
    if (!out_live) {
      for (int j = 0; j < net.d_out; ++j) rg[j] = zero;
    } else if (A.loss == LOSS_CROSS_ENTROPY) {  // w s p (Ra - p . Ra)
      Interval pr = zero;
      for (int j = 0; j < net.d_out; ++j) pr += curv[j] * ra_out[j];
      for (int j = 0; j < net.d_out; ++j) rg[j] = s[lay.ws] * curv[j] * (ra_out[j] - pr);
    } else {
      for (int j = 0; j < net.d_out; ++j) rg[j] = curv[j] * ra_out[j];
    }
    for (int l = nl - 1; l >= 0; --l) {
      const LayerSpec& L = net.layer[l];
      const int32_t h = lay.h[l];
      Interval* cur = s + lay.rg + ((nl - 1 - l) % 2) * net.max_width;
      Interval* nxt = s + lay.rg + ((nl - l) % 2) * net.max_width;
      const bool here = (live >> l) & 1u, below = l > 0 && ((live >> (l - 1)) & 1u);
      const Interval* del = s + lay.del + h;
      const Interval* in = s + lay.a[l];
      const Interval* ra_in = s + lay.ra + (l > 0 ? lay.h[l - 1] : 0);
      for (int j = 0; j < L.out; ++j) {  // Rdelta = Rg sigma' + g sigma'' Rz
        Interval rd = times_d1(L, h + j, cur[j]);
        if (here) rd += s[lay.gd2 + h + j] * s[lay.rz + h + j];
        cur[j] = rd;
        for (int k = 0; k < L.in; ++k) {
          Interval v = rd * in[k];
          if (below) v += del[j] * ra_in[k];
          hrow[layer_weight_index(L, j, k)] += v;
        }
        if (L.b_off >= 0) hrow[L.b_off + j] += rd;
      }
      if (l > 0) {  // Rg_prev = W^T Rdelta + V^T delta
        int jw = -1, kw = -1;
        const bool on_w = cert_weight_at(L, p, jw, kw);
        for (int k = 0; k < L.in; ++k) {
          Interval v = zero;
          for (int j = 0; j < L.out; ++j) v += W(L, j, k) * cur[j];
          if (on_w && k == kw) v += del[jw];
          nxt[k] = v;
        }
      }
    }
  }
  return flags;
}

// The enclosure of output slot q of one network from its C chunk sums (C x len intervals, summed
// in chunk order); a Hessian entry is intersected with its transpose's (the exact Hessian is
// symmetric, so both enclosures hold it).
RS_HD Interval cert_reduce_slot(const Interval* part, int64_t C, int64_t len, int64_t P,
                                int64_t q) {
  Interval v = part[q];
  for (int64_t c = 1; c < C; ++c) v += part[c * len + q];
  if (q <= P) return v;
  const int64_t i = (q - 1 - P) / P, j = (q - 1 - P) % P, qt = 1 + P + j * P + i;
  Interval u = part[qt];
  for (int64_t c = 1; c < C; ++c) u += part[c * len + qt];
  return {max_nan(v.lo, u.lo), min_nan(v.hi, u.hi)};
}

// Writes slot q's enclosure of network b to the outputs; returns kCertNonfinite unless finite.
RS_HD int32_t cert_store_slot(const CertArgs& A, int64_t b, int64_t q, Interval v) {
  const int64_t P = A.net.n_params;
  double* out = q == 0 ? A.out_loss + 2 * b
                : q <= P ? A.out_grad + 2 * (b * P + q - 1)
                         : A.out_hess + 2 * (b * P * P + q - 1 - P);
  out[0] = v.lo;
  out[1] = v.hi;
  return isfinite(v.lo) && isfinite(v.hi) ? 0 : kCertNonfinite;
}

}  // namespace rs
