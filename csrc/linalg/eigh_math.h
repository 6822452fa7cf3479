// The per-matrix arithmetic of the batched symmetric eigensolver, shared by the CPU (one matrix per
// thread at a time) and CUDA (one matrix per thread) launchers: Householder reduction to
// tridiagonal form and the implicit QL iteration with Wilkinson-type shifts (EISPACK's tred2 and
// tql2, after the public-domain JAMA transcription), eigenvalues sorted ascending. Backward stable,
// as LAPACK's syev: each computed eigenvalue is within a small multiple of P eps ||A||_2 of an
// exact one. Cost per matrix: ~(4/3) P^3 flops for the reduction and ~6 P^3 for the QL sweeps
// with vectors (O(P^2) without); memory: the P x P output matrix used as scratch, two P vectors.
//
// Layout: W (P x P, row-major) holds V^T while the solver runs, so eigenvector i is row i of W
// and every inner loop (rotations, reflector applications, the final sort) runs along a
// contiguous row; the launcher transposes W into V = [v_0 ... v_{P-1}] (columns) at the end.
#pragma once
#include <math.h>

#include <cstdint>
#include <limits>

#include "common/hostdevice.h"
#include "common/math_fn.h"

namespace rs {

// Iterations of the QL sweeps allowed per matrix, per eigenvalue (LAPACK's MAXIT); a matrix that
// needs more (it does not happen on finite input in practice) gets NaN eigenvalues and vectors.
inline constexpr int kEighMaxIterPerValue = 30;

// sum_k a[k] b[k] in four interleaved partial sums (a fixed order the compiler may vectorise).
template <typename T>
RS_HD T eigh_dot(const T* a, const T* b, int n) {
  T acc[4] = {0, 0, 0, 0};
  int k = 0;
  for (; k + 4 <= n; k += 4)
    for (int l = 0; l < 4; ++l) acc[l] += a[k + l] * b[k + l];
  for (; k < n; ++k) acc[0] += a[k] * b[k];
  return (acc[0] + acc[1]) + (acc[2] + acc[3]);
}

// Copies A's lower triangle (the half torch.linalg.eigh reads) into W as a full symmetric matrix
// and returns its largest |entry|: NaN when an entry of that half is NaN or inf.
template <typename T>
RS_HD T eigh_load(const T* A, T* W, int n) {
  T amax = 0;
  bool finite = true;
  for (int r = 0; r < n; ++r)
    for (int c = 0; c <= r; ++c) {
      const T v = A[r * n + c];
      finite = finite && v - v == T(0);  // false for NaN and inf
      amax = abs_(v) > amax ? abs_(v) : amax;
      W[r * n + c] = v;
      W[c * n + r] = v;
    }
  return finite ? amax : T(NAN);
}

// The power of two 2^k that brings amax into [1, 2) when it lies outside [2^-E/4, 2^E/4]
// (E = the dtype's largest exponent): the QL rotations square entries, which must neither
// overflow nor underflow; powers of two scale exactly. k is clamped so 2^k and 2^-k are normal.
template <typename T>
RS_HD int eigh_scale_exponent(T amax) {
  constexpr int E = std::numeric_limits<T>::max_exponent;
  int ex = 0;
  frexp(amax, &ex);  // amax = m 2^ex, m in [0.5, 1)
  if (amax == T(0) || (ex > -E / 4 && ex < E / 4)) return 0;
  const int k = 1 - ex;
  return k > E - 2 ? E - 2 : k < 2 - E ? 2 - E : k;
}

// Householder tridiagonalisation of the symmetric W (in place; V(r, c) = W[c n + r]): on return
// d holds the diagonal, e[1 ..] the subdiagonal (e[0] = 0) and, with Vectors, W = Q^T.
template <bool Vectors, typename T>
RS_HD void eigh_tridiagonalise(T* W, T* d, T* e, int n) {
  auto V = [&](int r, int c) -> T& { return W[c * n + r]; };
  for (int j = 0; j < n; ++j) d[j] = V(n - 1, j);
  for (int i = n - 1; i > 0; --i) {
    T scale = 0, h = 0;
    for (int k = 0; k < i; ++k) scale += abs_(d[k]);
    if (scale == T(0)) {
      e[i] = d[i - 1];
      for (int j = 0; j < i; ++j) {
        d[j] = V(i - 1, j);
        V(i, j) = 0;
        V(j, i) = 0;
      }
    } else {
      for (int k = 0; k < i; ++k) {
        d[k] /= scale;
        h += d[k] * d[k];
      }
      T f = d[i - 1];
      T g = sqrt_(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      // e = A u (u = d[0 .. i)), A the active block, kept full (both triangles) so the product
      // and the update below are contiguous column sweeps; u goes to V(0 .. i, i).
      for (int j = 0; j < i; ++j) e[j] = 0;
      for (int j = 0; j < i; ++j) {
        f = d[j];
        V(j, i) = f;
        const T* col = W + j * n;
        RS_SIMD for (int k = 0; k < i; ++k) e[k] += col[k] * f;
      }
      f = 0;
      for (int j = 0; j < i; ++j) {
        e[j] /= h;
        f += e[j] * d[j];
      }
      const T hh = f / (h + h);
      for (int j = 0; j < i; ++j) e[j] -= hh * d[j];
      for (int j = 0; j < i; ++j) {  // A -= u e^T + e u^T
        f = d[j];
        g = e[j];
        T* col = W + j * n;
        RS_SIMD for (int k = 0; k < i; ++k) col[k] -= f * e[k] + g * d[k];
      }
      for (int j = 0; j < i; ++j) {  // (after the update, which reads all of d)
        d[j] = V(i - 1, j);
        V(i, j) = 0;
      }
    }
    d[i] = h;
  }
  if (Vectors) {  // accumulate the reflectors into Q
    for (int i = 0; i < n - 1; ++i) {
      V(n - 1, i) = V(i, i);
      V(i, i) = 1;
      const T h = d[i + 1];
      T* next = W + (i + 1) * n;  // V(k, i + 1)
      if (h != T(0)) {
        for (int k = 0; k <= i; ++k) d[k] = next[k] / h;
        for (int j = 0; j <= i; ++j) {
          T* col = W + j * n;
          const T g = eigh_dot(next, col, i + 1);
          RS_SIMD for (int k = 0; k <= i; ++k) col[k] -= g * d[k];
        }
      }
      for (int k = 0; k <= i; ++k) next[k] = 0;
    }
  }
  // the diagonal: V(j, j), which the accumulation above moved to row n - 1
  for (int j = 0; j < n; ++j) {
    d[j] = Vectors ? V(n - 1, j) : V(j, j);
    if (Vectors) V(n - 1, j) = 0;
  }
  if (Vectors) V(n - 1, n - 1) = 1;
  e[0] = 0;
}

// Implicit QL on the tridiagonal (d, e) from eigh_tridiagonalise; with Vectors the rotations are
// applied to the rows of W (eigenvector i becomes row i). Sorts ascending. Returns false when the
// iteration limit is hit.
template <bool Vectors, typename T>
RS_HD bool eigh_tridiagonal_ql(T* W, T* d, T* e, int n) {
  const T eps = std::numeric_limits<T>::epsilon();
  for (int i = 1; i < n; ++i) e[i - 1] = e[i];
  e[n - 1] = 0;
  T f = 0, tst1 = 0;
  int budget = kEighMaxIterPerValue * n;
  for (int l = 0; l < n; ++l) {
    const T size = abs_(d[l]) + abs_(e[l]);
    tst1 = tst1 > size ? tst1 : size;
    int m = l;
    while (m < n - 1 && !(abs_(e[m]) <= eps * tst1)) ++m;
    if (m > l) {
      do {
        if (--budget < 0) return false;
        T g = d[l];
        T p = (d[l + 1] - g) / (2 * e[l]);
        T r = sqrt_(p * p + T(1));
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const T dl1 = d[l + 1];
        T h = g - d[l];
        for (int i = l + 2; i < n; ++i) d[i] -= h;
        f += h;
        p = d[m];
        T c = 1, c2 = 1, c3 = 1, s = 0, s2 = 0;
        const T el1 = e[l + 1];
        for (int i = m - 1; i >= l; --i) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = sqrt_(p * p + e[i] * e[i]);
          const T inv = T(1) / r;
          e[i + 1] = s * r;
          s = e[i] * inv;
          c = p * inv;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (Vectors) {
            T* a = W + i * n;
            T* b = W + (i + 1) * n;
            RS_SIMD for (int k = 0; k < n; ++k) {
              const T t = b[k];
              b[k] = s * a[k] + c * t;
              a[k] = c * a[k] - s * t;
            }
          }
        }
        p = -s * s2 * c3 * el1 * e[l] / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (abs_(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  for (int i = 0; i < n - 1; ++i) {  // selection sort: at most n - 1 row swaps
    int k = i;
    for (int j = i + 1; j < n; ++j)
      if (d[j] < d[k]) k = j;
    if (k != i) {
      const T t = d[k];
      d[k] = d[i];
      d[i] = t;
      if (Vectors) {
        T* a = W + i * n;
        T* b = W + k * n;
        for (int j = 0; j < n; ++j) {
          const T u = a[j];
          a[j] = b[j];
          b[j] = u;
        }
      }
    }
  }
  return true;
}

// One matrix: eigenvalues of A's lower triangle into d (ascending), eigenvectors into the columns
// of V (with Vectors; V is scratch either way), e scratch of n. Far from 1 in magnitude, the
// matrix is scaled by a power of two (eigh_scale_exponent) and the eigenvalues scaled back. A
// matrix with a NaN or inf in its lower triangle, or whose iteration does not converge, gets NaN
// values (and vectors).
template <bool Vectors, typename T>
RS_HD void eigh_matrix(const T* A, T* V, T* d, T* e, int n) {
  const T amax = eigh_load(A, V, n);
  bool ok = amax == amax;
  const int k = ok ? eigh_scale_exponent(amax) : 0;
  if (k != 0) {
    const T up = ldexp(T(1), k);
    for (int i = 0; i < n * n; ++i) V[i] *= up;
  }
  if (ok) {
    eigh_tridiagonalise<Vectors>(V, d, e, n);
    ok = eigh_tridiagonal_ql<Vectors>(V, d, e, n);
  }
  if (!ok) {
    const T nan = T(NAN);
    for (int i = 0; i < n; ++i) d[i] = nan;
    if (Vectors)
      for (int i = 0; i < n * n; ++i) V[i] = nan;
    return;
  }
  if (k != 0) {
    const T down = ldexp(T(1), -k);
    for (int i = 0; i < n; ++i) d[i] *= down;
  }
  if (Vectors)  // W = V^T -> V
    for (int r = 0; r < n; ++r)
      for (int c = r + 1; c < n; ++c) {
        const T t = V[r * n + c];
        V[r * n + c] = V[c * n + r];
        V[c * n + r] = t;
      }
}

}  // namespace rs
