// Operation count of hessian_math.h per sample, for the benchmark's roofline: 2 x the
// multiply-adds of its matrix products (the elementwise activation and loss work, O(width) per
// sample, is not counted). Per layer of M = in x out weights (layer 0 has no incoming Ra, R delta
// or g to propagate):
//   forward z = W a: M; backward g_prev = W^T delta (l > 0): M; gradient delta a^T (grad): M;
//   per direction, R-forward V a + W Ra: 2M (M at l = 0); R-backward R dW = R delta a^T
//   (+ delta Ra^T, full Hessian, l > 0): 2M or M; R g_prev = W^T R delta (+ V^T delta, full): 2M
//   or M (none at l = 0).
#pragma once
#include <cstdint>

#include "hessian/hessian.h"
#include "model/net_spec.h"

namespace rs {

inline double hess_flops(const NetSpec& net, HessMode mode, int64_t K) {
  const bool full = mode != HESS_GNVP;
  double macs = 0;
  for (int l = 0; l < net.n_layers; ++l) {
    const double M = double(net.layer[l].in) * double(net.layer[l].out);
    const bool inner = l > 0;
    macs += M;                                                    // forward
    if (mode == HESS_LOSS) continue;
    if (full && inner) macs += M;                                 // g_prev = W^T delta
    if (mode == HESS_GRAD) macs += M;                             // delta a^T
    if (mode == HESS_HVP || mode == HESS_GNVP) {
      const double per_dir = (inner ? 2 : 1) * M                  // V a + W Ra
                             + (full && inner ? 2 : 1) * M        // R delta a^T (+ delta Ra^T)
                             + (inner ? (full ? 2 : 1) : 0) * M;  // W^T R delta (+ V^T delta)
      macs += double(K) * per_dir;
    }
  }
  return 2 * macs;
}

// A CPU call of fewer operations than kHessCpuInlineFlops (35-50 us of one core for the
// students' [2,5,1] HVPs) runs its tasks on the calling thread: handing them to the pool cost
// more than the second thread saved (1681 samples' HVP of one relu net, 2 threads: median 74 us
// against 41 us on one; bench/results/NOTES.md). Its plan then has one chunk per model
// (hess_plan): chunks only spread a call over threads, and each costs a task's setup.
inline constexpr double kHessCpuInlineFlops = 5e5;

inline bool hess_cpu_inline(const NetSpec& net, int64_t B, int64_t N, HessMode mode, int64_t K) {
  return double(B) * double(N) * hess_flops(net, mode, K) < kHessCpuInlineFlops;
}

// The count of the CPU's small-net path for the P unit directions (small_net_columns.h; the
// students' two layers, d inputs, h hidden neurons): the forward pass (d h + h), J's products
// (h (d + 1)), the columns' factors c J_p (P) and their triangle of J's outer products
// (P (P + 1) / 2); in the full Hessian per first-layer column the g sigma' x~_p term (2) and per
// entry within its neuron the g w2 sigma'' x~_p x~_q term (3; activations with a sigma'' only).
inline double hess_small_unit_flops(const NetSpec& net, HessMode mode) {
  const LayerSpec& L0 = net.layer[0];
  const double d = L0.in, h = L0.out, P = double(net.n_params);
  double macs = d * h + h + h * (d + 1) + P + P * (P + 1) / 2;
  if (mode != HESS_GNVP) {
    const double per_neuron = d + (L0.b_off >= 0 ? 1 : 0);  // first-layer columns per neuron
    macs += h * per_neuron * 2;
    if (act_has_d2(L0.act)) macs += h * per_neuron * (per_neuron + 1) / 2 * 3;
  }
  return 2 * macs;
}

// The same count for the P unit directions of a full Hessian (HessArgs::unit_first) of the
// path a CPU call with this loss takes: the small-net path's (above) where it takes that, else
// hessian_unit_math.h's: per neuron of layer lo one pass from lo up (R-forward: one column of W
// at lo + 1, then W Ra; R-backward W^T R delta above lo), per column p the slot products of the
// layers above lo (R delta a^T, + delta Ra^T in the full Hessian: one column of it at lo + 1) and
// at lo the weight slots q >= p. (Scaling rows by s_p and the bias slots are O(width): uncounted.)
inline double hess_unit_flops(const NetSpec& net, HessMode mode, int32_t loss) {
  if (hess_cpu_small_path(net, loss)) return hess_small_unit_flops(net, mode);
  const bool full = mode != HESS_GNVP;
  double macs = hess_flops(net, mode, 0) / 2;
  auto M = [&](int l) { return double(net.layer[l].in) * double(net.layer[l].out); };
  for (int lo = 0; lo < net.n_layers; ++lo) {
    const LayerSpec& Lo = net.layer[lo];
    double pass = 0, column = 0;  // per neuron, per column above lo
    for (int l = lo + 1; l < net.n_layers; ++l) {
      const double first = l == lo + 1 ? double(net.layer[l].out) : M(l);
      pass += first + M(l);
      column += M(l) + (full ? first : 0);
    }
    const int64_t params = int64_t(Lo.in) * Lo.out + (Lo.b_off >= 0 ? Lo.out : 0);
    macs += Lo.out * pass + double(params) * column;
    for (int j0 = 0; j0 < Lo.out; ++j0)  // the weight slots q >= p of each column's own layer
      for (int kp = -1; kp < Lo.in; ++kp) {
        if (kp < 0 && Lo.b_off < 0) continue;
        const int64_t p = kp >= 0 ? layer_weight_index(Lo, j0, kp) : Lo.b_off + j0;
        for (int j = 0; j < Lo.out; ++j)
          for (int k = 0; k < Lo.in; ++k) macs += layer_weight_index(Lo, j, k) >= p ? 1 : 0;
      }
  }
  return 2 * macs;
}

}  // namespace rs
