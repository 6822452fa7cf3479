// The CPU's second path of the Hessian engine, for the teacher-student shape: two layers, at
// most kSmallIn inputs, at most kSmallHidden hidden neurons, one identity output (the students'
// [2,5,1]). hess_tile runs each neuron's step over a whole tile of rows in scratch memory, with
// loops and row overhead that dominate at these widths; here each 64-byte vector of kVec samples
// goes through the forward, backward and R-passes on its own, with every value in vector
// registers: the per-element maths are hess_tile's own (act_all, loss_diag, the kink steps),
// instantiated for the vector type (common/value.h). It adds into the same slots as hess_tile.
// The network's parameters, its directions' and their slots are read once per task (SmallNet).
// The CUDA launcher keeps hess_tile (one thread per sample). small_net_cpu.cpp holds the
// launcher (hess_small_cpu), in a translation unit of its own.
// Cost per sample: O(P) forward + O(P) backward + O(K P); memory: ~(3 kSmallHidden + kSmallIn
// + 3) vectors per vector of a tile's samples, on the stack, and K + 1 parameter sets per thread.
#pragma once
#include <cstdint>
#include <vector>

#include "common/tile_cpu.h"
#include "common/vec64.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "model/kink_math.h"
#include "model/net_spec.h"

namespace rs {

inline constexpr int kSmallIn = 4;
inline constexpr int kSmallHidden = 8;

// Whether a call takes small_net_tile: the shape above, the standard parameterisation with
// row-major weights (a hidden neuron's weight slots are then consecutive), a diagonal loss
// (loss_diag: a cross-entropy of one output keeps hess_tile), no unit directions
// (full Hessians keep their own pass) and no input gradients.
template <typename T>
bool small_net_call(const HessArgs<T>& a) {
  const NetSpec& net = a.net;
  if (net.n_layers != 2 || net.d_out != 1 || a.unit_first >= 0 || a.dx != nullptr) return false;
  const LayerSpec &L0 = net.layer[0], &L1 = net.layer[1];
  return L0.in <= kSmallIn && L0.out <= kSmallHidden && L1.act == ACT_IDENTITY &&
         a.loss != LOSS_CROSS_ENTROPY && !layer_scaled(L0) && !layer_scaled(L1) && L0.w_sk == 1 && L1.w_sk == 1;
}

// One network's (or one direction's) parameters, and the slot of each, in locals: the slot
// stores (byte copies, which may alias anything) would otherwise make the compiler reload theta
// and the layer specs after each of them. Slot -1: no such parameter (a layer without bias).
template <typename T>
struct SmallParams {
  T w1[kSmallHidden][kSmallIn], b1[kSmallHidden], w2[kSmallHidden], b2;
  void load(const LayerSpec& L0, const LayerSpec& L1, const T* th) {
    for (int j = 0; j < L0.out; ++j) {
      for (int k = 0; k < L0.in; ++k) w1[j][k] = layer_theta(L0, th, j, k);
      b1[j] = L0.b_off >= 0 ? th[L0.b_off + j] : T(0);
      w2[j] = layer_theta(L1, th, 0, j);
    }
    b2 = L1.b_off >= 0 ? th[L1.b_off] : T(0);
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
// begin_layer and neuron; w_max from the kink_max rows of the scratch s).
template <typename T>
struct SmallNet {
  LayerSpec L0, L1;
  SmallSlots slot;
  SmallParams<T> th;
  std::vector<SmallParams<T>> dir;
  T w_max[kSmallHidden], e_bias[kSmallHidden], gamma, no_bias;

  explicit SmallNet(const HessArgs<T>& A)
      : L0(A.net.layer[0]), L1(A.net.layer[1]), slot(L0, L1),
        dir(A.v && (A.mode == HESS_HVP || A.mode == HESS_GNVP) ? size_t(A.K) : 0),
        gamma(kink_gamma<T>(L0)), no_bias(L0.b_off >= 0 ? T(0) : T(1)) {}

  void task(const HessArgs<T>& A, const T* theta, const T* v, const T* s) {
    th.load(L0, L1, theta);
    for (size_t kv = 0; kv < dir.size(); ++kv)
      dir[kv].load(L0, L1, v + int64_t(kv) * A.net.n_params);
    for (int j = 0; j < L0.out && A.kinks; ++j) {
      w_max[j] = s[int64_t(A.lay.kink_max + A.lay.h[0] + j) * kCpuLanes<T>];
      e_bias[j] = L0.b_off >= 0 ? gamma * abs_(th.b1[j]) : T(0);
    }
  }
};

// What the R-passes read of one vector of samples: inputs, sigma(z), sigma', sigma'', the loss's
// gradient and curvature in y, and which lanes hold samples.
template <typename T>
struct SmallState {
  using V = typename Vec64<T>::Vec;
  V x[kSmallIn], a[kSmallHidden], d1[kSmallHidden], d2[kSmallHidden], g, curv;
  typename Vec64<T>::Mask keep;
};

// One tile of the launcher (rows w_row, t_row, a[0].. of the scratch s filled, L = kCpuLanes
// lanes each, the first `valid` of them samples; the kink_max rows when A.kinks), hidden
// activation ACT, into slots (kVec values per slot, as LaneAcc::add): per slot, lane i of the
// vector sums lanes i, i + kVec, ... of the tile, the lanes past `valid` left out by a mask.
// First every vector's forward pass, loss and gradient; then, direction by direction (each
// direction's parameters read once per tile), every vector's R-passes from the values the first
// phase kept. The per-element maths (act_all, loss_diag) run on the vectors themselves.
template <int ACT, typename T>
void small_net_tile(const HessArgs<T>& A, const SmallNet<T>& net, const T* s, int valid,
                    T* slots) {
  using V = typename Vec64<T>::Vec;
  using M = typename Vec64<T>::Mask;
  constexpr int W = int(sizeof(V) / sizeof(T)), L = kCpuLanes<T>, NV = L / W;
  const int d = net.L0.in, h = net.L0.out, loss_kind = A.loss, nv = (valid + W - 1) / W;
  const T slope = T(A.net.slope), imp = A.imp[0];
  const int32_t mode = A.mode;
  const bool full = mode != HESS_GNVP, kinks_asked = A.kinks;
  const bool bound = kinks_asked && act_has_kink(ACT);
  const bool r_pass = mode == HESS_HVP || mode == HESS_GNVP;
  const SmallParams<T>& th = net.th;
  const SmallSlots& slot = net.slot;
  SmallState<T> st[NV];
  auto put = [&](const SmallState<T>& S, int p, T* q, V c) {  // q: the slot's kVec values
    if ((p + 1) * W > valid) c = V(M(c) & S.keep);
    store_vec64(q, load_vec64(q) + c);
  };
  for (int p = 0; p < nv; ++p) {
    SmallState<T> S;  // kept in st[p] for the R-passes
    const int p0 = p * W;
    S.keep = M{} - 1;
    for (int i = 0; i < W && p0 + W > valid; ++i) S.keep[i] = p0 + i < valid ? -1 : 0;
    // ---- forward, with the kink flags of the hidden layer when asked for
    small_each<kSmallIn>(d, [&](int k) {
      S.x[k] = load_vec64(s + int64_t(A.lay.a[0] + k) * L + p0);
    });
    // kink flags (kink_math.h's steps; the inputs are exact: e = 0)
    V in_zero = T(1) - V{}, in_sum = V{}, on_kink = V{}, out_zero = T(1) - V{};
    if (kinks_asked)
      small_each<kSmallIn>(d, [&](int k) {
        in_zero *= kink_input_zero(S.x[k]);
        if (bound) in_sum += kink_input_term(net.gamma, S.x[k], V{});
      });
    V y = th.b2 + V{};
    small_each<kSmallHidden>(h, [&](int j) {
      V z = th.b1[j] + V{};
      small_each<kSmallIn>(d, [&](int k) { z += th.w1[j][k] * S.x[k]; });
      if (bound) {
        const V e_z = T(2) * (net.w_max[j] * in_sum + net.e_bias[j]);
        kink_neuron_step<ACT>(z, e_z, net.no_bias * in_zero, slope, on_kink, out_zero);
      }
      act_all(int32_t(ACT), z, slope, S.a[j], S.d1[j], S.d2[j]);
      y += th.w2[j] * S.a[j];
    });
    const T* wr = s + int64_t(A.lay.w_row) * L + p0;
    if (kinks_asked) put(S, p, slots + kHessKinkSlot * W, kink_flag(on_kink, load_vec64(wr)));
    // ---- the loss, its gradient g in y and curvature (loss_math.h)
    const V t = load_vec64(s + int64_t(A.lay.t_row) * L + p0), wc = load_vec64(wr) * imp;
    V loss = V{};
    if (loss_kind == LOSS_MSE)
      loss_diag<LOSS_MSE>(y, t, wc, loss, S.g, S.curv);
    else if (loss_kind == LOSS_BCE_WITH_LOGITS)
      loss_diag<LOSS_BCE_WITH_LOGITS>(y, t, wc, loss, S.g, S.curv);
    else
      loss_diag<LOSS_LINEAR>(y, t, wc, loss, S.g, S.curv);
    put(S, p, slots + kHessLossSlot * W, loss);
    // ---- gradient: dL/dW2_j = g a_j, delta_j = W2_j g sigma'_j, dL/dW1_jk = delta_j x_k
    if (mode == HESS_GRAD) {
      T* q = slots + kHessHeaderSlots * W;
      if (slot.b2 >= 0) put(S, p, q + slot.b2 * W, S.g);
      small_each<kSmallHidden>(h, [&](int j) {
        put(S, p, q + slot.w2[j] * W, S.g * S.a[j]);
        const V del = ACT == ACT_IDENTITY ? th.w2[j] * S.g : th.w2[j] * S.g * S.d1[j];
        if (slot.b1[j] >= 0) put(S, p, q + slot.b1[j] * W, del);
        T* qw = q + slot.w1[j][0] * W;
        small_each<kSmallIn>(d, [&](int k) { put(S, p, qw + k * W, del * S.x[k]); });
      });
    }
    if (r_pass) st[p] = S;
  }
  if (!r_pass) return;
  // ---- K directions: R-forward (Rz, Ra, R y), R g = (d2l/dy2) R y, R-backward
  for (size_t kv = 0; kv < net.dir.size(); ++kv) {
    const SmallParams<T>& vp = net.dir[kv];
    T* q = slots + (kHessHeaderSlots + int64_t(kv) * A.net.n_params) * W;
    for (int p = 0; p < nv; ++p) {
      const SmallState<T>& S = st[p];
      V rz[kSmallHidden], ra[kSmallHidden], ry = vp.b2 + V{};
      small_each<kSmallHidden>(h, [&](int j) {
        rz[j] = vp.b1[j] + V{};
        small_each<kSmallIn>(d, [&](int k) { rz[j] += vp.w1[j][k] * S.x[k]; });
        ra[j] = ACT == ACT_IDENTITY ? rz[j] : S.d1[j] * rz[j];
        ry += vp.w2[j] * S.a[j];
        ry += th.w2[j] * ra[j];
      });
      const V rg = S.curv * ry, gp = S.g;  // loss_hessian_lanes of a diagonal loss
      if (slot.b2 >= 0) put(S, p, q + slot.b2 * W, rg);
      small_each<kSmallHidden>(h, [&](int j) {
        put(S, p, q + slot.w2[j] * W, full ? rg * S.a[j] + gp * ra[j] : rg * S.a[j]);
        V rd = th.w2[j] * rg;  // R g_j = W2_j R g (+ V2_j g), then R delta_j
        if (full) rd += vp.w2[j] * gp;
        if (full && act_has_d2(ACT))
          rd = rd * S.d1[j] + (th.w2[j] * gp) * S.d2[j] * rz[j];
        else if (ACT != ACT_IDENTITY)
          rd *= S.d1[j];
        if (slot.b1[j] >= 0) put(S, p, q + slot.b1[j] * W, rd);
        T* qw = q + slot.w1[j][0] * W;
        small_each<kSmallIn>(d, [&](int k) { put(S, p, qw + k * W, rd * S.x[k]); });
      });
    }
  }
}


// The launcher of this path (small_net_cpu.cpp): hess_cpu's, for the calls small_net_call takes.
template <typename T>
void hess_small_cpu(const HessArgs<T>& a);

}  // namespace rs
