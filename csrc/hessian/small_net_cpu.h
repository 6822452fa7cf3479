// The CPU's second path of the Hessian engine, for the teacher-student shape: two layers, at
// most kSmallIn inputs, at most kSmallHidden hidden neurons, one identity output (the students'
// [2,5,1]). hess_tile runs each neuron's step over a whole tile of rows in scratch memory, with
// loops and row overhead that dominate at these widths; here each 64-byte vector of kVec samples
// goes through the forward, backward and R-passes on its own, its values in vector registers and
// in a few stack rows (the per-element maths are hess_tile's own: act_all, loss_lanes,
// loss_hessian_lanes and KinkLanes, run as lane loops over kVec-lane rows), and adds into the
// same slots in the same order of operations per sample. 1.2-1.5x faster than hess_tile on the
// students (bench/results/NOTES.md, which also says what still separates it from a kernel with
// every value in registers). The CUDA launcher keeps hess_tile (one thread per sample).
// Cost per sample: O(P) forward + O(P) backward + O(K P); memory: ~(3 kSmallHidden + kSmallIn
// + 3) vectors per vector of a tile's samples, on the stack.
#pragma once
#include <cstdint>

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
// row-major weights (a hidden neuron's weight slots are then consecutive), no unit directions
// (full Hessians keep their own pass) and no input gradients.
template <typename T>
bool small_net_call(const HessArgs<T>& a) {
  const NetSpec& net = a.net;
  if (net.n_layers != 2 || net.d_out != 1 || a.unit_first >= 0 || a.dx != nullptr) return false;
  const LayerSpec &L0 = net.layer[0], &L1 = net.layer[1];
  return L0.in <= kSmallIn && L0.out <= kSmallHidden && L1.act == ACT_IDENTITY &&
         !layer_scaled(L0) && !layer_scaled(L1) && L0.w_sk == 1 && L1.w_sk == 1;
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

// One tile of the launcher (rows w_row, t_row, a[0].. of the scratch s filled, L = kCpuLanes
// lanes each, the first `valid` of them samples; the kink_max rows when A.kinks), hidden
// activation ACT, into slots (kVec values per slot, as LaneAcc::add): per slot, lane i of the
// vector sums lanes i, i + kVec, ... of the tile, the lanes past `valid` left out by a mask.
// First every vector's forward pass, loss and gradient; then, direction by direction (each
// direction's parameters read once per tile), every vector's R-passes from the values the first
// phase kept.
template <int ACT, typename T>
void small_net_tile(const HessArgs<T>& A, const T* theta, const T* v, const T* s, int valid,
                    T* slots) {
  using V = typename Vec64<T>::Vec;
  using M = typename Vec64<T>::Mask;
  constexpr int W = int(sizeof(V) / sizeof(T)), L = kCpuLanes<T>, NV = L / W;
  const LayerSpec L0 = A.net.layer[0], L1 = A.net.layer[1];
  const int d = L0.in, h = L0.out, loss_kind = A.loss, nv = (valid + W - 1) / W;
  const int64_t P = A.net.n_params, K = A.K;
  const T slope = T(A.net.slope);
  const T* imp = A.imp;
  const int32_t mode = A.mode;
  const bool full = mode != HESS_GNVP, kinks_asked = A.kinks;
  const bool bound = kinks_asked && act_has_kink(ACT);
  SmallParams<T> th;
  th.load(L0, L1, theta);
  const SmallSlots slot(L0, L1);
  T w_max[kSmallHidden];
  for (int j = 0; j < h && bound; ++j) w_max[j] = s[int64_t(A.lay.kink_max + A.lay.h[0] + j) * L];
  // what the R-passes read, per vector of samples
  // (a, sigma', sigma'' as rows of W lanes, neuron after neuron: one lane loop applies sigma)
  V x[NV][kSmallIn], g[NV];
  T a[NV][kSmallHidden * W], d1[NV][kSmallHidden * W], d2[NV][kSmallHidden * W];
  T curv[NV][W], ws[NV][W];
  auto at = [&](T(&r)[NV][kSmallHidden * W], int p, int j) { return load_vec64(r[p] + j * W); };
  M keep[NV];
  auto put = [&](int p, T* q, V c) {  // q: the slot's kVec values
    if ((p + 1) * W > valid) c = V(M(c) & keep[p]);
    store_vec64(q, load_vec64(q) + c);
  };
  for (int p = 0; p < nv; ++p) {
    const int p0 = p * W;
    keep[p] = M{} - 1;
    for (int i = 0; i < W && p0 + W > valid; ++i) keep[p][i] = p0 + i < valid ? -1 : 0;
    // ---- forward, with the kink flags of the hidden layer when asked for
    T xs[kSmallIn][W], es[W];
    for (int k = 0; k < d; ++k) {
      x[p][k] = load_vec64(s + int64_t(A.lay.a[0] + k) * L + p0);
      store_vec64(xs[k], x[p][k]);
    }
    KinkLanes<W, T> kinks;
    if (kinks_asked) {
      T e0[kSmallIn][W];
      kinks.start(d, [&](int k) { return static_cast<const T*>(xs[k]); },
                  [&](int k) { return e0[k]; });
      if (bound)
        kinks.begin_layer(L0, [&](int k) { return static_cast<const T*>(xs[k]); },
                          [&](int k) { return static_cast<const T*>(e0[k]); });
    }
    T* z = a[p];
    for (int j = 0; j < h; ++j) {
      V zj = th.b1[j] + V{};
      for (int k = 0; k < d; ++k) zj += th.w1[j][k] * x[p][k];
      store_vec64(z + j * W, zj);
      if (bound) kinks.template neuron<ACT>(L0, theta, j, w_max[j], z + j * W, es, slope);
    }
    T* g1 = d1[p];
    T* g2 = d2[p];
    RS_SIMD for (int i = 0; i < h * W; ++i) {
      T ai, d1i, d2i;
      act_all(int32_t(ACT), z[i], slope, ai, d1i, d2i);
      z[i] = ai;
      g1[i] = d1i;
      g2[i] = d2i;
    }
    V y = th.b2 + V{};
    for (int j = 0; j < h; ++j) y += th.w2[j] * at(a, p, j);
    const T* wr = s + int64_t(A.lay.w_row) * L + p0;
    if (kinks_asked) {
      T on_kink[W];
      kinks.flags(wr, on_kink);
      put(p, slots + kHessKinkSlot * W, load_vec64(on_kink));
    }
    // ---- the loss, its gradient g in y and curvature (loss_math.h)
    T ys[W], gs[W], loss[W];
    store_vec64(ys, y);
    RS_SIMD for (int i = 0; i < W; ++i) loss[i] = T(0);
    const T* tr = s + int64_t(A.lay.t_row) * L + p0;
    loss_lanes<W, T>(loss_kind, 1, imp, [&](int) { return static_cast<const T*>(ys); },
                     [&](int) { return tr; }, wr, [&](int) { return gs; },
                     [&](int) { return curv[p]; }, ws[p], loss);
    put(p, slots + kHessLossSlot * W, load_vec64(loss));
    g[p] = load_vec64(gs);
    // ---- gradient: dL/dW2_j = g a_j, delta_j = W2_j g sigma'_j, dL/dW1_jk = delta_j x_k
    if (mode == HESS_GRAD) {
      T* q = slots + kHessHeaderSlots * W;
      if (slot.b2 >= 0) put(p, q + slot.b2 * W, g[p]);
      for (int j = 0; j < h; ++j) {
        put(p, q + slot.w2[j] * W, g[p] * at(a, p, j));
        const V del = ACT == ACT_IDENTITY ? th.w2[j] * g[p] : th.w2[j] * g[p] * at(d1, p, j);
        if (slot.b1[j] >= 0) put(p, q + slot.b1[j] * W, del);
        T* qw = q + slot.w1[j][0] * W;
        for (int k = 0; k < d; ++k) put(p, qw + k * W, del * x[p][k]);
      }
    }
  }
  if (mode != HESS_HVP && mode != HESS_GNVP) return;
  // ---- K directions: R-forward (Rz, Ra, R y), R g = (d2l/dy2) R y, R-backward
  for (int64_t kv = 0; kv < K; ++kv) {
    SmallParams<T> vp;
    vp.load(L0, L1, v + kv * P);
    T* q = slots + (kHessHeaderSlots + kv * P) * W;
    for (int p = 0; p < nv; ++p) {
      V rz[kSmallHidden], ra[kSmallHidden], ry = vp.b2 + V{};
      for (int j = 0; j < h; ++j) {
        rz[j] = vp.b1[j] + V{};
        for (int k = 0; k < d; ++k) rz[j] += vp.w1[j][k] * x[p][k];
        ra[j] = ACT == ACT_IDENTITY ? rz[j] : at(d1, p, j) * rz[j];
        ry += vp.w2[j] * at(a, p, j);
        ry += th.w2[j] * ra[j];
      }
      T rys[W], rgs[W];
      store_vec64(rys, ry);
      loss_hessian_lanes<W, T>(loss_kind, 1, [&](int) { return static_cast<const T*>(rys); },
                               [&](int) { return static_cast<const T*>(curv[p]); }, ws[p],
                               [&](int) { return rgs; });
      const V rg = load_vec64(rgs), gp = g[p];
      if (slot.b2 >= 0) put(p, q + slot.b2 * W, rg);
      for (int j = 0; j < h; ++j) {
        put(p, q + slot.w2[j] * W, full ? rg * at(a, p, j) + gp * ra[j] : rg * at(a, p, j));
        V rd = th.w2[j] * rg;  // R g_j = W2_j R g (+ V2_j g), then R delta_j
        if (full) rd += vp.w2[j] * gp;
        if (full && act_has_d2(ACT))
          rd = rd * at(d1, p, j) + (th.w2[j] * gp) * at(d2, p, j) * rz[j];
        else if (ACT != ACT_IDENTITY)
          rd *= at(d1, p, j);
        if (slot.b1[j] >= 0) put(p, q + slot.b1[j] * W, rd);
        T* qw = q + slot.w1[j][0] * W;
        for (int k = 0; k < d; ++k) put(p, qw + k * W, rd * x[p][k]);
      }
    }
  }
}

}  // namespace rs
