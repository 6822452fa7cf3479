// The output losses of the Hessian engine, per sample, shared by the CPU and CUDA launchers
// through hess_tile (L lanes = L samples). For a sample of weight w with outputs y, targets t and
// per-output importance I (all d_out long):
//
//   mse              l = w sum_j I_j (y_j - t_j)^2           g_j = 2 w I_j (y_j - t_j)
//                    d2l/dy2 = diag(2 w I)
//   cross_entropy    l = -w sum_j I_j t_j log p_j,  p = softmax(y)
//                    g = w (s p - I t),  s = sum_j I_j t_j    d2l/dy2 = w s (diag p - p p^T)
//   bce_with_logits  l = w sum_j I_j (softplus(y_j) - t_j y_j)
//                    g_j = w I_j (sigmoid(y_j) - t_j)        d2l/dy2 = diag(w I sigmoid (1 - sigmoid))
//   linear           l = w sum_j I_j t_j y_j                 g_j = w I_j t_j   d2l/dy2 = 0
//                    (the vector-Jacobian product of the forward pass: reluscope.forward's backward)
//
// loss_lanes writes l, g and the curvature rows the R-pass needs (the diagonal of d2l/dy2, or p and
// w s for cross_entropy); loss_hessian_lanes applies d2l/dy2 to R y. O(d_out) per sample, no
// memory beyond d_out + 1 scratch rows.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "common/math_fn.h"
#include "common/value.h"

namespace rs {

enum HessLoss : int32_t {
  LOSS_MSE = 0,
  LOSS_CROSS_ENTROPY = 1,
  LOSS_BCE_WITH_LOGITS = 2,
  LOSS_LINEAR = 3,
  LOSS_COUNT  // one past the last loss: a new loss is an entry above it and a branch below
};
RS_HD bool valid_loss(int32_t kind) { return kind >= 0 && kind < LOSS_COUNT; }

// One output of a diagonal loss (KIND: mse, bce_with_logits or linear) for one sample: output y,
// target t, wc = w I_j; adds l to loss, writes g = dl/dy and h = d2l/dy2. V a scalar or a host
// vector (common/value.h).
template <int KIND, typename V>
RS_HD void loss_diag(V y, V t, V wc, V& loss, V& g, V& h) {
  using S = scalar_of<V>;
  if constexpr (KIND == LOSS_MSE) {
    const V r = y - t, e = wc * r;
    loss += e * r;
    g = S(2) * e;
    h = S(2) * wc;
  } else if constexpr (KIND == LOSS_BCE_WITH_LOGITS) {
    const V sp = select_(y > S(0), y, S(0)) + log1p_unit_(exp_nonpositive_(-abs_(y)));
    const V sg = sigmoid_(y);
    loss += wc * (sp - t * y);
    g = wc * (sg - t);
    h = wc * sg * (S(1) - sg);
  } else {
    static_assert(KIND == LOSS_LINEAR, "a diagonal loss");
    loss += wc * t * y;
    g = wc * t;
    h = V{};
  }
}

// Whether d2l/dy2 is diagonal (loss_diag has the loss); the cross-entropy's is not.
RS_HD constexpr bool loss_diagonal(int32_t kind) { return kind != LOSS_CROSS_ENTROPY; }

// loss_diag with its kind (a diagonal loss) at run time.
template <typename V>
RS_HD void loss_diag_kind(int32_t kind, V y, V t, V wc, V& loss, V& g, V& h) {
  if (kind == LOSS_MSE)
    loss_diag<LOSS_MSE>(y, t, wc, loss, g, h);
  else if (kind == LOSS_BCE_WITH_LOGITS)
    loss_diag<LOSS_BCE_WITH_LOGITS>(y, t, wc, loss, g, h);
  else
    loss_diag<LOSS_LINEAR>(y, t, wc, loss, g, h);
}

// y(j), t(j), g(j), curv(j): lane rows of output j; w, ws: lane rows; imp: (d_out,); loss[L] is
// added to. curv(j) receives d2l/dy_j^2 (diagonal losses) or p_j (cross_entropy, with w s in ws).
template <int L, typename T, typename YRow, typename TRow, typename GRow, typename CurvRow>
RS_HD void loss_lanes(int32_t kind, int d_out, const T* imp, YRow y, TRow t, const T* w, GRow g,
                      CurvRow curv, T* ws, T* loss) {
  if (kind == LOSS_CROSS_ENTROPY) {
    T m[L], sum[L], s[L];
    RS_SIMD for (int i = 0; i < L; ++i) { m[i] = y(0)[i]; sum[i] = T(0); s[i] = T(0); }
    for (int j = 1; j < d_out; ++j) {
      const T* yj = y(j);
      RS_SIMD for (int i = 0; i < L; ++i) m[i] = yj[i] > m[i] ? yj[i] : m[i];
    }
    for (int j = 0; j < d_out; ++j) {  // e_j = exp(y_j - m) in curv, sum_j e_j, s = sum_j I_j t_j
      const T* yj = y(j);
      const T* tj = t(j);
      T* e = curv(j);
      RS_SIMD for (int i = 0; i < L; ++i) {
        e[i] = exp_nonpositive_(yj[i] - m[i]);
        sum[i] += e[i];
        s[i] += imp[j] * tj[i];
      }
    }
    for (int i = 0; i < L; ++i) {  // m <- log sum_j e^{y_j}, sum <- 1 / sum_j e^{y_j - m}
      m[i] += log_(sum[i]);
      sum[i] = T(1) / sum[i];
    }
    for (int j = 0; j < d_out; ++j) {
      const T* yj = y(j);
      const T* tj = t(j);
      T* p = curv(j);
      T* gj = g(j);
      RS_SIMD for (int i = 0; i < L; ++i) {
        const T it = imp[j] * tj[i];
        loss[i] += w[i] * it * (m[i] - yj[i]);
        p[i] *= sum[i];
        gj[i] = w[i] * (s[i] * p[i] - it);
      }
    }
    RS_SIMD for (int i = 0; i < L; ++i) ws[i] = w[i] * s[i];
    return;
  }
  for (int j = 0; j < d_out; ++j) {
    const T* yj = y(j);
    const T* tj = t(j);
    T* gj = g(j);
    T* h = curv(j);
    const T c = imp[j];
    if (kind == LOSS_MSE) {
      RS_SIMD for (int i = 0; i < L; ++i)
        loss_diag<LOSS_MSE>(yj[i], tj[i], w[i] * c, loss[i], gj[i], h[i]);
    } else if (kind == LOSS_BCE_WITH_LOGITS) {
      RS_SIMD for (int i = 0; i < L; ++i)
        loss_diag<LOSS_BCE_WITH_LOGITS>(yj[i], tj[i], w[i] * c, loss[i], gj[i], h[i]);
    } else {  // LOSS_LINEAR
      RS_SIMD for (int i = 0; i < L; ++i)
        loss_diag<LOSS_LINEAR>(yj[i], tj[i], w[i] * c, loss[i], gj[i], h[i]);
    }
  }
}

// rg(j) <- (d2l/dy2 ra)_j over L lanes, from the rows loss_lanes left.
template <int L, typename T, typename RaRow, typename CurvRow, typename OutRow>
RS_HD void loss_hessian_lanes(int32_t kind, int d_out, RaRow ra, CurvRow curv, const T* ws,
                              OutRow rg) {
  if (kind == LOSS_CROSS_ENTROPY) {  // w s p (ra - p . ra)
    T pr[L];
    RS_SIMD for (int i = 0; i < L; ++i) pr[i] = T(0);
    for (int j = 0; j < d_out; ++j) {
      const T* p = curv(j);
      const T* r = ra(j);
      RS_SIMD for (int i = 0; i < L; ++i) pr[i] += p[i] * r[i];
    }
    for (int j = 0; j < d_out; ++j) {
      const T* p = curv(j);
      const T* r = ra(j);
      T* out = rg(j);
      RS_SIMD for (int i = 0; i < L; ++i) out[i] = ws[i] * p[i] * (r[i] - pr[i]);
    }
    return;
  }
  for (int j = 0; j < d_out; ++j) {
    const T* h = curv(j);
    const T* r = ra(j);
    T* out = rg(j);
    RS_SIMD for (int i = 0; i < L; ++i) out[i] = h[i] * r[i];
  }
}

}  // namespace rs
