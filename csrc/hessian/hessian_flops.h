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

// The same count for the P unit directions of a full Hessian (HessArgs::unit_first; untied
// networks): the passes of e_p run from p's layer lo up, its R-forward is a copy at lo and one
// column of W above it, no V terms, and at lo only the weight slots q >= p.
inline double hess_unit_flops(const NetSpec& net, HessMode mode) {
  const bool full = mode != HESS_GNVP;
  double macs = hess_flops(net, mode, 0) / 2;
  for (int64_t p = 0; p < net.n_params; ++p) {
    const ParamSite site = param_site(net, p);
    if (site.layer < 0) continue;
    const LayerSpec& Lo = net.layer[site.layer];
    for (int j = 0; j < Lo.out; ++j)
      for (int k = 0; k < Lo.in; ++k) macs += layer_weight_index(Lo, j, k) >= p ? 1 : 0;
    for (int l = site.layer + 1; l < net.n_layers; ++l) {
      const double M = double(net.layer[l].in) * double(net.layer[l].out);
      macs += l == site.layer + 1 ? double(net.layer[l].out) : M;  // W Ra
      macs += (full ? 2 : 1) * M + M;  // R delta a^T (+ delta Ra^T), W^T R delta
    }
  }
  return 2 * macs;
}

}  // namespace rs
