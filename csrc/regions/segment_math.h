// Exact pieces of one network along one segment x(t) = xa + t (xb - xa), t in [0, 1], shared by the
// CPU and CUDA launchers (one work item = one (network, segment) pair).
//
// Algorithm (layer by layer): the list of points 0 = t_0 < ... < t_{n-1} = 1 carries the layer's
// input activations at every point; between neighbouring points they are affine in t. For a
// piecewise-linear layer, the pre-activations z = W a + b at the points are computed, and on each
// piece a neuron whose z changes sign splits it at the interpolated zero (z is affine on the
// piece); neurons crossing at the same t (coincident hyperplanes) share one new point. Then the
// activation is applied at the points, which is exact because every kink is now a point.
// Cost O(n_l * d_l * d_{l-1}) per layer for n_l points; memory two point lists of max_width
// values per point (ping-pong), grown on demand (CPU) or bounded by a capacity (CUDA).
//
// Tolerance rule (documented in reluscope.regions): machine epsilon eps of the dtype,
//  * a pre-activation with |z_j| <= 64 eps (|b_j| + sum_i |W_ji| max_{k,i} |a_i(t_k)|) is snapped
//    to exactly 0: a neuron that only touches zero, or whose zero falls on an existing point, or a
//    hyperplane coincident with an earlier one, then splits nothing;
//  * a zero closer than 64 eps (in t) to a piece end, or to another neuron's zero, adds no point;
//  * a point is a breakpoint ("activation") when the activation pattern, evaluated at the
//    midpoints of the two pieces beside it, differs; "linear" further merges neighbouring
//    pattern-pieces whose output slopes g1, g2 satisfy, per output,
//    |g1 - g2| <= sqrt(eps) (max(|g1|, |g2|) + y_max (1/len1 + 1/len2)).
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "common/math_fn.h"
#include "model/activation.h"
#include "model/net_spec.h"
#include "regions/regions.h"

namespace rs {

template <typename T>
RS_HD T machine_eps();
template <>
RS_HD float machine_eps<float>() { return 1.1920929e-7f; }
template <>
RS_HD double machine_eps<double>() { return 2.220446049250313e-16; }

// The relative tolerance of the zero test and of the t-merging (see the header comment).
template <typename T>
RS_HD T zero_tol() { return T(64) * machine_eps<T>(); }

// The per-layer scratch rows of segment_pieces (W values each), in a store's scratch block.
enum SegmentScratchRow : int {
  kZPrev = 0,      // pre-activations at the previous point
  kZCur = 1,       // pre-activations at the current point
  kZeroTol = 2,    // per-neuron zero threshold
  kCrossing = 3,   // sorted crossing positions (fraction of the piece) of the neurons in idx()
  kScratchRows = 4
};

// A store holds two point lists (ping-pong halves h = 0, 1): t(h) the positions, is_break(h) the
// breakpoint flags, row(h, k) the layer values at point k; plus scratch rows and neuron indices.
// FixedStore: fixed capacity in a caller-provided block (the CUDA launcher's workspace; also
// usable on the host); ensure() fails instead of growing.
template <typename T>
struct FixedStore {
  T* tv[2];
  T* vv[2];
  uint8_t* bv[2];
  T* scratch;       // kScratchRows * W values
  int32_t* iv;      // W neuron indices
  int64_t cap = 0;
  int W = 0;

  RS_HD static int64_t bytes(int W, int64_t cap) {
    const int64_t b = (2 * cap + 2 * cap * W + kScratchRows * int64_t(W)) * int64_t(sizeof(T)) +
                      4 * int64_t(W) + 2 * cap;
    return (b + 15) / 16 * 16;
  }
  RS_HD FixedStore(unsigned char* block, int W_, int64_t cap_) : cap(cap_), W(W_) {
    T* p = reinterpret_cast<T*>(block);
    tv[0] = p; tv[1] = p + cap;
    vv[0] = p + 2 * cap; vv[1] = vv[0] + cap * W;
    scratch = vv[1] + cap * W;
    iv = reinterpret_cast<int32_t*>(scratch + kScratchRows * W);
    bv[0] = reinterpret_cast<uint8_t*>(iv + W); bv[1] = bv[0] + cap;
  }
  RS_HD bool ensure(int, int64_t n) { return n <= cap; }
  RS_HD T* t(int h) { return tv[h]; }
  RS_HD uint8_t* is_break(int h) { return bv[h]; }
  RS_HD T* row(int h, int64_t k) { return vv[h] + k * W; }
  RS_HD T* scratch_row(SegmentScratchRow r) { return scratch + int64_t(r) * W; }
  RS_HD int32_t* idx() { return iv; }
};

// z[j] = b_j + sum_i W_ji in[i] for layer L.
template <typename T>
RS_HD void affine_row(const LayerSpec& L, const T* theta, const T* in, T* z) {
  for (int j = 0; j < L.out; ++j) {
    T s = L.b_off >= 0 ? theta[L.b_off + j] : T(0);
    for (int i = 0; i < L.in; ++i) s += layer_weight(L, theta, j, i) * in[i];
    z[j] = s;
  }
}

template <typename T>
RS_HD void snap_row(int w, const T* thr, T* z) {
  for (int j = 0; j < w; ++j)
    if (abs_(z[j]) <= thr[j]) z[j] = T(0);
}

// Item i's slice of the breakpoint buffer in the fill pass (bp_offsets given): its first value
// and room, false when the offsets do not fit the buffer (the item is then an error); in the count
// pass no slice (nullptr, room 0) and true.
template <typename T>
RS_HD bool breakpoint_slice(const SegmentArgs<T>& a, int64_t i, T*& out, int64_t& room) {
  out = nullptr;
  room = 0;
  if (a.bp_offsets == nullptr) return true;
  const int64_t o0 = a.bp_offsets[i], o1 = a.bp_offsets[i + 1];
  if (o0 < 0 || o1 < o0 || o1 > a.bp_capacity) return false;
  room = o1 - o0;
  out = room > 0 ? a.bp_values + o0 : nullptr;
  return true;
}

// Runs the network along the segment. On success returns true; half `h` then holds `n` points
// (t, breakpoint flag, output values). Returns false when the store could not hold the points.
template <typename T, typename Store>
RS_HD bool segment_pieces(const NetSpec& net, const T* theta, const T* xa, const T* xb, Store& st,
                          int64_t& n, int& h) {
  const T tol = zero_tol<T>();
  const T slope = T(net.slope);
  h = 0;
  n = 2;
  if (!st.ensure(0, 2)) return false;
  st.t(0)[0] = T(0); st.t(0)[1] = T(1);
  st.is_break(0)[0] = 0; st.is_break(0)[1] = 0;
  for (int i = 0; i < net.d_in; ++i) { st.row(0, 0)[i] = xa[i]; st.row(0, 1)[i] = xb[i]; }
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& L = net.layer[l];
    const int w = L.out, o = 1 - h;
    if (!st.ensure(o, n)) return false;
    if (!act_has_kink(L.act)) {  // affine layer: same points, new values
      for (int64_t k = 0; k < n; ++k) {
        affine_row(L, theta, st.row(h, k), st.row(o, k));
        for (int j = 0; j < w; ++j) st.row(o, k)[j] = act_value(L.act, st.row(o, k)[j], slope);
        st.t(o)[k] = st.t(h)[k];
        st.is_break(o)[k] = st.is_break(h)[k];
      }
      h = o;
      continue;
    }
    // Zero thresholds of this layer: tol * (|b_j| + sum_i |W_ji| * max |a|).
    T amax = T(0);
    for (int64_t k = 0; k < n; ++k)
      for (int i = 0; i < L.in; ++i) amax = amax > abs_(st.row(h, k)[i]) ? amax : abs_(st.row(h, k)[i]);
    T* thr = st.scratch_row(kZeroTol);
    for (int j = 0; j < w; ++j) {
      T s = L.b_off >= 0 ? abs_(theta[L.b_off + j]) : T(0);
      for (int i = 0; i < L.in; ++i) s += abs_(layer_weight(L, theta, j, i)) * amax;
      thr[j] = tol * s;
    }
    T* zp = st.scratch_row(kZPrev);
    T* zc = st.scratch_row(kZCur);
    T* lam = st.scratch_row(kCrossing);
    int32_t* idx = st.idx();
    affine_row(L, theta, st.row(h, 0), zc);
    snap_row(w, thr, zc);
    int64_t out = 0;
    auto emit = [&](T tk, uint8_t rk, const T* z) {
      st.t(o)[out] = tk;
      st.is_break(o)[out] = rk;
      for (int j = 0; j < w; ++j) st.row(o, out)[j] = z[j];
      ++out;
    };
    emit(st.t(h)[0], st.is_break(h)[0], zc);
    for (int64_t k = 1; k < n; ++k) {
      T* tmp = zp; zp = zc; zc = tmp;
      affine_row(L, theta, st.row(h, k), zc);
      snap_row(w, thr, zc);
      const T tp = st.t(h)[k - 1], tc = st.t(h)[k], len = tc - tp;
      int m = 0;
      for (int j = 0; j < w; ++j) {
        if ((zp[j] > T(0) && zc[j] < T(0)) || (zp[j] < T(0) && zc[j] > T(0))) {
          const T lj = zp[j] / (zp[j] - zc[j]);
          if (lj * len <= tol || (T(1) - lj) * len <= tol) continue;
          int q = m++;  // insertion sort by lambda
          while (q > 0 && lam[q - 1] > lj) { lam[q] = lam[q - 1]; idx[q] = idx[q - 1]; --q; }
          lam[q] = lj; idx[q] = j;
        }
      }
      if (!st.ensure(o, out + m + 1)) return false;
      for (int q = 0; q < m;) {
        int e = q;
        while (e + 1 < m && (lam[e + 1] - lam[q]) * len <= tol) ++e;
        const T lq = lam[q];
        T* z = st.row(o, out);
        for (int j = 0; j < w; ++j) z[j] = zp[j] + lq * (zc[j] - zp[j]);
        for (int r = q; r <= e; ++r) z[idx[r]] = T(0);
        st.t(o)[out] = tp + lq * len;
        st.is_break(o)[out] = 0;
        ++out;
        q = e + 1;
      }
      emit(tc, st.is_break(h)[k], zc);
    }
    n = out;
    h = o;
    // A point is a breakpoint when this layer's pattern differs between the midpoints beside it.
    for (int64_t k = 1; k + 1 < n; ++k) {
      const T* zl = st.row(h, k - 1);
      const T* z0 = st.row(h, k);
      const T* zr = st.row(h, k + 1);
      for (int j = 0; j < w; ++j) {
        if ((zl[j] + z0[j] > T(0)) != (z0[j] + zr[j] > T(0))) { st.is_break(h)[k] = 1; break; }
      }
    }
    for (int64_t k = 0; k < n; ++k)
      for (int j = 0; j < w; ++j) st.row(h, k)[j] = act_value(L.act, st.row(h, k)[j], slope);
  }
  return true;
}

// Output slopes of the pattern-pieces [k0, k1] and [k1, k2] agree (the "linear" merge rule).
template <typename T, typename Store>
RS_HD bool same_slope(Store& st, int h, int d_out, int64_t k0, int64_t k1, int64_t k2, T ymax) {
  const T rtol = sqrt_(machine_eps<T>());
  const T l1 = st.t(h)[k1] - st.t(h)[k0], l2 = st.t(h)[k2] - st.t(h)[k1];
  for (int d = 0; d < d_out; ++d) {
    const T g1 = (st.row(h, k1)[d] - st.row(h, k0)[d]) / l1;
    const T g2 = (st.row(h, k2)[d] - st.row(h, k1)[d]) / l2;
    const T gm = abs_(g1) > abs_(g2) ? abs_(g1) : abs_(g2);
    if (abs_(g1 - g2) > rtol * (gm + ymax * (T(1) / l1 + T(1) / l2))) return false;
  }
  return true;
}

// Number of pieces after segment_pieces; writes the interior breakpoints' t to out[0 .. room) if
// out is given (never past it: the caller compares the count with room + 1).
template <typename T, typename Store>
RS_HD int64_t segment_count(Store& st, int h, int64_t n, int d_out, int32_t merge, T* out,
                            int64_t room) {
  int64_t c = 0;
  if (merge == MERGE_ACTIVATION) {
    for (int64_t k = 1; k + 1 < n; ++k)
      if (st.is_break(h)[k]) { if (out && c < room) out[c] = st.t(h)[k]; ++c; }
    return c + 1;
  }
  T ymax = T(0);
  for (int64_t k = 0; k < n; ++k)
    for (int d = 0; d < d_out; ++d) ymax = ymax > abs_(st.row(h, k)[d]) ? ymax : abs_(st.row(h, k)[d]);
  auto next_break = [&](int64_t k) {
    ++k;
    while (k + 1 < n && !st.is_break(h)[k]) ++k;
    return k;
  };
  int64_t k0 = 0, k1 = next_break(0);
  while (k1 + 1 < n) {
    const int64_t k2 = next_break(k1);
    if (!same_slope(st, h, d_out, k0, k1, k2, ymax)) {
      if (out && c < room) out[c] = st.t(h)[k1];
      ++c;
    }
    k0 = k1;
    k1 = k2;
  }
  return c + 1;
}

}  // namespace rs
