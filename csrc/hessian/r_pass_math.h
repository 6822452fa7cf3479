// Per-neuron steps of the Pearlmutter R-passes over L lanes, shared by hess_tile (any directions,
// hessian_math.h) and hess_unit_columns (the unit directions of a full Hessian,
// hessian_unit_math.h), so both run the same arithmetic on the CPU and on CUDA:
//   r_forward_store      from neuron j's R-forward sum Rz: keeps Rz where R delta reads it (full
//                        Hessian, sigma'' != 0) and stores Ra = sigma' Rz (Rz for the identity);
//   r_delta_finish       R delta = R g sigma' (+ g sigma'' Rz) in place of R g;
//   add_weight_products  a weight slot's lane sum a b (+ c d), times w_scale in a scaled (NTK)
//                        layer, into acc.
// O(L) each, no memory beyond an L-value stack row.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

template <int L, typename T>
RS_HD void r_forward_store(const T* val, const T* d1, T* rz, T* ra, bool keep_rz, bool identity) {
  if (keep_rz) {
    RS_SIMD for (int i = 0; i < L; ++i) rz[i] = val[i];
  }
  if (identity) {
    RS_SIMD for (int i = 0; i < L; ++i) ra[i] = val[i];
  } else {
    RS_SIMD for (int i = 0; i < L; ++i) ra[i] = d1[i] * val[i];
  }
}

// with_rz: the full Hessian's g sigma'' Rz term (read only where the activation has sigma'').
template <int L, typename T>
RS_HD void r_delta_finish(int32_t act, bool with_rz, T* rd, const T* d1, const T* gd2,
                          const T* rz) {
  if (with_rz && act_has_d2(act)) {
    RS_SIMD for (int i = 0; i < L; ++i) rd[i] = rd[i] * d1[i] + gd2[i] * rz[i];
  } else if (act != ACT_IDENTITY) {
    RS_SIMD for (int i = 0; i < L; ++i) rd[i] *= d1[i];
  }
}

template <int L, typename T, typename Acc>
RS_HD void add_weight_products(Acc& acc, const LayerSpec& Ly, int64_t slot, const T* a,
                               const T* b, const T* c, const T* d, bool two) {
  if (!layer_scaled(Ly)) {
    acc.add_products(slot, a, b, c, d, two);
    return;
  }
  T val[L];
  RS_SIMD for (int i = 0; i < L; ++i) val[i] = a[i] * b[i];
  if (two) {
    RS_SIMD for (int i = 0; i < L; ++i) val[i] += c[i] * d[i];
  }
  const T sc = T(Ly.w_scale);
  RS_SIMD for (int i = 0; i < L; ++i) val[i] *= sc;
  acc.add(slot, val);
}

}  // namespace rs
