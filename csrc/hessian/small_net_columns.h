// The unit columns of a full Hessian (HessArgs::unit_first) on the small-net path
// (small_net_cpu.h): the same slots as hess_unit_columns (column p holds the entries q of layers
// above p's, or of p's layer with q >= p), from the closed form of the students' Hessian instead
// of one R-pass per neuron. For y = sum_j w2_j sigma(z_j) + b2, z_j = W1_j x + b1_j and a
// diagonal loss with gradient g and curvature c in y (sample weight included),
//   H(p, q) = sum_n c J_p J_q + g d2y/dp dq,
//   J = dy/dtheta: 1 (b2), a_j (w2_j), u_j = w2_j sigma'_j (b1_j), u_j x_k (W1_jk),
// and d2y/dp dq is non-zero only within one hidden neuron j (x~_k: x_k, or 1 for its bias):
//   sigma'_j x~_k between w2_j and (W1_jk or b1_j), w2_j sigma''_j x~_k x~_l within W1_j, b1_j.
// The Gauss-Newton part (HESS_GNVP) drops the second term.
// In (layer, index) order of the parameters -- their rank -- column p holds the ranks from p's
// on: the first term is a triangle of J's outer products, computed in blocks of KC columns
// (register blocks of KC x the tile's vectors); the second is added to its few slots after.
// Per vector of samples: J once (O(P)), then one multiply-add per entry (P (P + 1) / 2 over all
// columns); per tile and entry one add into its slot. Memory: on the stack, P x (a tile's
// vectors) values of J and a copy of the tile's state.
#pragma once
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "common/host_vec.h"
#include "hessian/hessian.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

// Whether the small-net path stores sigma' in its state (small_net_tile.h's SmallState): not
// for the identity (1) nor for relu, whose sigma' (1 where sigma(z) = a > 0, else 0) is read off
// a where it is used: one comparison there instead of a comparison, a select and a store per
// neuron and vector in the forward pass.
constexpr bool small_stores_d1(int act) { return act != ACT_RELU && act != ACT_IDENTITY; }

// sigma'_j x for a vector state S of the small-net path: for relu x where a_j > 0, else 0 (a
// select, as torch's relu backward), for the identity x, else S.d1[j] x.
template <int ACT, typename State, typename V>
inline V times_d1(const State& S, int j, V x) {
  if constexpr (ACT == ACT_RELU)
    return select_(S.a[j] > V{}, x, V{});
  else if constexpr (ACT == ACT_IDENTITY)
    return x;
  else
    return S.d1[j] * x;
}

// A call's unit columns (a net of at most KI inputs and KH hidden neurons).
template <int KI, int KH>
struct SmallColumns {
  static constexpr int kBias = -1;  // input index of a bias (x~ = 1)
  // The rank of each parameter (its row of J; -1: no such bias) and the theta index of each rank.
  int32_t r_w1[KH][KI], r_b1[KH], r_w2[KH], r_b2;
  std::vector<int32_t> index;
  struct Term {  // a second-derivative term of column p: slot q, x~_q's input k
    int32_t q, k;
  };
  struct Column {
    int64_t slots;     // the column's first slot (header slots included)
    int32_t rank;      // p's
    int32_t j, k;      // p's hidden neuron j and input k (kBias), or j = -1 (the output layer)
    int32_t w2_slot;   // the slot of (p, w2_j) when the term g sigma'_j x~_p is there, else -1
    int32_t begin, end;  // [begin, end) of `terms`: the (p, q) of g w2_j sigma''_j x~_p x~_q
  };
  std::vector<Column> col;
  std::vector<Term> terms;

  SmallColumns() = default;
  // The columns first ... first + K - 1 of net, whose parameters' indices slot holds
  // (SmallSlots: -1 for no bias); full: the Hessian, else the Gauss-Newton part.
  template <typename Slots>
  SmallColumns(const NetSpec& net, const Slots& slot, int64_t first, int64_t K, bool full) {
    const int d = net.layer[0].in, h = net.layer[0].out;
    const int64_t P = net.n_params;
    // ranks: the (layer, index) order that the unit columns' slots follow (hess_param_layers)
    const std::vector<int32_t> layer = hess_param_layers(net);
    index.resize(size_t(P));
    std::iota(index.begin(), index.end(), 0);
    std::stable_sort(index.begin(), index.end(),
                     [&](int32_t a, int32_t b) { return layer[size_t(a)] < layer[size_t(b)]; });
    std::vector<int32_t> rank(static_cast<size_t>(P));
    for (int64_t r = 0; r < P; ++r) rank[size_t(index[size_t(r)])] = int32_t(r);
    auto rank_of = [&](int64_t q) { return q >= 0 ? rank[size_t(q)] : -1; };
    for (int j = 0; j < h; ++j) {
      for (int k = 0; k < d; ++k) r_w1[j][k] = rank_of(slot.w1[j][k]);
      r_b1[j] = rank_of(slot.b1[j]);
      r_w2[j] = rank_of(slot.w2[j]);
    }
    r_b2 = rank_of(slot.b2);
    const bool d2 = full && act_has_d2(net.layer[0].act);
    for (int64_t p = first; p < first + K; ++p) {
      Column c{kHessHeaderSlots + (p - first) * P, rank[size_t(p)], -1, kBias, -1, 0, 0};
      for (int j = 0; j < h; ++j) {
        if (slot.b1[j] == p) c.j = j;
        for (int k = 0; k < d; ++k)
          if (slot.w1[j][k] == p) c.j = j, c.k = k;
      }
      c.begin = int32_t(terms.size());
      if (c.j >= 0 && full) c.w2_slot = int32_t(slot.w2[c.j]);
      for (int k = kBias; c.j >= 0 && d2 && k < d; ++k) {
        const int64_t q = k == kBias ? slot.b1[c.j] : slot.w1[c.j][k];
        if (q >= 0 && rank[size_t(q)] >= c.rank) terms.push_back({int32_t(q), k});
      }
      c.end = int32_t(terms.size());
      col.push_back(c);
    }
  }
};

// One tile's unit columns, after its forward pass: st[v] (v < NV) the state of vector v of
// samples (SmallState: x, a, sigma', sigma'', g, curvature; 0 in the lanes past a partial tile's
// samples, so that every sum runs over all NV vectors and adds exactly 0 for those lanes), d
// inputs, h hidden neurons, w2 the output layer's weights; put(slot, s) adds s into a slot. J
// (by rank, P <= NJ rows) is built per vector into a stack array. KC: columns per register block
// (KC NV factors).
template <int ACT, int NV, int NJ, int KC, typename V, typename T, typename State,
          typename Columns, typename Put>
inline void small_unit_columns(const Columns& cols, const State* st, int d, int h, const T* w2,
                               Put&& put) {
  const int P = int(cols.index.size());
  const int32_t* index = cols.index.data();
  V J[NJ][NV];
  for (int v = 0; v < NV; ++v) {
    const State& S = st[v];
    if (cols.r_b2 >= 0) J[cols.r_b2][v] = T(1) - V{};
    for (int j = 0; j < h; ++j) {
      const V u = times_d1<ACT>(S, j, w2[j] - V{});
      J[cols.r_w2[j]][v] = S.a[j];
      if (cols.r_b1[j] >= 0) J[cols.r_b1[j]][v] = u;
      for (int k = 0; k < d; ++k) J[cols.r_w1[j][k]][v] = u * S.x[k];
    }
  }
  // the triangle c J_p J_q, rank(q) >= rank(p). Each sum starts at 0 and adds its vectors in
  // order, so that every product is contracted into its multiply-add the same way in every
  // place of a block (of two products in one addition the compiler picks which one to round):
  // a column's bits do not depend on the columns a call asks for beside it.
  auto dot = [&](const V* f, int q) {
    V s = V{};
    for (int v = 0; v < NV; ++v) s += f[v] * J[q][v];
    return s;
  };
  const int n_col = int(cols.col.size());
  for (int c0 = 0; c0 < n_col; c0 += KC) {
    const int nc = std::min(KC, n_col - c0);
    const auto* c = cols.col.data() + c0;
    V f[KC][NV];
    int r_min = P;
    for (int i = 0; i < KC; ++i) {
      for (int v = 0; v < NV; ++v) f[i][v] = i < nc ? st[v].curv * J[c[i].rank][v] : V{};
      if (i < nc) r_min = std::min(r_min, int(c[i].rank));
    }
    for (int q = r_min; q < P; ++q) {
      V s[KC];
      for (int i = 0; i < KC; ++i) s[i] = dot(f[i], q);
      for (int i = 0; i < nc; ++i)
        if (q >= c[i].rank) put(c[i].slots + index[q], s[i]);
    }
  }
  // the second derivatives of y, times g
  for (const auto& c : cols.col) {
    if (c.w2_slot < 0) continue;
    V gx[NV], r = V{};
    for (int v = 0; v < NV; ++v) {
      const State& S = st[v];
      gx[v] = c.k == Columns::kBias ? S.g : S.g * S.x[c.k];
      r += times_d1<ACT>(S, c.j, gx[v]);
    }
    put(c.slots + c.w2_slot, r);
    if constexpr (act_has_d2(ACT))
      for (int i = c.begin; i < c.end; ++i) {
        const int k = cols.terms[i].k;
        V t = V{};
        for (int v = 0; v < NV; ++v) {
          const V xq = k == Columns::kBias ? T(1) - V{} : st[v].x[k];
          t += (w2[c.j] * gx[v]) * st[v].d2[c.j] * xq;
        }
        put(c.slots + cols.terms[i].q, t);
      }
  }
}

}  // namespace rs
