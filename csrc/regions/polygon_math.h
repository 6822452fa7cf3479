// Exact regions of one network on a 2-D slice x(s, t) = origin + s u + t v over a rectangle, by
// cutting convex polygons neuron by neuron, layer by layer (CPU only: polygons are grown in
// std::vectors). Each polygon vertex carries (s, t) and the current layer's values; they are affine
// on a polygon, so a neuron's zero line cuts it where the vertex values change sign (interpolated
// along the edges). Tolerance rule as in segment_math.h: pre-activations within
// 64 eps (|b_j| + sum_i |W_ji| max|a|) of zero are snapped to 0 (a line through a vertex, a neuron
// touching a polygon, coincident lines cut nothing); a polygon is cut only when it has vertices
// strictly on both sides, and a piece of area <= eps^2 * (rectangle area) is a sliver and dropped.
// Every final polygon then has its own activation pattern (bit set iff z > 0 at the vertex
// average). Cost O(sum over layers of vertices * d_l * d_{l-1} + cuts); memory O(vertices * width).
#pragma once
#include <cstdint>
#include <vector>

#include "model/activation.h"
#include "model/net_spec.h"
#include "regions/segment_math.h"

namespace rs {

template <typename T>
struct PolygonSet {
  int stride = 0;               // values per vertex row: s, t, then max_width values
  std::vector<T> rows;          // vertex rows
  std::vector<int64_t> off{0};  // polygon k: rows off[k] .. off[k+1]
  std::vector<int64_t> pat;     // n_words per polygon

  int64_t size() const { return int64_t(off.size()) - 1; }
  T* row(int64_t r) { return rows.data() + r * stride; }
  void clear() { rows.clear(); off.assign(1, 0); pat.clear(); }
  void push_row(const T* r) { rows.insert(rows.end(), r, r + stride); }
  void close(const int64_t* words, int n_words) {
    off.push_back(int64_t(rows.size()) / stride);
    pat.insert(pat.end(), words, words + n_words);
  }
};

template <typename T>
T polygon_area(PolygonSet<T>& P, int64_t k) {
  T a = T(0);
  const int64_t b = P.off[k], e = P.off[k + 1];
  for (int64_t r = b; r < e; ++r) {
    const T* p = P.row(r);
    const T* q = P.row(r + 1 < e ? r + 1 : b);
    a += p[0] * q[1] - q[0] * p[1];
  }
  return abs_(a) / T(2);
}

// Cuts every polygon of `in` by neuron j (value at offset 2 + j), appending to `out`.
template <typename T>
void cut_polygons(PolygonSet<T>& in, PolygonSet<T>& out, int j, int n_words, T area_tol,
                  std::vector<T>& tmp) {
  out.clear();
  const int c = 2 + j, S = in.stride;
  tmp.resize(S);
  for (int64_t k = 0; k < in.size(); ++k) {
    const int64_t b = in.off[k], e = in.off[k + 1];
    bool pos = false, neg = false;
    for (int64_t r = b; r < e; ++r) { pos |= in.row(r)[c] > T(0); neg |= in.row(r)[c] < T(0); }
    const int64_t* words = in.pat.data() + k * n_words;
    if (!(pos && neg)) {
      for (int64_t r = b; r < e; ++r) out.push_row(in.row(r));
      out.close(words, n_words);
      continue;
    }
    for (int side = 1; side >= -1; side -= 2) {  // positive part, then negative part
      for (int64_t r = b; r < e; ++r) {
        const T* p = in.row(r);
        const T* q = in.row(r + 1 < e ? r + 1 : b);
        if (T(side) * p[c] >= T(0)) out.push_row(p);
        if ((p[c] > T(0) && q[c] < T(0)) || (p[c] < T(0) && q[c] > T(0))) {
          const T lam = p[c] / (p[c] - q[c]);
          for (int i = 0; i < S; ++i) tmp[i] = p[i] + lam * (q[i] - p[i]);
          tmp[c] = T(0);
          out.push_row(tmp.data());
        }
      }
      out.close(words, n_words);
      if (out.off.back() - out.off[out.size() - 1] < 3 || polygon_area(out, out.size() - 1) <= area_tol) {
        out.rows.resize(out.off[out.size() - 1] * S);  // a sliver: drop it
        out.off.pop_back();
        out.pat.resize(out.pat.size() - n_words);
      }
    }
  }
}

// The final polygons of one network (vertex rows hold s, t first).
template <typename T>
void slice_polygons(const NetSpec& net, const T* theta, const T* origin, const T* u, const T* v,
                    const double* bounds, int n_words, PolygonSet<T>& P, PolygonSet<T>& Q) {
  const T tol = zero_tol<T>();
  const T slope = T(net.slope);
  const int S = 2 + net.max_width;
  P.stride = Q.stride = S;
  P.clear();
  const T corners[4][2] = {{T(bounds[0]), T(bounds[2])}, {T(bounds[1]), T(bounds[2])},
                           {T(bounds[1]), T(bounds[3])}, {T(bounds[0]), T(bounds[3])}};
  std::vector<T> tmp(S, T(0)), z(net.max_width);
  for (const auto& c : corners) {
    tmp[0] = c[0]; tmp[1] = c[1];
    for (int i = 0; i < net.d_in; ++i) tmp[2 + i] = origin[i] + c[0] * u[i] + c[1] * v[i];
    P.push_row(tmp.data());
  }
  std::vector<int64_t> zero_words(n_words, 0);
  P.close(zero_words.data(), n_words);
  const T area_tol = machine_eps<T>() * machine_eps<T>() * T(bounds[1] - bounds[0]) * T(bounds[3] - bounds[2]);
  int64_t bit = 0;
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& L = net.layer[l];
    T amax = T(0);
    for (int64_t r = 0; r < P.off.back(); ++r)
      for (int i = 0; i < L.in; ++i) amax = amax > abs_(P.row(r)[2 + i]) ? amax : abs_(P.row(r)[2 + i]);
    std::vector<T> thr(L.out);
    for (int j = 0; j < L.out; ++j) {
      T s = L.b_off >= 0 ? abs_(theta[L.b_off + j]) : T(0);
      for (int i = 0; i < L.in; ++i) s += abs_(layer_weight(L, theta, j, i)) * amax;
      thr[j] = tol * s;
    }
    for (int64_t r = 0; r < P.off.back(); ++r) {
      T* row = P.row(r);
      affine_row(L, theta, row + 2, z.data());
      for (int j = 0; j < L.out; ++j) row[2 + j] = act_has_kink(L.act) ? (abs_(z[j]) <= thr[j] ? T(0) : z[j]) : z[j];
    }
    if (act_has_kink(L.act) && l + 1 < net.n_layers) {
      for (int j = 0; j < L.out; ++j) {
        cut_polygons(P, Q, j, n_words, area_tol, tmp);
        std::swap(P, Q);
      }
      for (int64_t k = 0; k < P.size(); ++k) {
        for (int j = 0; j < L.out; ++j) {
          T sum = T(0);
          for (int64_t r = P.off[k]; r < P.off[k + 1]; ++r) sum += P.row(r)[2 + j];
          const int64_t b = bit + j;
          if (sum > T(0)) P.pat[k * n_words + (b >> 6)] |= int64_t(uint64_t(1) << (b & 63));
        }
      }
      bit += L.out;
    }
    for (int64_t r = 0; r < P.off.back(); ++r)
      for (int j = 0; j < L.out; ++j) P.row(r)[2 + j] = act_value(L.act, P.row(r)[2 + j], slope);
  }
}

}  // namespace rs
