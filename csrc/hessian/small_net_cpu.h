// The CPU's second path of the Hessian engine, for the teacher-student shape: two layers, at
// most kSmallIn inputs, at most kSmallHidden hidden neurons, one identity output (the students'
// [2,5,1]). hess_tile runs each neuron's step over a whole tile of rows in scratch memory, with
// loops and row overhead that dominate at these widths; here each vector of samples (one
// register wide: host_vec.h) goes through the forward, backward and R-passes on its own, with
// every value in vector registers: the per-element maths are hess_tile's own (act_all,
// loss_diag, the kink steps), instantiated for the vector type (common/value.h). It adds into
// the same slots as hess_tile. A full tile's rows are read in place from the caller's arrays
// (run_tasks), not copied.
// The network's parameters, its directions' and their slots are read once per task (SmallNet).
// The CUDA launcher keeps hess_tile (one thread per sample). small_net_cpu.cpp holds the
// launcher (hess_small_cpu), in a translation unit of its own.
// A full Hessian's unit columns come from J's outer products instead (small_net_columns.h).
// Cost per sample: O(P) forward + O(P) backward + O(K P) (unit columns: O(P^2)); memory: ~(3
// kSmallHidden + kSmallIn + 3) vectors per vector of a tile's samples, on the stack, and K + 1
// parameter sets per thread.
#pragma once
#include <cstdint>
#include <vector>

#include "common/tile_cpu.h"
#include "common/host_vec.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "hessian/small_net_columns.h"
#include "model/kink_math.h"
#include "model/net_spec.h"

namespace rs {

inline constexpr int kSmallIn = 4;
inline constexpr int kSmallHidden = 8;
// The most parameters of such a net (full Hessians: the rows of small_unit_columns's J).
inline constexpr int kSmallParams = kSmallHidden * (kSmallIn + 2) + 1;
// The rows a tile reads (run_tasks's order): the sample weights, the target, the inputs.
inline constexpr int kSmallRows = 2 + kSmallIn;

// Whether a network and loss fit small_net_tile: the shape above, the standard
// parameterisation with row-major weights (a hidden neuron's weight slots are then
// consecutive) and a diagonal loss (loss_diag: a cross-entropy of one output keeps hess_tile).
// A call with input gradients keeps hess_tile too.
inline bool small_net_shape(const NetSpec& net, int32_t loss) {
  if (net.n_layers != 2 || net.d_out != 1 || net.n_params > kSmallParams) return false;
  const LayerSpec &L0 = net.layer[0], &L1 = net.layer[1];
  return L0.in <= kSmallIn && L0.out <= kSmallHidden && L1.act == ACT_IDENTITY &&
         loss_diagonal(loss) && !layer_scaled(L0) && !layer_scaled(L1) && L0.w_sk == 1 &&
         L1.w_sk == 1;
}

// One network's (or one direction's) parameters, and the slot of each, in locals: the slot
// stores (byte copies, which may alias anything) would otherwise make the compiler reload theta
// and the layer specs after each of them. Slot -1: no such parameter (a layer without bias).
// The biases also as rows of kVec copies, loaded as the start of each pre-activation's sum: GCC
// builds `b + V{}` with a scalar add and a broadcast per use (it may not fold away a + 0.0). (Rows
// of T, not vectors: a std::vector of them need not be 64-byte aligned.)
template <typename T>
struct SmallParams {
  static constexpr int W = 64 / int(sizeof(T));
  T w1[kSmallHidden][kSmallIn], b1[kSmallHidden], w2[kSmallHidden], b2;
  T b1v[kSmallHidden][W], b2v[W];
  void load(const LayerSpec& L0, const LayerSpec& L1, const T* th) {
    for (int j = 0; j < L0.out; ++j) {
      for (int k = 0; k < L0.in; ++k) w1[j][k] = layer_theta(L0, th, j, k);
      b1[j] = L0.b_off >= 0 ? th[L0.b_off + j] : T(0);
      for (int i = 0; i < W; ++i) b1v[j][i] = b1[j];
      w2[j] = layer_theta(L1, th, 0, j);
    }
    b2 = L1.b_off >= 0 ? th[L1.b_off] : T(0);
    for (int i = 0; i < W; ++i) b2v[i] = b2;
  }
};

struct SmallSlots {
  int64_t w1[kSmallHidden][kSmallIn], b1[kSmallHidden], w2[kSmallHidden], b2;
  SmallSlots(const LayerSpec& L0, const LayerSpec& L1) {
    for (int j = 0; j < L0.out; ++j) {
      for (int k = 0; k < L0.in; ++k) w1[j][k] = layer_weight_index(L0, j, k);
      b1[j] = L0.b_off >= 0 ? L0.b_off + j : -1;
      w2[j] = layer_weight_index(L1, 0, j);
    }
    b2 = L1.b_off >= 0 ? L1.b_off : -1;
  }
};

// f(i) for i < n, unrolled over i < N so that arrays indexed by i stay in registers.
template <int N, typename F>
inline void small_each(int n, F&& f) {
  RS_UNROLL_FULLY
  for (int i = 0; i < N; ++i)
    if (i < n) f(i);
}

// One network's task constants, built once per task for all its tiles: its parameters and its
// K directions' (HVP, GNVP), their slots, and the kink bounds' constants (KinkLanes's
// begin_layer and neuron, w_max from the kink_max rows of the scratch s; w_max and e_bias here
// doubled, so a bound 2 (w_max in_sum + e_bias) is one multiply-add, with the same bits).
template <typename T>
struct SmallNet {
  LayerSpec L0, L1;
  SmallSlots slot;
  SmallParams<T> th;
  std::vector<SmallParams<T>> dir;
  SmallColumns<kSmallIn, kSmallHidden> cols;  // unit directions (full Hessians)
  T w_max[kSmallHidden], e_bias[kSmallHidden], gamma, no_bias;

  explicit SmallNet(const HessArgs<T>& A)
      : L0(A.net.layer[0]), L1(A.net.layer[1]), slot(L0, L1),
        dir(A.v && (A.mode == HESS_HVP || A.mode == HESS_GNVP) ? size_t(A.K) : 0),
        cols(A.unit_first >= 0
                 ? decltype(cols)(A.net, slot, A.unit_first, A.K, A.mode != HESS_GNVP)
                 : decltype(cols)()),
        gamma(kink_gamma<T>(L0)), no_bias(L0.b_off >= 0 ? T(0) : T(1)) {}

  void task(const HessArgs<T>& A, const T* theta, const T* v, const T* s) {
    th.load(L0, L1, theta);
    for (size_t kv = 0; kv < dir.size(); ++kv)
      dir[kv].load(L0, L1, v + int64_t(kv) * A.net.n_params);
    for (int j = 0; j < L0.out && A.kinks; ++j) {
      w_max[j] = T(2) * s[int64_t(A.lay.kink_max + A.lay.h[0] + j) * kCpuLanes<T>];
      e_bias[j] = L0.b_off >= 0 ? T(2) * (gamma * abs_(th.b1[j])) : T(0);
    }
  }
};

// What the backward and R-passes read of one vector V of samples: inputs, sigma(z), sigma',
// sigma'', the loss's gradient and curvature in y.
template <typename V>
struct SmallState {
  V x[kSmallIn], a[kSmallHidden], d1[kSmallHidden], d2[kSmallHidden], g, curv;
};

// One tile of the launcher (row[0], row[1], row[2 + k]: the sample weights, the targets and input
// k, L = kCpuLanes lanes each, the first `valid` of them samples), hidden activation ACT, in
// vectors of VB bytes (64, or 32 for AVX2: host_vec.h), into slots (64 bytes per slot, as
// LaneAcc::add): per slot, lane i of the vector sums lanes i, i + W, ... of the tile (W lanes per
// vector; a 32-byte vector adds into its slot's first half), the lanes past `valid` left out by a
// mask. First every vector's forward pass and loss; then the gradient, a full Hessian's unit
// columns, or direction by direction the R-passes, slot group by slot group (a neuron's weights
// and bias), each slot's terms summed over the tile's vectors in registers and added to the slot
// once. The per-element maths (act_all, loss_diag, the kink steps) run on the vectors themselves.
template <int ACT, int VB, typename T>
void small_net_tile(const HessArgs<T>& A, const SmallNet<T>& net, const T* const* row,
                    int valid, T* slots) {
  using V = typename HostVec<T, VB>::Vec;
  using M = typename HostVec<T, VB>::Mask;
  constexpr int W = VB / int(sizeof(T)), L = kCpuLanes<T>, NV = L / W, kSlot = 64 / int(sizeof(T));
  const int d = net.L0.in, h = net.L0.out, loss_kind = A.loss, nv = (valid + W - 1) / W;
  const T slope = T(A.net.slope), imp = A.imp[0];
  const int32_t mode = A.mode;
  const bool full = mode != HESS_GNVP, kinks_asked = A.kinks;
  const bool bound = kinks_asked && act_has_kink(ACT);
  const SmallParams<T>& th = net.th;
  const SmallSlots& slot = net.slot;
  // the lanes of the last vector that hold samples
  const int last = nv - 1;
  M keep = M{} - 1;
  for (int i = 0; i < W; ++i) keep[i] = last * W + i < valid ? -1 : 0;
  auto masked = [&](int p, V c) { return p == last ? V(M(c) & keep) : c; };
  auto put = [&](int64_t q, V c) {
    store_vec(slots + q * kSlot, load_vec<V>(slots + q * kSlot) + c);
  };
  SmallState<V> st[NV];
  V loss_sum = V{}, kink_sum = V{};
  for (int p = 0; p < nv; ++p) {
    SmallState<V>& S = st[p];
    const int p0 = p * W;
    // ---- forward, with the kink flags of the hidden layer when asked for
    small_each<kSmallIn>(d, [&](int k) {
      S.x[k] = load_vec<V>(row[2 + k] + p0);
    });
    // kink flags (kink_math.h's steps; the inputs are exact: e = 0)
    V in_zero = T(1) - V{}, in_sum = V{}, on_kink = V{}, out_zero = T(1) - V{};
    if (kinks_asked)
      small_each<kSmallIn>(d, [&](int k) {
        in_zero *= kink_input_zero(S.x[k]);
        if (bound) in_sum += kink_input_term(net.gamma, S.x[k], V{});
      });
    const V moving = T(1) - net.no_bias * in_zero;
    V y = load_vec<V>(th.b2v);
    small_each<kSmallHidden>(h, [&](int j) {
      V z = load_vec<V>(th.b1v[j]);
      small_each<kSmallIn>(d, [&](int k) { z += th.w1[j][k] * S.x[k]; });
      if (bound) {
        const V e_z = net.w_max[j] * in_sum + net.e_bias[j];
        kink_neuron_step<ACT>(z, e_z, moving, slope, on_kink, out_zero);
      }
      V d2;  // sigma'' stored only where it is read (not for the piecewise linear activations)
      act_all(int32_t(ACT), z, slope, S.a[j], S.d1[j], d2);
      if constexpr (act_has_d2(ACT)) S.d2[j] = d2;
      y += th.w2[j] * S.a[j];
    });
    const V w = load_vec<V>(row[0] + p0);
    if (kinks_asked) kink_sum += masked(p, kink_flag(on_kink, w));
    // ---- the loss, its gradient g in y and curvature (loss_math.h)
    const V t = load_vec<V>(row[1] + p0), wc = w * imp;
    V loss = V{};
    loss_diag_kind(loss_kind, y, t, wc, loss, S.g, S.curv);
    loss_sum += masked(p, loss);
  }
  put(kHessLossSlot, loss_sum);
  if (kinks_asked) put(kHessKinkSlot, kink_sum);
  // full Hessians' unit columns: register blocks of 4 columns x NV vectors of factors where
  // that leaves room (AVX-512's 32 registers), else 1
  constexpr int kCols = NV <= 4 ? 4 : 1;
  if (A.unit_first >= 0)
    return small_unit_columns<ACT, NV, kSmallParams, kCols, V>(net.cols, st, nv, keep, valid < L,
                                                               d, h, th.w2, put);
  // ---- gradient: dL/db2 = g, dL/dW2_j = g a_j, delta_j = W2_j g sigma'_j, dL/db1_j = delta_j,
  // dL/dW1_jk = delta_j x_k
  if (mode == HESS_GRAD) {
    const int64_t q = kHessHeaderSlots;
    V gb2 = V{};
    for (int p = 0; p < nv; ++p) gb2 += masked(p, st[p].g);
    if (slot.b2 >= 0) put(q + slot.b2, gb2);
    small_each<kSmallHidden>(h, [&](int j) {
      V gw2 = V{}, gb1 = V{}, gw1[kSmallIn] = {};
      for (int p = 0; p < nv; ++p) {
        const SmallState<V>& S = st[p];
        gw2 += masked(p, S.g * S.a[j]);
        const V del = ACT == ACT_IDENTITY ? th.w2[j] * S.g : th.w2[j] * S.g * S.d1[j];
        gb1 += masked(p, del);
        small_each<kSmallIn>(d, [&](int k) { gw1[k] += masked(p, del * S.x[k]); });
      }
      put(q + slot.w2[j], gw2);
      if (slot.b1[j] >= 0) put(q + slot.b1[j], gb1);
      small_each<kSmallIn>(d, [&](int k) { put(q + slot.w1[j][k], gw1[k]); });
    });
  }
  if (mode != HESS_HVP && mode != HESS_GNVP) return;
  // ---- K directions: R-forward (Rz, Ra, R y), R g = (d2l/dy2) R y, R-backward
  for (size_t kv = 0; kv < net.dir.size(); ++kv) {
    const SmallParams<T>& vp = net.dir[kv];
    const int64_t q = kHessHeaderSlots + int64_t(kv) * A.net.n_params;
    V rz[NV][kSmallHidden], ra[NV][kSmallHidden], rg[NV], rgb2 = V{};
    for (int p = 0; p < nv; ++p) {
      const SmallState<V>& S = st[p];
      V ry = load_vec<V>(vp.b2v);
      small_each<kSmallHidden>(h, [&](int j) {
        V r = load_vec<V>(vp.b1v[j]);
        small_each<kSmallIn>(d, [&](int k) { r += vp.w1[j][k] * S.x[k]; });
        rz[p][j] = r;
        ra[p][j] = ACT == ACT_IDENTITY ? r : S.d1[j] * r;
        ry += vp.w2[j] * S.a[j];
        ry += th.w2[j] * ra[p][j];
      });
      rg[p] = S.curv * ry;  // loss_hessian_lanes of a diagonal loss
      rgb2 += masked(p, rg[p]);
    }
    if (slot.b2 >= 0) put(q + slot.b2, rgb2);
    small_each<kSmallHidden>(h, [&](int j) {
      V hw2 = V{}, hb1 = V{}, hw1[kSmallIn] = {};
      for (int p = 0; p < nv; ++p) {
        const SmallState<V>& S = st[p];
        const V gp = S.g;
        hw2 += masked(p, full ? rg[p] * S.a[j] + gp * ra[p][j] : rg[p] * S.a[j]);
        V rd = th.w2[j] * rg[p];  // R g_j = W2_j R g (+ V2_j g), then R delta_j
        if (full) rd += vp.w2[j] * gp;
        if (full && act_has_d2(ACT))
          rd = rd * S.d1[j] + (th.w2[j] * gp) * S.d2[j] * rz[p][j];
        else if (ACT != ACT_IDENTITY)
          rd *= S.d1[j];
        hb1 += masked(p, rd);
        small_each<kSmallIn>(d, [&](int k) { hw1[k] += masked(p, rd * S.x[k]); });
      }
      put(q + slot.w2[j], hw2);
      if (slot.b1[j] >= 0) put(q + slot.b1[j], hb1);
      small_each<kSmallIn>(d, [&](int k) { put(q + slot.w1[j][k], hw1[k]); });
    });
  }
}

// The launcher of this path (small_net_cpu.cpp): hess_cpu's, for the calls small_net_shape takes.
template <typename T>
void hess_small_cpu(const HessArgs<T>& a);

}  // namespace rs
