// CPU meet-in-the-middle for product weights and for delta. Per w (threads over the batch), each
// half's 2^h subset sums are generated already sorted by merging (Horowitz-Sahni: sorted sums of
// j+1 coordinates = merge(sorted_j - w_j, sorted_j + w_j), O(2^h) in all, no sort). Then:
//  f:     two-pointer sweeps give, for every vertex a of one half, G(a) = sum of p over the other
//         half's vertices b with s_a + s_b >= 0 (tie rule applied), c[a] = p(a) G(a); summing
//         c[a] by each byte of a's vertex index in the same sequential pass (tables in L1) gives
//         that half's coordinates of f, sum c the mass. A vertex's probability is the product of
//         one table entry per byte of its index (ByteProbs, in L1), not carried through the
//         merges (which then move a value and an index only: half the time of carrying it).
//  delta: one two-pointer sweep finds min |s_a + s_b|.
// Time O(2^(n/2) n) per w (generation and sweeps are linear in the half size, the coordinate
// sums O(h / 8) per vertex). Memory per thread 12 bytes (2^hA + 2^hB) (hc_mitm_thread_bytes): the
// merges run in place, into buffers allocated once per thread and call and never zero-filled.
// Every loop over 2^h entries checks for a stop each kStopBlock entries, so Ctrl-C stops a call
// within milliseconds of work (at n = 50 one merge step takes up to a second or two).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "common/parallel.h"
#include "hypercube/hypercube.h"

namespace rs {

namespace {

// Entries between two stop checks: about a millisecond of merging or sweeping.
constexpr size_t kStopBlock = size_t(1) << 16;

// Values of a trivial type, left uninitialised (std::vector would first write all of them:
// about a second at n = 50, with no stop check).
template <typename V>
struct Buffer {
  std::unique_ptr<V[]> data;
  size_t capacity = 0;
  void reserve(size_t n) {
    if (n > capacity) {
      data.reset();  // the old block goes before the new one comes
      data.reset(new V[n]);
      capacity = n;
    }
  }
  V& operator[](size_t i) { return data[i]; }
  const V& operator[](size_t i) const { return data[i]; }
};

template <typename T>
struct SortedSums {
  size_t size = 0;
  Buffer<T> v;          // subset sums, ascending
  Buffer<uint32_t> k;   // the vertex index (bits of the half) of each
};

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
  SortedSums<T> A, B;
};

// All 2^h sums sum_j w_j x_j over x in {-1,1}^h, ascending, each with its vertex index. False (s
// incomplete) when the call was stopped.
//
// Step j merges list 1 = v - w_j (x_j = -1) and list 2 = v + w_j (x_j = +1), both read from v's
// first `size` entries, into 2 size entries in place, from the top down: with a and b entries of
// the lists left, the next goes to a + b - 1, above every entry still to be read (or onto the one
// it came from when a list is empty). Ties put list 1 first, as a stable merge upwards would.
template <typename T>
bool sorted_sums(const T* w, int h, SortedSums<T>& s) {
  const size_t total = size_t(1) << h;
  s.v.reserve(total);
  s.k.reserve(total);
  s.size = 1;
  s.v[0] = T(0);
  s.k[0] = 0;
  for (int j = 0; j < h; ++j) {
    const T wj = w[j];
    const uint32_t bit = uint32_t(1) << j;
    size_t a = s.size, b = s.size;  // list entries [0, a) and [0, b) are still to be placed
    auto place = [&](bool plus) {
      const size_t i = plus ? --b : --a, o = a + b;
      const T vi = s.v[i];
      const uint32_t ki = s.k[i];
      s.v[o] = plus ? vi + wj : vi - wj;
      s.k[o] = plus ? (ki | bit) : ki;
    };
    // Both lists non-empty: neither runs out within the next min(a, b) entries, so the inner
    // loop tests nothing but the comparison; a stop check after each kStopBlock entries.
    for (size_t unchecked = 0; a > 0 && b > 0;) {
      const size_t m = std::min({a, b, kStopBlock});
      for (size_t r = m; r > 0; --r) place(s.v[b - 1] + wj >= s.v[a - 1] - wj);
      if ((unchecked += m) >= kStopBlock) {
        unchecked = 0;
        if (stop_requested()) return false;
      }
    }
    while (a + b > 0) {  // one list left
      if (stop_requested()) return false;
      for (size_t m = std::min(a + b, kStopBlock); m > 0; --m) place(b > 0);
    }
    s.size *= 2;
  }
  return true;
}

// For every vertex a of half A (in A's sorted order): c = p(a) * sum of p(b) over the vertices b
// of half B with s_a + s_b >= 0 under the tie rule; accumulates out[j] += sum_a c x_j(a) for the
// h_A coordinates of A and returns sum_a c. The coordinate sums go through tables: c is added to
// entry (byte t of a's vertex index) of table t, ceil(h_A / 8) L1-resident adds per vertex
// instead of h_A; sum_a c [bit j of a] is then the sum of table j / 8 over the entries with bit
// j % 8 set (O(256 h_A) once).
template <typename T>
double side_sums(const SortedSums<T>& A, const ByteProbs& pA, const SortedSums<T>& Bs,
                 const ByteProbs& pB, int hA, T tol, T tie, double* out) {
  const size_t na = A.size, nb = Bs.size;
  const int bytes = (hA + 7) / 8;
  size_t ji = nb, je = nb;    // B entries [ji, nb) satisfy s_b >= -s_a - tol; [je, nb) s_b > -s_a + tol
  double gi = 0, ge = 0, total = 0;
  double table[4][256] = {};  // h_A <= 26 (n <= 52): 4 bytes of the index
  for (size_t i = 0; i < na; ++i) {  // s_a ascending: both thresholds descend
    if (i % kStopBlock == 0 && stop_requested()) break;
    const T sa = A.v[i];
    while (ji > 0 && Bs.v[ji - 1] >= -sa - tol) gi += pB(Bs.k[--ji]);
    while (je > 0 && Bs.v[je - 1] > -sa + tol) ge += pB(Bs.k[--je]);
    const uint32_t k = A.k[i];
    const double c = pA(k) * (ge + double(tie) * (gi - ge));
    total += c;
    for (int t = 0; t < bytes; ++t) table[t][(k >> (8 * t)) & 255u] += c;
  }
  for (int j = 0; j < hA; ++j) {
    const double* row = table[j / 8];
    double pos = 0;           // sum of c over the vertices with x_j = +1
    for (int v = 0; v < 256; ++v) pos += ((v >> (j % 8)) & 1) ? row[v] : 0.0;
    out[j] += 2 * pos - total;
  }
  return total;
}

}  // namespace

template <typename T>
void hc_mitm_f_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  std::vector<MitmScratch<T>> scratch(max_threads());
  const ByteProbs pA(a.qA, hA), pB(a.qA + hA, hB);
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int thread) {
    MitmScratch<T>& s = scratch[thread];
    for (int64_t b = b0; b < b1; ++b) {
      const T* w = a.w + b * n;
      double* o = a.out + b * (n + 1);
      for (int i = 0; i <= n; ++i) o[i] = 0;
      if (!sorted_sums(w, hA, s.A) || !sorted_sums(w + hA, hB, s.B)) break;
      o[n] = side_sums(s.A, pA, s.B, pB, hA, a.tol[b], a.tie, o);
      side_sums(s.B, pB, s.A, pA, hB, a.tol[b], a.tie, o + hA);
    }
  });
}

template <typename T>
void hc_mitm_delta_cpu(const HcMitmArgs<T>& a) {
  const int n = a.n, hA = a.hA, hB = a.n - a.hA;
  std::vector<MitmScratch<T>> scratch(max_threads());
  parallel_for(a.B, 1, [&](int64_t b0, int64_t b1, int thread) {
    MitmScratch<T>& s = scratch[thread];
    for (int64_t b = b0; b < b1; ++b) {
      const T* w = a.w + b * n;
      if (!sorted_sums<T>(w, hA, s.A) || !sorted_sums<T>(w + hA, hB, s.B)) break;
      // For s_a ascending, the s_b closest to -s_a moves down: keep j at the first s_b >= -s_a.
      T best = std::numeric_limits<T>::infinity();
      int64_t arg = 0;
      size_t j = s.B.size;
      for (size_t i = 0; i < s.A.size; ++i) {
        if (i % kStopBlock == 0 && stop_requested()) break;
        const T sa = s.A.v[i];
        while (j > 0 && s.B.v[j - 1] >= -sa) --j;
        for (size_t jj = (j > 0 ? j - 1 : 0); jj < std::min(j + 1, s.B.size); ++jj) {
          const T v = std::abs(sa + s.B.v[jj]);
          if (v < best) {
            best = v;
            arg = int64_t(s.A.k[i]) | (int64_t(s.B.k[jj]) << hA);
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
