// The unit directions of a full Hessian, shared by the CPU and CUDA launchers through hess_tile
// (after its forward and backward passes; HessArgs::unit_first >= 0, untied networks): product kv
// is the column H e_p, p = unit_first + kv, holding only the slots q of layers above p's, or of
// p's layer with q >= p (H's upper triangle in (layer, index) order; the other slots stay 0 and
// the Python layer mirrors them).
//
// Every parameter of neuron j of layer lo starts its R-forward at Rz_lo = s_p e_j (s_p = w_scale
// a_k for W(j, k), 1 for the bias), and the passes are linear in it: their Rz, Ra and R delta
// are s_p times those of one pass with s = 1, per sample. So hess_unit_columns runs one
// R-forward and R-backward per neuron (from layer lo up: Rz and Ra are 0 below lo, and in lo
// outside row j; no V terms), keeping R delta of every layer (in the d2 rows), and then per
// column only the slot products, with the rows on one side of each product scaled by s_p (into
// the rg rows): in layer lo the shorter of its inputs and its R delta rows.
// Cost per sample: O(P) per neuron for the pass, O(P) per column for the products; memory: the
// HessLayout rows.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "hessian/hessian.h"
#include "hessian/loss_math.h"
#include "hessian/r_pass_math.h"
#include "model/lanes.h"
#include "model/net_spec.h"

namespace rs {

template <int L, int NS, typename T, typename Acc>
RS_HD void hess_unit_columns(const HessArgs<T>& A, const T* theta, T* s, int64_t ns, Acc& acc) {
  const NetSpec& net = A.net;
  const HessLayout& lay = A.lay;
  const int nl = net.n_layers;
  const int64_t P = net.n_params, p0 = A.unit_first, p1 = A.unit_first + A.K;
  const int64_t stride = NS > 0 ? NS : ns;
  const bool full = A.mode != HESS_GNVP;
  auto row = [&](int64_t r) { return s + r * stride; };
  auto zero = [](int) { return T(0); };
  auto in_row = [&](int l, int k) { return static_cast<const T*>(row(lay.a[l] + k)); };
  auto ra_row = [&](int l, int j) { return row(lay.ra + lay.h[l] + j); };
  // R delta of every layer, in the sigma'' rows: nothing reads those after the backward pass
  auto rd_row = [&](int l, int j) { return row(lay.d2 + lay.h[l] + j); };
  auto del_row = [&](int l, int j) { return static_cast<const T*>(row(lay.del + lay.h[l] + j)); };
  auto in_range = [&](int64_t p) { return p >= p0 && p < p1; };
  T* U = row(lay.rg);                   // rows scaled by s_p (max_width of them)
  T* V = row(lay.rg + net.max_width);   // ... and the scaled Ra rows of the delta Ra^T terms
  auto scale = [&](T* dst, const T* src, const T* s_p) {  // dst = s_p src
    RS_SIMD for (int i = 0; i < L; ++i) dst[i] = s_p[i] * src[i];
  };

  for (int lo = 0; lo < nl; ++lo) {
    const LayerSpec& Lo = net.layer[lo];
    for (int j0 = 0; j0 < Lo.out; ++j0) {
      bool any = Lo.b_off >= 0 && in_range(Lo.b_off + j0);
      for (int k = 0; k < Lo.in && !any; ++k) any = in_range(layer_weight_index(Lo, j0, k));
      if (!any) continue;

      // ---- the neuron's pass with s = 1: R-forward from Rz_lo = e_j0 (the zero rows of layer
      // lo are written only where the loss reads them: lo is the output layer)
      for (int j = 0; j < Lo.out; ++j) {
        if (j != j0 && lo < nl - 1) continue;
        T val[L];
        const T one = j == j0 ? T(1) : T(0);
        RS_SIMD for (int i = 0; i < L; ++i) val[i] = one;
        r_forward_store<L>(static_cast<const T*>(val), row(lay.d1 + lay.h[lo] + j),
                           row(lay.rz + lay.h[lo] + j), ra_row(lo, j),
                           full && act_has_d2(Lo.act), Lo.act == ACT_IDENTITY);
      }
      for (int l = lo + 1; l < nl; ++l) {  // Rz = W Ra (one layer up: W's column j0 only)
        const LayerSpec& Ly = net.layer[l];
        auto store = [&](int j, const T* val) {
          r_forward_store<L>(val, row(lay.d1 + lay.h[l] + j), row(lay.rz + lay.h[l] + j),
                             ra_row(l, j), full && act_has_d2(Ly.act), Ly.act == ACT_IDENTITY);
        };
        const bool one_col = l == lo + 1;
        auto w = [&](int j, int k) { return layer_theta(Ly, theta, j, one_col ? j0 : k); };
        auto ra = [&](int k) { return static_cast<const T*>(ra_row(l - 1, one_col ? j0 : k)); };
        lane_sums<L, T>(Ly.out, one_col ? 1 : Ly.in, false, T(Ly.w_scale), zero, w, ra, w, ra,
                        store);
      }
      loss_hessian_lanes<L, T>(A.loss, net.d_out, [&](int j) { return ra_row(nl - 1, j); },
                               [&](int j) { return row(lay.curv + j); }, row(lay.ws),
                               [&](int j) { return rd_row(nl - 1, j); });
      for (int l = nl - 1; l >= lo; --l) {  // R delta of every layer down to lo
        const LayerSpec& Ly = net.layer[l];
        const int32_t h = lay.h[l];
        for (int j = 0; j < Ly.out; ++j)  // (Rz of layer lo is 0 outside row j0)
          r_delta_finish<L>(Ly.act, full && (l > lo || j == j0), rd_row(l, j),
                            row(lay.d1 + h + j), row(lay.gd2 + h + j), row(lay.rz + h + j));
        if (l > lo) {  // R g of layer l - 1 = W^T R delta
          auto wt = [&](int k, int j) { return layer_theta(Ly, theta, j, k); };
          auto rd = [&](int j) { return static_cast<const T*>(rd_row(l, j)); };
          lane_sums<L, T>(Ly.in, Ly.out, false, T(Ly.w_scale), zero, wt, rd, wt, rd,
                          [&](int k, const T* val) {
            T* rg = rd_row(l - 1, k);
            RS_SIMD for (int i = 0; i < L; ++i) rg[i] = val[i];
          });
        }
      }

      // ---- the columns of the neuron's parameters: the pass's slot products times s_p
      for (int kp = -1; kp < Lo.in; ++kp) {  // kp = -1: the bias (s = 1)
        const int64_t p = kp >= 0 ? layer_weight_index(Lo, j0, kp)
                                  : Lo.b_off >= 0 ? Lo.b_off + j0 : int64_t(-1);
        if (p < 0 || !in_range(p)) continue;
        const int64_t base = kHessHeaderSlots + (p - p0) * P;
        const T* sp = kp >= 0 ? in_row(lo, kp) : nullptr;  // s_p (null: the bias, s = 1)
        T s_scaled[L];
        if (sp && layer_scaled(Lo)) {
          const T sc = T(Lo.w_scale);
          RS_SIMD for (int i = 0; i < L; ++i) s_scaled[i] = sc * sp[i];
          sp = s_scaled;
        }
        for (int l = lo + 1; l < nl; ++l) {  // R dW = R delta a^T (+ delta Ra^T), R db = R delta
          const LayerSpec& Ly = net.layer[l];
          const bool one_col = l == lo + 1;  // Ra of layer lo: row j0 only
          for (int j = 0; sp && j < Ly.out; ++j) scale(U + j * stride, rd_row(l, j), sp);
          for (int k = 0; sp && full && k < (one_col ? 1 : Ly.in); ++k)
            scale(V + k * stride, ra_row(l - 1, one_col ? j0 : k), sp);
          for (int j = 0; j < Ly.out; ++j) {
            const T* u = sp ? static_cast<const T*>(U + j * stride) : rd_row(l, j);
            for (int k = 0; k < Ly.in; ++k) {
              const bool two = full && (!one_col || k == j0);
              const T* vr = !two ? nullptr
                            : sp ? static_cast<const T*>(V + (one_col ? 0 : k) * stride)
                                 : ra_row(l - 1, k);
              add_weight_products<L>(acc, Ly, base + layer_weight_index(Ly, j, k), u,
                                     in_row(l, k), del_row(l, j), vr, two);
            }
            if (Ly.b_off >= 0) acc.add(base + Ly.b_off + j, u);
          }
        }
        // layer lo, slots q >= p: s rd_j a_k, scaling the shorter side (its inputs or rd rows)
        const bool scale_in = Lo.in <= Lo.out;
        auto a_side = [&](int k) {
          return sp && scale_in ? static_cast<const T*>(U + k * stride) : in_row(lo, k);
        };
        auto r_side = [&](int j) {
          return sp && !scale_in ? static_cast<const T*>(U + j * stride) : rd_row(lo, j);
        };
        for (int k = 0; sp && scale_in && k < Lo.in; ++k) scale(U + k * stride, in_row(lo, k), sp);
        for (int j = 0; sp && !scale_in && j < Lo.out; ++j)
          scale(U + j * stride, rd_row(lo, j), sp);
        for (int j = 0; j < Lo.out; ++j) {
          for (int k = 0; k < Lo.in; ++k)
            if (layer_weight_index(Lo, j, k) >= p)
              add_weight_products<L>(acc, Lo, base + layer_weight_index(Lo, j, k), r_side(j),
                                     a_side(k), r_side(j), a_side(k), false);
          if (Lo.b_off < 0 || Lo.b_off + j < p) continue;
          if (!sp || !scale_in)
            acc.add(base + Lo.b_off + j, r_side(j));
          else  // s_p rd_j
            acc.add_products(base + Lo.b_off + j, r_side(j), sp, sp, sp, false);
        }
      }
    }
  }
}

}  // namespace rs
