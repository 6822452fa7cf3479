// CPU meet-in-the-middle for product weights and for delta. Per w (threads over the batch), each
// half's 2^h subset sums are generated already sorted by merging (Horowitz-Sahni: sorted sums of
// j+1 coordinates = merge(sorted_j - w_j, sorted_j + w_j), O(2^h) in all, no sort). Then:
//  f:     two-pointer sweeps give, for every vertex a of one half, G(a) = sum of p over the other
//         half's vertices b with s_a + s_b >= 0 (tie rule applied), c[a] = p(a) G(a); summing
//         c[a] x_i(a) in the same sequential pass gives that half's coordinates of f, sum c the
//         mass. Probabilities travel with the sums through the merges: all access is sequential.
//  delta: one two-pointer sweep finds min |s_a + s_b|.
// Time O(2^(n/2) n) per w (generation and sweeps are linear in the half size, the coordinate
// sums O(h) per vertex); memory per thread about 40 bytes * 2^max(hA, hB).
#include <cmath>
#include <cstdint>
#include <initializer_list>
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
  std::vector<T> p;          // its probability (f only; empty for delta)
};

// All 2^h sums sum_j w_j x_j over x in {-1,1}^h, ascending, each with its vertex index and, when
// q is given (the half's product weights, q_j = P(x_j = +1)), its probability.
template <typename T>
void sorted_sums(const T* w, const T* q, int h, SortedSums<T>& out, SortedSums<T>& tmp) {
  const size_t total = size_t(1) << h;
  const bool with_p = q != nullptr;
  out.v.assign(1, T(0));
  out.k.assign(1, 0);
  out.p.assign(with_p ? 1 : 0, T(1));
  for (auto* s : {&out, &tmp}) {
    s->v.resize(total);
    s->k.resize(total);
    s->p.resize(with_p ? total : 0);
  }
  size_t size = 1;
  for (int j = 0; j < h && !stop_requested(); ++j) {
    const T wj = w[j], qp = with_p ? q[j] : T(0), qm = T(1) - qp;
    const uint32_t bit = uint32_t(1) << j;
    size_t a = 0, b = 0, o = 0;
    // list 1: v - wj (x_j = -1); list 2: v + wj (x_j = +1); stable merge, list 1 first on ties.
    auto take = [&](bool plus) {
      const size_t i = plus ? b++ : a++;
      tmp.v[o] = plus ? out.v[i] + wj : out.v[i] - wj;
      tmp.k[o] = plus ? (out.k[i] | bit) : out.k[i];
      if (with_p) tmp.p[o] = out.p[i] * (plus ? qp : qm);
      ++o;
    };
    while (a < size && b < size) take(out.v[b] + wj < out.v[a] - wj);
    while (a < size) take(false);
    while (b < size) take(true);
    size *= 2;
    std::swap(out.v, tmp.v);
    std::swap(out.k, tmp.k);
    std::swap(out.p, tmp.p);
  }
}

// For every vertex a of half A (in A's sorted order): c = p(a) * sum of p(b) over the vertices b
// of half B with s_a + s_b >= 0 under the tie rule; accumulates out[j] += sum_a c x_j(a) for the
// h_A coordinates of A (sequential pass, O(h_A) per vertex) and returns sum_a c.
template <typename T>
double side_sums(const SortedSums<T>& A, const SortedSums<T>& Bs, int hA, T tol, T tie,
                 double* out) {
  const size_t na = A.v.size(), nb = Bs.v.size();
  size_t ji = nb, je = nb;    // B entries [ji, nb) satisfy s_b >= -s_a - tol; [je, nb) s_b > -s_a + tol
  double gi = 0, ge = 0, total = 0;
  double pos[32] = {0};       // sum of c over the vertices with x_j = +1
  for (size_t i = 0; i < na; ++i) {  // s_a ascending: both thresholds descend
    if ((i & 0xFFFFF) == 0 && stop_requested()) break;
    const T sa = A.v[i];
    while (ji > 0 && Bs.v[ji - 1] >= -sa - tol) gi += double(Bs.p[--ji]);
    while (je > 0 && Bs.v[je - 1] > -sa + tol) ge += double(Bs.p[--je]);
    const double c = double(A.p[i]) * (ge + double(tie) * (gi - ge));
    const uint32_t k = A.k[i];
    total += c;
    for (int j = 0; j < hA; ++j) pos[j] += c * double((k >> j) & 1u);
  }
  for (int j = 0; j < hA; ++j) out[j] += 2 * pos[j] - total;
  return total;
}

}  // namespace

template <typename T>
void hc_mitm_f_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int) {
    SortedSums<T> A, Bs, tmp;
    for (int64_t b = b0; b < b1 && !stop_requested(); ++b) {
      const T* w = a.w + b * n;
      double* o = a.out + b * (n + 1);
      for (int i = 0; i <= n; ++i) o[i] = 0;
      sorted_sums(w, a.qA, hA, A, tmp);
      sorted_sums(w + hA, a.qA + hA, hB, Bs, tmp);
      o[n] = side_sums(A, Bs, hA, a.tol[b], a.tie, o);
      side_sums(Bs, A, hB, a.tol[b], a.tie, o + hA);
    }
  });
}

template <typename T>
void hc_mitm_delta_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int) {
    SortedSums<T> A, Bs, tmp;
    for (int64_t b = b0; b < b1 && !stop_requested(); ++b) {
      const T* w = a.w + b * n;
      sorted_sums<T>(w, nullptr, hA, A, tmp);
      sorted_sums<T>(w + hA, nullptr, hB, Bs, tmp);
      // For s_a ascending, the s_b closest to -s_a moves down: keep j at the first s_b >= -s_a.
      T best = std::numeric_limits<T>::infinity();
      int64_t arg = 0;
      size_t j = Bs.v.size();
      for (size_t i = 0; i < A.v.size(); ++i) {
        if ((i & 0xFFFFF) == 0 && stop_requested()) break;
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
