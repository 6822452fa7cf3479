// CPU meet in the middle for product weights and for delta. Per w (threads over the batch), each
// half's 2^h subset sums are generated already sorted (sorted_sums in mitm_merge.h: merges,
// O(2^h) in all, no sort). Then, with X = A's sums ascending and Y = minus B's sums (B
// descending, so Y ascends):
//  delta: min |s_a + s_b| = min |x - y| over the adjacent pairs of the merge of X and Y: one merge.
//  f:     one merge of X with Y - tol gives every vertex on either side its rank: how many of the
//         other side's sorted vertices lie beyond its tie threshold; tied pairs (|s_a + s_b| <=
//         tol, rare for real-valued w) correct the ranks to ties excluded. The other side's
//         probability at those ranks gives G(a) = P_B(s_a + s_b > tol) + tie P_B(tied) (and
//         G(b) likewise), c = p(a) G(a); summing c by two halves of a's vertex index (tables in
//         L2) gives that half's coordinates of f, sum c the mass. A vertex's probability is the
//         product of one table entry per byte of its index (ByteProbs); Uniform weights use counts.
// Time O(2^(n/2) n) per w: at n = 48 on the Intel AVX-512 host 0.06 s per half's sums, 0.03 s
// per merge. Memory per thread (hc_mitm_thread_bytes): 12 bytes per entry of each half's sorted
// list (8 + 4 for float64, 4 + 4 for float32: the value and the vertex), a ping-pong buffer of
// half the larger list, and for f two 4-byte ranks and (product weights) one 8-byte cumulative
// probability per entry; allocated once per thread and call, never zero-filled. Every loop over
// 2^h entries checks for a stop each kStopBlock entries, so Ctrl-C stops a call within
// milliseconds of work. The merges assume finite sums (no NaN): mitm_args checks that each row's
// sum of |w_i| is finite.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "common/parallel.h"
#include "hypercube/hypercube.h"
#include "hypercube/mitm_merge.h"

namespace rs {

namespace {

using namespace mitm;

// The probability of a vertex of one half under product weights q_j = P(x_j = +1): the product,
// over the bytes of its index, of table[t][byte t] (each entry the product over that byte's 8
// coordinates), in double. h <= 26 (n <= 52): at most 4 bytes.
struct ByteProbs {
  double table[4][256];
  int bytes = 0;
  template <typename T>
  ByteProbs(const T* q, int h) : bytes((h + 7) / 8) {
    for (int t = 0; t < bytes; ++t)
      for (int v = 0; v < 256; ++v) {
        double p = 1;
        for (int j = 8 * t; j < std::min(h, 8 * t + 8); ++j)
          p *= ((v >> (j - 8 * t)) & 1) ? double(q[j]) : 1 - double(q[j]);
        table[t][v] = p;
      }
  }
  double operator()(uint32_t k) const {
    double p = table[0][k & 255u];
    for (int t = 1; t < bytes; ++t) p *= table[t][(k >> (8 * t)) & 255u];
    return p;
  }
};

// One thread's buffers, reused for every w it takes in a call.
template <typename T>
struct MitmScratch {
  SumsBuffer<T> A, B, pingpong;
  Buffer<uint32_t> ranks[4];     // f only
  Buffer<double> probability[2];  // product weights only
  std::vector<double> tables;     // side_sums' coordinate tables
};

// delta = min |s_a + s_b| and the vertex pair attaining it (first in merged order).
template <typename T>
bool min_pair(const Sums<T>& A, const Sums<T>& B, int hA, T& best_value, int64_t& best_index) {
  const T* bv = B.v + (B.size - 1);  // Y(j) = -bv[-j]; bv[-B.size] is B's -inf sentinel
  auto x = [&](size_t i) { return A.v[i]; };
  auto y = [&](size_t j) { return -bv[-ptrdiff_t(j)]; };
  T best[kChains];
  size_t bi[kChains] = {}, bj[kChains] = {};
  std::fill(best, best + kChains, std::numeric_limits<T>::infinity());
  const bool done = merge_chains(A.size, B.size, x, y,
                                 [&](int c, size_t i, size_t j, T xi, T yj, size_t) {
    const T d = std::abs(xi - yj);  // |s_a + s_b|, with the bits of s_a + s_b
    if (d < best[c]) {              // rare: a predictable branch
      best[c] = d;
      bi[c] = i;
      bj[c] = j;
    }
  });
  int c = 0;
  for (int d = 1; d < kChains; ++d)
    if (best[d] < best[c]) c = d;
  best_value = best[c];
  best_index = int64_t(A.k[bi[c]]) | (int64_t(B.k[B.size - 1 - bj[c]]) << hA);
  return done;
}

// acc[r] = the probability of the list's r highest entries (r = 0..size), summed from the top.
template <typename T>
bool probability_from_top(const Sums<T>& s, const ByteProbs& p, double* acc) {
  acc[0] = 0;
  for (size_t r = 0; r < s.size; ++r) {
    if (r % kStopBlock == 0 && stop_requested()) return false;
    acc[r + 1] = acc[r] + p(s.k[s.size - 1 - r]);
  }
  return true;
}

// One side's coordinates of f: for each vertex e of list S (ascending), c(e, k) (k its vertex
// index) is its term p(e) g(e), g(e) the other side's probability beyond e's tie thresholds (tie
// rule applied), over `scale`. Adds scale sum_e c x_j(e) to out[j] for S's h coordinates and
// returns scale sum_e c (when total is not null). The coordinate sums go through two tables, c added to entry (low
// ceil(h/2) bits of k) of one and (the other bits) of the other: two adds per vertex into at
// most 2 x 64 KiB (L2; faster than three byte tables in L1 at h = 24, measured), then
// sum_e c [bit j of k] is the sum of a table's entries with that bit set (O(2^(h/2) h) once).
template <typename T, class C>
bool side_sums(const Sums<T>& S, int h, const C& c_of, double scale, std::vector<double>& tables,
               double* out, double* total = nullptr) {
  const int lo_bits = (h + 1) / 2;
  const size_t n_lo = size_t(1) << lo_bits, n_hi = size_t(1) << (h - lo_bits);
  const uint32_t lo_mask = uint32_t(n_lo - 1);
  tables.assign(n_lo + n_hi, 0.0);
  double* lo = tables.data();
  double* hi = lo + n_lo;
  for (size_t e0 = 0; e0 < S.size; e0 += kStopBlock) {
    if (stop_requested()) return false;
    for (size_t e = e0, e1 = std::min(S.size, e0 + kStopBlock); e < e1; ++e) {
      const uint32_t k = S.k[e];
      const double c = c_of(e, k);
      lo[k & lo_mask] += c;
      hi[k >> lo_bits] += c;
    }
  }
  double sum = 0;  // from a table: no serial chain of 2^h additions in the loop
  for (size_t v = 0; v < n_lo; ++v) sum += lo[v];
  for (int j = 0; j < h; ++j) {
    const double* row = j < lo_bits ? lo : hi;
    const int bit = j < lo_bits ? j : j - lo_bits;
    double pos = 0;  // sum of c over the vertices with x_j = +1
    for (size_t v = 0, nv = j < lo_bits ? n_lo : n_hi; v < nv; ++v)
      pos += ((v >> bit) & 1) ? row[v] : 0.0;
    out[j] += scale * (2 * pos - sum);
  }
  if (total) *total = scale * sum;
  return true;
}

// f (out[0..n)) and the mass (out[n]) of one w from its two sorted halves; out zeroed by the
// caller. G(a) = P_B(s_a + s_b > tol) + tie P_B(|s_a + s_b| <= tol), and G(b) likewise: with
// y(b) = -s_b - tol, a pair is a tie when y(b) <= x(a) = s_a <= y(b) + 2 tol (|s_a + s_b| <= tol
// to rounding, the tolerance's own scale), beyond the tie when y(b) + 2 tol < x(a).
// mass_A(r) / mass_B(r): the probability of a list's r highest entries (a count for Uniform
// weights), prob_A / prob_B (k) a vertex's probability (1 for Uniform, where `scale` = p(a) p(b)
// = 2^-n makes the terms counts, halves with tie 1/2, summed exactly: the same bits as the
// general path, whose sums of powers of two are exact too).
template <typename T, class MA, class MB, class PA, class PB>
bool f_from_halves(const Sums<T>& A, const Sums<T>& B, const MA& mass_A, const MB& mass_B,
                   const PA& prob_A, const PB& prob_B, double scale, int hA, int hB, T tol,
                   T tie, MitmScratch<T>& s, double* out) {
  const size_t nA = A.size, nB = B.size;
  const T* av = A.v;
  const T* bv = B.v + (nB - 1);  // Y order (B descending): y(j) from bv[-j]; bv[-nB] = -inf
  const T two_tol = 2 * tol;
  auto x = [av](size_t i) { return av[i]; };
  auto y = [bv, tol](size_t j) { return -bv[-ptrdiff_t(j)] - tol; };
  auto y_hi = [bv, tol, two_tol](size_t j) { return (-bv[-ptrdiff_t(j)] - tol) + two_tol; };
  // Ranks with ties included, by one merge (b first on ties): a's counts B's highest entries
  // with y(b) <= x(a); b's (Y order) counts A's lowest entries with x(a) < y(b). The step that
  // takes an entry writes its rank, the other list's count then (address and value selected by
  // arithmetic: one store); at b's step the head of A is its first a with x(a) >= y(b), so b has
  // ties iff that x(a) <= y(b) + 2 tol: bit kTied of b's rank (ranks < 2^27).
  constexpr uint32_t kTied = uint32_t(1) << 31;
  uint32_t* rA = s.ranks[0].reserve(nA);
  uint32_t* rB = s.ranks[1].reserve(nB);
  if (!merge_chains(nB, nA, y, x, [&](int, size_t j, size_t i, T yj, T xi, size_t t) {
        const uint32_t tied = uint32_t(xi <= yj + two_tol) << 31;
        *select(t, rB + j, rA + i) = uint32_t(select(t, i, j)) | (tied & (uint32_t(t) - 1));
      }))
    return false;
  const double tv = double(tie);
  auto term_A = [&](size_t e, uint32_t k, size_t re) {  // re: b beyond the tie
    const double gi = mass_B(rA[e]), ge = mass_B(re);
    return prob_A(k) * (ge + tv * (gi - ge));
  };
  auto term_B = [&](uint32_t k, size_t ri, size_t re) {  // a short of the tie: ri, re
    const double gi = mass_A(nA - ri), ge = mass_A(nA - re);
    return prob_B(k) * (ge + tv * (gi - ge));
  };
  // Ranks with ties excluded differ by the entry's tied pairs: for a tied b, the a from its rank
  // up while x(a) <= y(b) + 2 tol; each such a has one b fewer. Tied pairs are few for
  // real-valued w (tens at n = 48), so B's side walks them and lists their a for A's side; up
  // to 2^n for integer w, where once the list would pass min(nA, 2^20) entries a second merge
  // (a first on ties against y + 2 tol) gives every excluded rank instead. The cap bounds the
  // walks and the list's sort (no stop check inside) to milliseconds.
  const size_t max_tied = std::min(nA, size_t(1) << 20);
  uint32_t* tied_a = s.ranks[2].reserve(nA);
  size_t n_tied = 0;
  bool overflow = false;
  auto walk_B = [&](size_t e, uint32_t k) {
    const size_t r = nB - 1 - e;  // b's place in Y order
    const size_t ri = rB[r] & ~kTied;
    size_t re = ri;
    if (rB[r] & kTied)
      for (const T yh = y_hi(r); !overflow && x(re) <= yh; ++re) {  // x(nA) = +inf ends it
        overflow = n_tied == max_tied;
        if (!overflow) tied_a[n_tied++] = uint32_t(re);
      }
    return term_B(k, ri, re);
  };
  double mass;
  if (!side_sums(B, hB, walk_B, scale, s.tables, out + hA)) return false;
  if (!overflow) {
    std::sort(tied_a, tied_a + n_tied);
    size_t next = 0;
    auto listed_A = [&](size_t e, uint32_t k) {
      size_t re = rA[e];
      for (; next < n_tied && tied_a[next] == e; ++next) --re;
      return term_A(e, k, re);
    };
    if (!side_sums(A, hA, listed_A, scale, s.tables, out, &mass)) return false;
  } else {
    uint32_t* reA = s.ranks[2].reserve(nA);
    uint32_t* reB = s.ranks[3].reserve(nB);
    if (!merge_chains(nA, nB, x, y_hi, [&](int, size_t i, size_t j, T, T, size_t t) {
          *select(t, reA + i, reB + j) = uint32_t(select(t, j, i));
        }))
      return false;
    std::fill(out + hA, out + hA + hB, 0.0);
    auto merged_A = [&](size_t e, uint32_t k) { return term_A(e, k, reA[e]); };
    auto merged_B = [&](size_t e, uint32_t k) {
      const size_t r = nB - 1 - e;
      return term_B(k, rB[r] & ~kTied, reB[r]);
    };
    if (!side_sums(A, hA, merged_A, scale, s.tables, out, &mass) ||
        !side_sums(B, hB, merged_B, scale, s.tables, out + hA))
      return false;
  }
  out[hA + hB] = mass;
  return true;
}

// f_from_halves for product weights: the cumulative probabilities from the top of each list.
template <typename T>
bool f_product(const Sums<T>& A, const Sums<T>& B, const ByteProbs& pA, const ByteProbs& pB,
               int hA, int hB, T tol, T tie, MitmScratch<T>& s, double* out) {
  double* accA = s.probability[0].reserve(A.size + 1);
  double* accB = s.probability[1].reserve(B.size + 1);
  if (!probability_from_top(A, pA, accA) || !probability_from_top(B, pB, accB)) return false;
  return f_from_halves(A, B, [accA](size_t r) { return accA[r]; },
                       [accB](size_t r) { return accB[r]; }, pA, pB, 1.0, hA, hB, tol, tie, s,
                       out);
}

// f_from_halves for Uniform weights: counts, times 2^-n.
template <typename T>
bool f_uniform(const Sums<T>& A, const Sums<T>& B, int hA, int hB, T tol, T tie,
               MitmScratch<T>& s, double* out) {
  auto count = [](size_t r) { return double(r); };
  auto one = [](uint32_t) { return 1.0; };
  return f_from_halves(A, B, count, count, one, one, std::ldexp(1.0, -(hA + hB)), hA, hB, tol,
                       tie, s, out);
}

}  // namespace

template <typename T>
void hc_mitm_f_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  const ByteProbs pA(a.qA, hA), pB(a.qA + hA, hB);
  const bool uniform = std::all_of(a.qA, a.qA + n, [](T q) { return q == T(0.5); });
  std::vector<MitmScratch<T>> scratch(max_threads());
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int thread) {
    MitmScratch<T>& s = scratch[thread];
    const size_t nA = size_t(1) << hA, nB = size_t(1) << hB;
    const Sums<T> outA = s.A.reserve(nA), outB = s.B.reserve(nB),
                  pp = s.pingpong.reserve(std::max(nA, nB) / 2);
    for (int64_t b = b0; b < b1; ++b) {
      const T* w = a.w + b * n;
      double* o = a.out + b * (n + 1);
      std::fill(o, o + n + 1, 0.0);
      Sums<T> A, B;
      if (!sorted_sums(w, hA, outA, pp, A) || !sorted_sums(w + hA, hB, outB, pp, B) ||
          !(uniform ? f_uniform(A, B, hA, hB, a.tol[b], a.tie, s, o)
                    : f_product(A, B, pA, pB, hA, hB, a.tol[b], a.tie, s, o)))
        break;
    }
  });
}

template <typename T>
void hc_mitm_delta_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  std::vector<MitmScratch<T>> scratch(max_threads());
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int thread) {
    MitmScratch<T>& s = scratch[thread];
    const size_t nA = size_t(1) << hA, nB = size_t(1) << hB;
    const Sums<T> outA = s.A.reserve(nA), outB = s.B.reserve(nB),
                  pp = s.pingpong.reserve(std::max(nA, nB) / 2);
    for (int64_t b = b0; b < b1; ++b) {
      const T* w = a.w + b * n;
      Sums<T> A, B;
      if (!sorted_sums(w, hA, outA, pp, A) || !sorted_sums(w + hA, hB, outB, pp, B) ||
          !min_pair(A, B, hA, a.out_val[b], a.out_idx[b]))
        break;
    }
  });
}

template void hc_mitm_f_cpu<float>(const HcMitmArgs<float>&);
template void hc_mitm_f_cpu<double>(const HcMitmArgs<double>&);
template void hc_mitm_delta_cpu<float>(const HcMitmArgs<float>&);
template void hc_mitm_delta_cpu<double>(const HcMitmArgs<double>&);

}  // namespace rs
