// CPU meet-in-the-middle for product weights and for delta. Per w (OpenMP over the batch), each
// half's 2^h subset sums are generated already sorted by merging (Horowitz-Sahni: sorted sums of
// j+1 coordinates = merge(sorted_j - w_j, sorted_j + w_j), O(2^h) in all, no sort). Then:
//  f:     two-pointer sweeps give, for every vertex a of one half, G(a) = sum of p over the other
//         half's vertices b with s_a + s_b >= 0 (tie rule applied), c[a] = p(a) G(a); a fold of c
//         over the bits gives sum_a c[a] x_i(a) for that half's coordinates, sum c = the mass.
//  delta: one two-pointer sweep finds min |s_a + s_b|.
// Time O(2^hA + 2^hB) = O(2^(n/2)) per w (generation, sweeps and folds are all linear in the half
// size); memory per thread about 32 bytes * 2^max(hA, hB).
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "hypercube/hypercube.h"

namespace rs {

namespace {

template <typename T>
struct SortedSums {
  std::vector<T> v;          // subset sums, ascending
  std::vector<uint32_t> k;   // the vertex index (bits of the half) of each
};

// All 2^h sums sum_j w_j x_j over x in {-1,1}^h, ascending, each with its vertex index.
template <typename T>
void sorted_sums(const T* w, int h, SortedSums<T>& out, SortedSums<T>& tmp) {
  const size_t total = size_t(1) << h;
  out.v.assign(total, T(0));
  out.k.assign(total, 0);
  tmp.v.resize(total);
  tmp.k.resize(total);
  size_t size = 1;
  for (int j = 0; j < h; ++j) {
    const T wj = w[j];
    const uint32_t bit = uint32_t(1) << j;
    size_t p = 0, q = 0, o = 0;
    // list 1: v - wj (x_j = -1); list 2: v + wj (x_j = +1); stable merge, list 1 first on ties.
    while (p < size && q < size) {
      const T a = out.v[p] - wj, b = out.v[q] + wj;
      if (b < a) {
        tmp.v[o] = b;
        tmp.k[o++] = out.k[q++] | bit;
      } else {
        tmp.v[o] = a;
        tmp.k[o++] = out.k[p++];
      }
    }
    for (; p < size; ++p, ++o) {
      tmp.v[o] = out.v[p] - wj;
      tmp.k[o] = out.k[p];
    }
    for (; q < size; ++q, ++o) {
      tmp.v[o] = out.v[q] + wj;
      tmp.k[o] = out.k[q] | bit;
    }
    size *= 2;
    std::swap(out.v, tmp.v);
    std::swap(out.k, tmp.k);
  }
}

// c[k_a] = p_a(k_a) * sum_{b : s_a + s_b >= 0 (tie rule)} p_b(k_b), for every vertex a of half A.
template <typename T>
void side_mass(const SortedSums<T>& A, const T* pA, const SortedSums<T>& Bs, const T* pB, T tol,
               T tie, std::vector<double>& c) {
  const size_t na = A.v.size(), nb = Bs.v.size();
  c.assign(na, 0.0);
  size_t ji = nb, je = nb;    // B entries [ji, nb) satisfy s_b >= -s_a - tol; [je, nb) s_b > -s_a + tol
  double gi = 0, ge = 0;
  for (size_t i = 0; i < na; ++i) {  // s_a ascending: both thresholds descend
    const T sa = A.v[i];
    while (ji > 0 && Bs.v[ji - 1] >= -sa - tol) gi += double(pB[Bs.k[--ji]]);
    while (je > 0 && Bs.v[je - 1] > -sa + tol) ge += double(pB[Bs.k[--je]]);
    c[A.k[i]] = double(pA[A.k[i]]) * (ge + double(tie) * (gi - ge));
  }
}

// out[i] += sum_k c[k] x_i(k) for i < h (c is destroyed); returns sum_k c[k].
inline double fold_into(std::vector<double>& c, int h, double* out) {
  for (int j = h - 1; j >= 0; --j) {
    const size_t half = size_t(1) << j;
    double lo = 0, hi = 0;
    for (size_t k = 0; k < half; ++k) {
      lo += c[k];
      hi += c[k + half];
      c[k] += c[k + half];
    }
    out[j] += hi - lo;
  }
  return c[0];
}

}  // namespace

template <typename T>
void hc_mitm_f_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int) {
    SortedSums<T> A, Bs, tmp;
    std::vector<double> c;
    for (int64_t b = b0; b < b1; ++b) {
      const T* w = a.w + b * n;
      double* o = a.out + b * (n + 1);
      for (int i = 0; i <= n; ++i) o[i] = 0;
      sorted_sums(w, hA, A, tmp);
      sorted_sums(w + hA, hB, Bs, tmp);
      side_mass(A, a.pA, Bs, a.pB, a.tol[b], a.tie, c);
      o[n] = fold_into(c, hA, o);
      side_mass(Bs, a.pB, A, a.pA, a.tol[b], a.tie, c);
      fold_into(c, hB, o + hA);
    }
  });
}

template <typename T>
void hc_mitm_delta_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int) {
    SortedSums<T> A, Bs, tmp;
    for (int64_t b = b0; b < b1; ++b) {
      const T* w = a.w + b * n;
      sorted_sums(w, hA, A, tmp);
      sorted_sums(w + hA, hB, Bs, tmp);
      // For s_a ascending, the s_b closest to -s_a moves down: keep j at the first s_b >= -s_a.
      T best = std::numeric_limits<T>::infinity();
      int64_t arg = 0;
      size_t j = Bs.v.size();
      for (size_t i = 0; i < A.v.size(); ++i) {
        const T sa = A.v[i];
        while (j > 0 && Bs.v[j - 1] >= -sa) --j;
        for (size_t jj = (j > 0 ? j - 1 : 0); jj < std::min(j + 1, Bs.v.size()); ++jj) {
          const T v = std::abs(sa + Bs.v[jj]);
          if (v < best) {
            best = v;
            arg = int64_t(A.k[i]) | (int64_t(Bs.k[jj]) << hA);
          }
        }
      }
      a.out_val[b] = best;
      a.out_idx[b] = arg;
    }
  });
}

template void hc_mitm_f_cpu<float>(const HcMitmArgs<float>&);
template void hc_mitm_f_cpu<double>(const HcMitmArgs<double>&);
template void hc_mitm_delta_cpu<float>(const HcMitmArgs<float>&);
template void hc_mitm_delta_cpu<double>(const HcMitmArgs<double>&);

}  // namespace rs
