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
//             + V_l^T delta_l (V = e_p: one entry per layer that holds p), kept for the entries
//             q <= p only (the lower triangle; the exact Hessian is symmetric). Measured on the
//             teacher-student students at radius 1e-6 it is as narrow as intersecting both
//             triangles' enclosures (rows of later parameters start their R-pass later).
// Every quantity is an Interval (interval.h), so each result contains the exact value for every
// theta in the box (natural interval extension: sound, wider than the exact range by the
// dependency effect, which grows with the radius). A relu / leaky_relu pre-activation containing
// 0 returns kCertKink (the loss is not C^2 there; the enclosures then hold both pieces).
// Cost per sample: O(P) forward and backward, O(P^2) for the P rows of the Hessian (about half of
// the products of full rows), all in interval operations. Scratch: CertLayout::rows intervals
// (O(sum of widths)).
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
// With A.grad_at_centre and r > 0 also its centre, as points, into th[P .. 2P), and returns that
// (cert_sample's tc); else null.
RS_HD const Interval* cert_box(const CertArgs& A, int64_t b, Interval* th) {
  const int64_t P = A.net.n_params;
  const double* c = A.theta + b * P;
  const double r = A.radius[b];
  for (int64_t i = 0; i < P; ++i)
    th[i] = r == 0.0 ? point(c[i]) : Interval{add_dn(c[i], -r), add_up(c[i], r)};
  if (!A.grad_at_centre || r == 0.0) return nullptr;
  for (int64_t i = 0; i < P; ++i) th[P + i] = point(c[i]);
  return th + P;
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

// The forward pass of one sample over the parameter intervals th: activations a, sigma', sigma''
// into the scratch rows. Returns kCertKink or 0.
RS_HD int32_t cert_forward(const CertArgs& A, const Interval* th, const double* x, Interval* s) {
  const NetSpec& net = A.net;
  const CertLayout& lay = A.lay;
  int32_t flags = 0;
  for (int k = 0; k < net.d_in; ++k) s[lay.a[0] + k] = point(x[k]);
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& L = net.layer[l];
    const Interval* in = s + lay.a[l];
    const int32_t h = lay.h[l];
    for (int j = 0; j < L.out; ++j) {
      Interval z = L.b_off >= 0 ? th[L.b_off + j] : point(0.0);
      for (int k = 0; k < L.in; ++k) z += th[layer_weight_index(L, j, k)] * in[k];
      const ActEnclosure e = act_enclose(L.act, z, net.slope);
      if (e.kink) flags |= kCertKink;
      s[lay.a[l + 1] + j] = e.a;
      s[lay.d1 + h + j] = e.d1;
      s[lay.d2 + h + j] = e.d2;
    }
  }
  return flags;
}

// v sigma' of hidden row r (the identity's sigma' = 1 exactly: no rounding).
RS_HD Interval cert_times_d1(const CertLayout& lay, const LayerSpec& L, int32_t r,
                             const Interval* s, Interval v) {
  return L.act == ACT_IDENTITY ? v : v * s[lay.d1 + r];
}

// The backward pass after cert_forward and cert_loss: del = g sigma', gd2 = g sigma'' per layer
// and, unless grad is null, the gradient added into grad (P intervals).
RS_HD void cert_backward(const CertArgs& A, const Interval* th, Interval* s, Interval* grad) {
  const NetSpec& net = A.net;
  const CertLayout& lay = A.lay;
  for (int l = net.n_layers - 1; l >= 0; --l) {
    const LayerSpec& L = net.layer[l];
    const int32_t h = lay.h[l];
    Interval* del = s + lay.del + h;
    const Interval* in = s + lay.a[l];
    for (int j = 0; j < L.out; ++j) {
      s[lay.gd2 + h + j] = del[j] * s[lay.d2 + h + j];
      del[j] = cert_times_d1(lay, L, h + j, s, del[j]);
      if (grad) {
        for (int k = 0; k < L.in; ++k) grad[layer_weight_index(L, j, k)] += del[j] * in[k];
        if (L.b_off >= 0) grad[L.b_off + j] += del[j];
      }
    }
    if (l > 0) {
      Interval* gp = s + lay.del + lay.h[l - 1];
      for (int k = 0; k < L.in; ++k) {
        Interval v = th[layer_weight_index(L, 0, k)] * del[0];
        for (int j = 1; j < L.out; ++j) v += th[layer_weight_index(L, j, k)] * del[j];
        gp[k] = v;
      }
    }
  }
}

// Which R-values of a layer can be non-zero along e_p: none, one unit (its index), or any.
inline constexpr int32_t kRZero = -1, kRDense = -2;

// Row p of the sample's Hessian, entries q <= p only (cert_reduce_slot mirrors them), added into
// hrow (P intervals), by the R-pass along e_p after cert_forward / cert_loss / cert_backward.
// Structural zeros are skipped, not multiplied: the layers below the first that holds p have
// Rz = Ra = 0; that layer moves only the unit p feeds (nz[l] = its index); every layer above it
// is dense. The R-backward adds g sigma'' Rz only where Rz can be non-zero and sigma'' is not
// identically 0, and delta Ra_in^T only for the non-zero Ra_in.
RS_HD void cert_hess_row(const CertArgs& A, const Interval* th, int64_t p, Interval* s,
                         Interval* hrow) {
  const NetSpec& net = A.net;
  const CertLayout& lay = A.lay;
  const int nl = net.n_layers;
  const Interval zero = point(0.0);
  auto W = [&](const LayerSpec& L, int j, int k) { return th[layer_weight_index(L, j, k)]; };
  int32_t nz[kMaxLayers];
  // ---- R-forward: Rz_l = V_l a_{l-1} + W_l Ra_{l-1} + Vb_l, Ra_l = sigma' Rz_l
  for (int l = 0; l < nl; ++l) {
    const LayerSpec& L = net.layer[l];
    int jw = -1, kw = -1, jb = -1;
    const bool on_w = cert_weight_at(L, p, jw, kw), on_b = cert_bias_at(L, p, jb);
    const int32_t below = l > 0 ? nz[l - 1] : kRZero;
    nz[l] = below != kRZero ? kRDense : on_w ? jw : on_b ? jb : kRZero;
    if (nz[l] == kRZero) continue;
    const int32_t h = lay.h[l];
    Interval* rz = s + lay.rz + h;
    Interval* ra = s + lay.ra + h;
    const Interval* ra_in = s + lay.ra + (l > 0 ? lay.h[l - 1] : 0);
    if (nz[l] >= 0) {  // only the unit p feeds moves
      for (int j = 0; j < L.out; ++j) rz[j] = ra[j] = zero;
      const int j = nz[l];
      rz[j] = on_w ? s[lay.a[l] + kw] : point(1.0);
      ra[j] = cert_times_d1(lay, L, h + j, s, rz[j]);
      continue;
    }
    for (int j = 0; j < L.out; ++j) {
      Interval v;
      if (below >= 0) {
        v = W(L, j, below) * ra_in[below];
      } else {
        v = W(L, j, 0) * ra_in[0];
        for (int k = 1; k < L.in; ++k) v += W(L, j, k) * ra_in[k];
      }
      if (on_w && j == jw) v += s[lay.a[l] + kw];
      if (on_b && j == jb) v += point(1.0);
      rz[j] = v;
      ra[j] = cert_times_d1(lay, L, h + j, s, v);
    }
  }
  // ---- Rg_out = d2l/dy2 Ra_out into the first rg block
  Interval* rg = s + lay.rg;
  const Interval* ra_out = s + lay.ra + lay.h[nl - 1];
  const Interval* curv = s + lay.curv;
  if (nz[nl - 1] == kRZero) {
    for (int j = 0; j < net.d_out; ++j) rg[j] = zero;
  } else if (A.loss == LOSS_CROSS_ENTROPY) {  // w s p (Ra - p . Ra)
    Interval pr = curv[0] * ra_out[0];
    for (int j = 1; j < net.d_out; ++j) pr += curv[j] * ra_out[j];
    for (int j = 0; j < net.d_out; ++j) rg[j] = s[lay.ws] * curv[j] * (ra_out[j] - pr);
  } else {
    for (int j = 0; j < net.d_out; ++j) rg[j] = curv[j] * ra_out[j];
  }
  // ---- R-backward: Rdelta_l = Rg_l sigma' + g_l sigma'' Rz_l,
  //      row entries Rdelta_l a_{l-1}^T + delta_l Ra_{l-1}^T, Rg_{l-1} = W_l^T Rdelta_l + V_l^T delta_l
  for (int l = nl - 1; l >= 0; --l) {
    const LayerSpec& L = net.layer[l];
    const int32_t h = lay.h[l];
    Interval* cur = s + lay.rg + ((nl - 1 - l) % 2) * net.max_width;
    Interval* nxt = s + lay.rg + ((nl - l) % 2) * net.max_width;
    const int32_t here = act_piecewise_linear(L.act) ? kRZero : nz[l];
    const int32_t below = l > 0 ? nz[l - 1] : kRZero;
    const Interval* del = s + lay.del + h;
    const Interval* in = s + lay.a[l];
    const Interval* ra_in = s + lay.ra + (l > 0 ? lay.h[l - 1] : 0);
    const bool w_row = L.w_off <= p, b_row = L.b_off >= 0 && L.b_off <= p;
    for (int j = 0; j < L.out; ++j) {
      Interval rd = cert_times_d1(lay, L, h + j, s, cur[j]);
      if (here == kRDense || here == j) rd += s[lay.gd2 + h + j] * s[lay.rz + h + j];
      cur[j] = rd;
      if (w_row) {
        for (int k = 0; k < L.in; ++k) {
          const int64_t q = layer_weight_index(L, j, k);
          if (q > p) continue;
          Interval v = rd * in[k];
          if (below == kRDense || below == k) v += del[j] * ra_in[k];
          hrow[q] += v;
        }
      }
      if (b_row && L.b_off + j <= p) hrow[L.b_off + j] += rd;
    }
    if (l > 0) {
      int jw = -1, kw = -1;
      const bool on_w = cert_weight_at(L, p, jw, kw);
      for (int k = 0; k < L.in; ++k) {
        Interval v = W(L, 0, k) * cur[0];
        for (int j = 1; j < L.out; ++j) v += W(L, j, k) * cur[j];
        if (on_w && k == kw) v += del[jw];
        nxt[k] = v;
      }
    }
  }
}

// One sample (x, t, weight w != 0) of one network over the box th; adds to acc (len intervals)
// its loss, gradient and the lower triangle of its Hessian (row p: entries q <= p). With tc (the
// box's centre as point intervals) the gradient is the one at the centre instead, from a forward
// and backward pass of its own (the same operations as a radius-0 call: the same bits).
// Returns kCertKink (over the box) or 0.
RS_HD int32_t cert_sample(const CertArgs& A, const Interval* th, const Interval* tc,
                          const double* x, const double* t, double w, Interval* s, Interval* acc) {
  const int64_t P = A.net.n_params;
  Interval* grad = acc + 1;
  if (tc) {
    Interval unused = point(0.0);
    cert_forward(A, tc, x, s);
    cert_loss(A, t, w, s, unused);
    cert_backward(A, tc, s, grad);
  }
  const int32_t flags = cert_forward(A, th, x, s);
  cert_loss(A, t, w, s, acc[0]);
  cert_backward(A, th, s, tc ? nullptr : grad);
  for (int64_t p = 0; p < P; ++p) cert_hess_row(A, th, p, s, acc + 1 + P + p * P);
  return flags;
}

// The enclosure of output slot q of one network from its C chunk sums (C x len intervals, summed
// in chunk order). Hessian entry (i, j) is read from row max(i, j), entry min(i, j) (cert_sample
// fills only that triangle: the exact Hessian is symmetric, so it encloses both entries).
RS_HD Interval cert_reduce_slot(const Interval* part, int64_t C, int64_t len, int64_t P,
                                int64_t q) {
  if (q > P) {
    const int64_t i = (q - 1 - P) / P, j = (q - 1 - P) % P;
    if (j > i) q = 1 + P + j * P + i;
  }
  Interval v = part[q];
  for (int64_t c = 1; c < C; ++c) v += part[c * len + q];
  return v;
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
