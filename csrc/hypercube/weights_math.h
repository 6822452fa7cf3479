// Per-vertex-pair weights p(x), p(-x) of the hypercube weight families, shared by the CPU and CUDA
// sweeps. Per chunk (fixed high bits) chunk_state costs O(n^2) for Ising and nothing otherwise;
// per pair pair_weights costs O(1) (Uniform, Product, Table) or O(c) + 2 exp (Ising), computed
// once per pair and reused for every w of the batch.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "common/math_fn.h"
#include "hypercube/hypercube.h"

namespace rs {

template <typename T>
RS_HD T spin(int64_t k, int bit) {
  return ((k >> bit) & 1) ? T(1) : T(-1);
}

// What a chunk contributes to the energy of every pair in it (Ising only): the field the high
// spins put on each low spin, their own quadratic energy, and their linear energy h . x_high.
template <typename T>
struct HcChunkState {
  T field[kMaxChunkBits];
  T q_high = 0;
  T l_high = 0;
};

template <typename T>
RS_HD void chunk_state(const HcWeights<T>& W, int64_t kh, HcChunkState<T>& st) {
  if (W.kind != kIsingW) return;
  const int n = W.n, c = W.c;
  const int64_t u0 = kh << c;  // bit n-1 clear: x_{n-1} = -1
  for (int i = 0; i < c; ++i) {
    T a = 0;
    for (int j = c; j < n; ++j) a += W.J[i * n + j] * spin<T>(u0, j);
    st.field[i] = a;
  }
  T q = 0, l = 0;
  for (int j = c; j < n; ++j) {
    const T sj = spin<T>(u0, j);
    l += W.h[j] * sj;
    T r = 0;
    for (int k = j + 1; k < n; ++k) r += W.J[j * n + k] * spin<T>(u0, k);
    q += sj * r;
  }
  st.q_high = q;
  st.l_high = l;
}

// Ising energy of pair u = (kh, kl): E(x) = q + l, E(-x) = q - l (q quadratic, l linear in x).
template <typename T>
RS_HD void pair_energy(const HcWeights<T>& W, const HcChunkState<T>& st, int64_t kl, T& q, T& l) {
  T cross = 0;
  for (int i = 0; i < W.c; ++i) cross += st.field[i] * spin<T>(kl, i);
  q = st.q_high + W.lo[kl] + cross;
  l = st.l_high + W.lo_lin[kl];
}

// Ising: log p(x) and log p(-x) for the pair u = (kh << c) | kl of the chunk st describes.
template <typename T>
RS_HD void ising_log_weights(const HcWeights<T>& W, const HcChunkState<T>& st, int64_t kl, T& lp,
                             T& lm) {
  T q, l;
  pair_energy(W, st, kl, q, l);
  lp = (q + l - W.energy_shift) - W.log_sum;
  lm = (q - l - W.energy_shift) - W.log_sum;
}

// wp = p(x), wm = p(-x) for the pair u = (kh << c) | kl.
template <typename T>
RS_HD void pair_weights(const HcWeights<T>& W, const HcChunkState<T>& st, int64_t kh, int64_t kl,
                        T& wp, T& wm) {
  switch (W.kind) {
    case kProductW: {
      const int64_t mlo = (int64_t(1) << W.c) - 1, mhi = (int64_t(1) << (W.n - W.c)) - 1;
      wp = W.lo[kl] * W.hi[kh];
      wm = W.lo[kl ^ mlo] * W.hi[kh ^ mhi];
      break;
    }
    case kIsingW:
      ising_log_weights(W, st, kl, wp, wm);
      wp = exp_(wp);
      wm = exp_(wm);
      break;
    case kTableW: {
      const int64_t u = (kh << W.c) | kl, all = (int64_t(1) << W.n) - 1;
      wp = W.table[u];
      wm = W.table[u ^ all];
      break;
    }
    default:
      wp = wm = W.uniform;
  }
}

// Indicator of <w,x> >= 0 under the tie rule: 1 above tol, 0 below -tol, `tie` in between.
template <typename T>
RS_HD T side(T s, T tol, T tie) {
  return s > tol ? T(1) : (s < -tol ? T(0) : tie);
}

// Online log-sum-exp: folds exp(e) into (m, s) where the running total is s * exp(m).
RS_HD void lse_push(double& m, double& s, double e) {
  if (e > m) {
    s = s * exp_(m - e) + 1.0;
    m = e;
  } else {
    s += exp_(e - m);
  }
}

// log Z's inner sweep over chunk kh: folds the energies of its 2 * 2^c vertices (x and -x per
// pair) into the running log-sum-exp (m, s). O(2^c) after chunk_state's O(n^2).
template <typename T>
RS_HD void chunk_log_partition(const HcWeights<T>& W, int64_t kh, double& m, double& s) {
  HcChunkState<T> st;
  chunk_state(W, kh, st);
  const int64_t nlo = int64_t(1) << W.c;
  for (int64_t kl = 0; kl < nlo; ++kl) {
    T q, l;
    pair_energy(W, st, kl, q, l);
    lse_push(m, s, double(q + l));
    lse_push(m, s, double(q - l));
  }
}

// delta's inner scan over one chunk: min over the low halves kl of |hs + L[kl]| (hs = the high
// bits' partial sum of chunk kh), folded into (best, arg) with arg the vertex index. O(2^c).
template <typename T>
RS_HD void delta_scan(T hs, const T* L, int64_t nlo, int64_t kh, int c, T& best, int64_t& arg) {
  for (int64_t kl = 0; kl < nlo; ++kl) {
    const T v = abs_(hs + L[kl]);
    if (v < best) {
      best = v;
      arg = (kh << c) | kl;
    }
  }
}

}  // namespace rs
