// The tile kernel of the Hessian engine's small-net path (small_net_cpu.h): each vector of a
// tile's samples (one register wide: host_vec.h) goes through the forward, backward and
// R-passes with the per-element maths of hess_tile (act_all, loss_diag, the kink steps),
// instantiated for the vector type (common/value.h), adding into the same slots as hess_tile. A
// full tile's rows are read in place from the caller's arrays (run_tasks), not copied. The
// network's parameters, its directions' and their slots are read once per task (SmallNet). A full
// Hessian's unit columns come from J's outer products instead (small_net_columns.h).
// Cost per sample: O(P) forward + O(P) backward + O(K P) (unit columns: O(P^2)); memory: ~(3
// kSmallHidden + kSmallIn + 3) vectors per vector of a tile's samples, on the stack, and K + 1
// parameter sets per thread.
#pragma once
#include <cstdint>
#include <limits>
#include <vector>

#include "common/host_vec.h"
#include "common/tile_cpu.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "hessian/small_net_columns.h"
#include "hessian/small_net_cpu.h"
#include "model/kink_math.h"
#include "model/net_spec.h"

namespace rs {

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

// The kink flags of the hidden layer (kink_math.h's steps), taken sample by sample, cost as much
// as the rest of the forward pass, and almost no tile holds a sample on a kink. So the tile
// kernel screens first, per neuron j with one bound for all of the call's samples,
//   e_screen_j = (w_max_j S + e_bias_j)(1 + 2^-20) + (the least normal number),
// S the largest in_sum of the call's samples (small_input_bound; or where a call has none, the
// sum of the in_sum of the tile kernel's vectors, lane by lane), at least every sample's own
// e_z = w_max_j in_sum + e_bias_j (all terms >= 0, and rounding is monotone; the factor and the
// term cover a compiler's other choice of contraction, a few ulps), and only a call with some
// |z_j| <= e_screen_j takes the exact steps (small_kink_flags), which give each sample the flag
// it had before the screen (z again from the forward pass's operations, then the old steps in
// their old order). The screen works on the bit patterns of |z| and e_screen as integers, which
// order non-negative numbers as their values (inf included; a NaN bound passes every sample on
// to the exact steps, a NaN z none, as the exact steps flag none): per neuron and vector of
// samples the least |z| so far (2 operations: the sign bit cleared, an integer min), per neuron
// and call of the tile kernel one comparison with e_screen_j. No vector compare of floats (GCC
// split one whose result was combined by bit operations into a compare per lane), and with S, no
// sum over the inputs per sample. The exact steps take 5 operations and 4 vectors of state per
// vector of samples.
template <typename V, typename T>
inline V small_kink_screen_bound(T w_max, V S, T e_bias) {
  const V e = (w_max * S + e_bias) * (T(1) + T(1) / T(1 << 20));
  return abs_(e + std::numeric_limits<T>::min());
}

// least = min(least, |z|), on bit patterns (Mask: the signed integers of V's width; |z|'s are
// >= 0, so the signed min orders them as unsigned).
template <typename V, typename Mask>
inline void small_kink_least(V z, Mask& least) {
  using E = std::remove_reference_t<decltype(least[0])>;
  const Mask a = bits_as<Mask>(z) & E(~kSignBit<V>);
  least = a < least ? a : least;
}

// Sets the sign bit of near's lanes where least <= e's bits (least from small_kink_least).
template <typename Mask, typename V>
inline void small_kink_screen(Mask least, V e, Mask& near) {
  near |= ~(bits_as<Mask>(e) - least);
}

// in_sum of one sample of the hidden layer's kink bounds (kink_math.h): sum_k gamma |x_k|, in
// the order of the exact steps' sums (small_kink_flags).
template <typename V, typename T>
inline V small_input_sum(T gamma, const V* x, int d) {
  V in_sum{};
  for (int k = 0; k < d; ++k) in_sum += kink_input_term(gamma, x[k], V{});
  return in_sum;
}

// The least number of networks for which a call bounds its samples' in_sum once (S below,
// small_input_bound: a pass over the data, ~1/(4 B) of the call's operations); fewer, and calls
// with data per network or minibatch rows, bound each call of the tile kernel by the sum of its
// samples' in_sum instead (cost as the rest of the screen).
inline constexpr int64_t kSmallBoundOnce = 32;

// The largest in_sum of the data's samples (small_kink_screen_bound's S), O(D d_in) once per
// call; -1 (bound per call of the tile kernel) where kSmallBoundOnce says.
template <typename T>
T small_input_bound(const HessArgs<T>& A) {
  if (A.x_per_net || A.rows || A.B < kSmallBoundOnce || !A.kinks) return T(-1);
  const int d = A.net.layer[0].in;
  const T gamma = kink_gamma<T>(A.net.layer[0]);
  T bound = T(0);
  for (int64_t r = 0; r < A.D; ++r) {
    const T in_sum = small_input_sum(gamma, A.x + r * d, d);
    bound = in_sum > bound || in_sum != in_sum ? in_sum : bound;  // a NaN stays (per tile)
  }
  return bound;
}

// One network's task constants, built once per task for all its tiles: its parameters and its
// K directions' (HVP, GNVP), their slots, and the kink bounds' constants (KinkLanes's
// begin_layer and neuron, w_max from the kink_max rows of the scratch s; w_max and e_bias here
// doubled, so a bound 2 (w_max in_sum + e_bias) is one multiply-add, with the same bits), with
// the screen's bound per neuron where the call has one bound S of its samples' in_sum
// (small_input_bound; S < 0: none, each call of the tile kernel bounds its own).
template <typename T>
struct SmallNet {
  LayerSpec L0, L1;
  SmallSlots slot;
  SmallParams<T> th;
  std::vector<SmallParams<T>> dir;
  SmallColumns<kSmallIn, kSmallHidden> cols;  // unit directions (full Hessians)
  T w_max[kSmallHidden], e_bias[kSmallHidden], e_screen[kSmallHidden], gamma, no_bias, S;

  SmallNet(const HessArgs<T>& A, T input_bound)
      : L0(A.net.layer[0]), L1(A.net.layer[1]), slot(L0, L1),
        dir(A.v && (A.mode == HESS_HVP || A.mode == HESS_GNVP) ? size_t(A.K) : 0),
        cols(A.unit_first >= 0
                 ? decltype(cols)(A.net, slot, A.unit_first, A.K, A.mode != HESS_GNVP)
                 : decltype(cols)()),
        gamma(kink_gamma<T>(L0)), no_bias(L0.b_off >= 0 ? T(0) : T(1)), S(input_bound) {}

  void task(const HessArgs<T>& A, const T* theta, const T* v, const T* s) {
    th.load(L0, L1, theta);
    for (size_t kv = 0; kv < dir.size(); ++kv)
      dir[kv].load(L0, L1, v + int64_t(kv) * A.net.n_params);
    for (int j = 0; j < L0.out && A.kinks; ++j) {
      w_max[j] = T(2) * s[int64_t(A.lay.kink_max + A.lay.h[0] + j) * kCpuLanes<T>];
      e_bias[j] = L0.b_off >= 0 ? T(2) * (gamma * abs_(th.b1[j])) : T(0);
      if (S >= T(0)) e_screen[j] = small_kink_screen_bound(w_max[j], S, e_bias[j]);
    }
  }
};

// What the backward and R-passes read of one vector V of samples: inputs, sigma(z), sigma'
// (small_stores_d1: read through times_d1), sigma'', the loss's gradient and curvature in y.
template <typename V>
struct SmallState {
  V x[kSmallIn], a[kSmallHidden], d1[kSmallHidden], d2[kSmallHidden], g, curv;
};

template <typename Bits>
inline bool any_sign_bit(Bits b) {
  constexpr int kShift = 8 * int(sizeof(b[0])) - 1;
  bool any = false;
  for (int i = 0; i < int(sizeof(Bits) / sizeof(b[0])); ++i) any |= (b[i] >> kShift) != 0;
  return any;
}

// Lane i of a sample's state (inputs x) on the kinks of the hidden layer, decided in float64 as
// a float64 call of this path decides it: the float32 inputs and parameters widened (exactly),
// then the float64 path's operations in its order (z = b1_j + sum_k w1_jk x_k, one multiply-add
// per input; in_sum, e_bias and the doubled w_max as SmallNet and small_kink_flags form them in
// float64) and kink_neuron_step; the kink count of the sample (before its weight). O(d h).
template <int ACT, typename T, typename V>
inline double small_kink_count_f64(const SmallNet<T>& net, const SmallState<V>& st, int i) {
  const int d = net.L0.in, h = net.L0.out;
  const double gamma = kink_gamma<double>(net.L0);
  double x[kSmallIn], in_zero = 1;
  for (int k = 0; k < d; ++k) {
    x[k] = double(st.x[k][i]);
    in_zero *= kink_input_zero(x[k]);
  }
  const double in_sum = small_input_sum(gamma, x, d);
  const double moving = 1 - double(net.no_bias) * in_zero;
  double on_kink = 0, out_zero = 1;
  for (int j = 0; j < h; ++j) {
    double z = double(net.th.b1[j]), w_max = 0;
    for (int k = 0; k < d; ++k) {
      const double w = double(net.th.w1[j][k]);
      z += w * x[k];
      w_max = abs_(w) > w_max ? abs_(w) : w_max;
    }
    const double e_bias = net.L0.b_off >= 0 ? 2 * (gamma * abs_(double(net.th.b1[j]))) : 0;
    const double e_z = (2 * w_max) * in_sum + e_bias;
    kink_neuron_step<ACT>(z, e_z, moving, 0.0, on_kink, out_zero);
  }
  return on_kink;
}

// The exact kink flags of NV vectors of samples (their state st: inputs x; w: the sample
// weights' row), into flag; affine(j, z) gives neuron j's pre-activations z[NV] again, with the
// forward pass's own operations. In float32 each lane these steps flag is decided again in
// float64 (small_kink_count_f64), so the flags are a float64 call's: float32's flag every sample
// float64's does (|z| <= 3 b64 for the exact z, then |z^| <= 3 b64 + b32 <= 2 b32 in float32,
// b the rounding bounds, b32 / b64 ~ 2^29), and those lanes are rare (a sample within float32
// rounding of a kink).
template <int ACT, int NV, typename T, typename V, typename Affine>
inline void small_kink_flags(const SmallNet<T>& net, const SmallState<V>* st, T slope,
                             const T* w, V* flag, Affine&& affine) {
  constexpr int W = int(sizeof(V) / sizeof(T));
  const int d = net.L0.in, h = net.L0.out;
  V moving[NV], on_kink[NV], in_sum[NV];
  for (int p = 0; p < NV; ++p) {
    in_sum[p] = small_input_sum(net.gamma, st[p].x, d);
    V in_zero = T(1) - V{};
    for (int k = 0; k < d; ++k) in_zero *= kink_input_zero(st[p].x[k]);
    moving[p] = T(1) - net.no_bias * in_zero;
    on_kink[p] = V{};
  }
  for (int j = 0; j < h; ++j) {
    V z[NV];
    affine(j, z);
    for (int p = 0; p < NV; ++p) {
      const V e_z = net.w_max[j] * in_sum[p] + net.e_bias[j];
      V out_zero = T(1) - V{};  // (read by the layers above a hidden one: none here)
      kink_neuron_step<ACT>(z[p], e_z, moving[p], slope, on_kink[p], out_zero);
    }
  }
  if constexpr (sizeof(T) == 4)
    for (int p = 0; p < NV; ++p)
      for (int i = 0; i < W; ++i)
        if (on_kink[p][i] > T(0)) on_kink[p][i] = T(small_kink_count_f64<ACT>(net, st[p], i));
  for (int p = 0; p < NV; ++p) flag[p] = kink_flag(on_kink[p], load_vec<V>(w + p * W));
}

// A partial tile's lanes past `valid` (vector p holds lanes p W ... p W + W - 1), set to 0 in
// the state of every vector, its loss and kink flags: x, sigma, sigma', sigma'' (kD1, kD2: where
// stored), g and the curvature are then 0 there, so every product a later sum adds for those
// lanes is exactly 0 (the padding lanes' values are finite, but an overflow to inf would make
// 0 x inf a NaN).
template <bool kD1, bool kD2, int NV, typename V, typename State>
inline void small_zero_past(State* st, V* loss, V* flag, int valid, int d, int h) {
  using M = decltype(V{} < V{});
  constexpr int W = int(sizeof(V) / sizeof(V{}[0]));
  for (int p = 0; p < NV; ++p) {
    M keep;
    for (int i = 0; i < W; ++i) keep[i] = p * W + i < valid ? -1 : 0;
    auto zero = [&](V& a) { a = V(M(a) & keep); };
    State& S = st[p];
    for (int k = 0; k < d; ++k) zero(S.x[k]);
    for (int j = 0; j < h; ++j) {
      zero(S.a[j]);
      if constexpr (kD1) zero(S.d1[j]);
      if constexpr (kD2) zero(S.d2[j]);
    }
    zero(S.g);
    zero(S.curv);
    zero(loss[p]);
    zero(flag[p]);
  }
}

// kSpan tiles of the launcher (row[0], row[1], row[2 + k]: the sample weights, the targets and
// input k, L = kSpan kCpuLanes lanes each, the first `valid` of them samples; a partial tile's
// rows are padded with finite values), hidden activation ACT, in vectors of VB bytes (64, or 32
// for AVX2: host_vec.h), into slots (64 bytes per slot, as LaneAcc::add): per slot, lane i of the
// vector sums lanes i, i + W, ... of the tiles (W lanes per vector; a 32-byte vector adds into its
// slot's first half). Every step runs on the NV vectors at once (NV independent chains, unrolled)
// inside plain loops over the neurons j and inputs k (RS_NO_UNROLL: one compact copy of the code
// for every width, the values indexed by j or k in memory). First the forward pass and loss; in a
// partial tile the state, loss and kink flags of the lanes past `valid` are then set to 0, so that
// every later sum adds exactly 0 for them. Then the gradient, a full Hessian's unit columns, or
// direction by direction the R-passes, slot by slot, each slot's terms summed over the vectors in
// order in a register and added to the slot once.
template <int ACT, int VB, int kSpan, typename T>
void small_net_tile(const HessArgs<T>& A, const SmallNet<T>& net, const T* const* row,
                    int valid, T* slots) {
  using V = typename HostVec<T, VB>::Vec;
  constexpr int W = VB / int(sizeof(T)), L = kSpan * kCpuLanes<T>, NV = L / W;
  constexpr int kSlot = 64 / int(sizeof(T));
  const int d = net.L0.in, h = net.L0.out, loss_kind = A.loss;
  const T slope = T(A.net.slope), imp = A.imp[0];
  const int32_t mode = A.mode;
  const bool full = mode != HESS_GNVP, kinks_asked = A.kinks;
  const bool screen = kinks_asked && act_has_kink(ACT);  // (small_kink_flags)
  const SmallParams<T>& th = net.th;
  const SmallSlots& slot = net.slot;
  auto put = [&](int64_t q, V c) {
    store_vec(slots + q * kSlot, load_vec<V>(slots + q * kSlot) + c);
  };
  // ---- forward, with the kink screen of the hidden layer when the flags are asked for
  // (small_kink_flags; the inputs are exact: e = 0)
  using Mask = decltype(V{} < V{});
  SmallState<V> st[NV];
  V y[NV], loss[NV], flag[NV];
  RS_UNROLL_FULLY
  for (int p = 0; p < NV; ++p) {
    y[p] = load_vec<V>(th.b2v);
    flag[p] = V{};
  }
  Mask near{};  // small_kink_screen's
  // b1_j + sum_k w1_jk x_k of a parameter set (theta: z_j; a direction: its R z_j) per vector
  auto affine = [&](const SmallParams<T>& q, int j, V* out) {
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) out[p] = load_vec<V>(q.b1v[j]);
    RS_NO_UNROLL
    for (int k = 0; k < d; ++k) {
      const T w = q.w1[j][k];
      RS_UNROLL_FULLY
      for (int p = 0; p < NV; ++p) out[p] += w * st[p].x[k];
    }
  };
  RS_NO_UNROLL
  for (int k = 0; k < d; ++k) {
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) {
      st[p].x[k] = load_vec<V>(row[2 + k] + p * W);
    }
  }
  const bool tile_bound = screen && !(net.S >= T(0));  // (small_input_bound; NaN: per tile)
  V in_sum_total{};
  if (tile_bound) {
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) in_sum_total += small_input_sum(net.gamma, st[p].x, d);
  }
  RS_NO_UNROLL
  for (int j = 0; j < h; ++j) {
    V z[NV];
    affine(th, j, z);
    Mask least = ~Mask{} & ~kSignBit<V>;
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) {
      SmallState<V>& S = st[p];
      if (screen) small_kink_least(z[p], least);
      V d1, d2;  // stored only where they are read (small_stores_d1; sigma'': not for the
                 // piecewise linear activations)
      act_all(int32_t(ACT), z[p], slope, S.a[j], d1, d2);
      if constexpr (small_stores_d1(ACT)) S.d1[j] = d1;
      if constexpr (act_has_d2(ACT)) S.d2[j] = d2;
      y[p] += th.w2[j] * S.a[j];
    }
    if (screen)
      small_kink_screen(least, tile_bound ? small_kink_screen_bound(net.w_max[j], in_sum_total,
                                                                    net.e_bias[j])
                                          : net.e_screen[j] + V{},
                        near);
  }
  if (screen && any_sign_bit(near))
    small_kink_flags<ACT, NV>(net, st, slope, row[0], flag,
                              [&](int j, V* z) { affine(th, j, z); });
  // ---- the loss, its gradient g in y and curvature (loss_math.h)
  RS_UNROLL_FULLY
  for (int p = 0; p < NV; ++p) {
    const V w = load_vec<V>(row[0] + p * W), t = load_vec<V>(row[1] + p * W);
    loss[p] = V{};
    loss_diag_kind(loss_kind, y[p], t, w * imp, loss[p], st[p].g, st[p].curv);
  }
  if (valid < L)
    small_zero_past<small_stores_d1(ACT), act_has_d2(ACT), NV>(st, loss, flag, valid, d, h);
  V loss_sum = V{}, kink_sum = V{};
  RS_UNROLL_FULLY
  for (int p = 0; p < NV; ++p) {
    loss_sum += loss[p];
    kink_sum += flag[p];
  }
  put(kHessLossSlot, loss_sum);
  if (kinks_asked) put(kHessKinkSlot, kink_sum);
  // full Hessians' unit columns: register blocks of 4 columns x NV vectors of factors where
  // that leaves room (AVX-512's 32 registers), else 1 (2 for 8 vectors: slower under AVX2, no
  // faster under AVX-512)
  constexpr int kCols = NV <= 4 ? 4 : 1;
  if (A.unit_first >= 0)
    return small_unit_columns<ACT, NV, kSmallParams, kCols, V>(net.cols, st, d, h, th.w2, put);
  // sum_p f[p] x_k of vector p, for each input k, into slot w1[j][k] (+ q)
  auto put_inputs = [&](int64_t q, int j, const V* f) {
    RS_NO_UNROLL
    for (int k = 0; k < d; ++k) {
      V s = V{};
      RS_UNROLL_FULLY
      for (int p = 0; p < NV; ++p) s += f[p] * st[p].x[k];
      put(q + slot.w1[j][k], s);
    }
  };
  // ---- gradient: dL/db2 = g, dL/dW2_j = g a_j, delta_j = W2_j g sigma'_j, dL/db1_j = delta_j,
  // dL/dW1_jk = delta_j x_k
  if (mode == HESS_GRAD) {
    const int64_t q = kHessHeaderSlots;
    V gb2 = V{};
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) gb2 += st[p].g;
    if (slot.b2 >= 0) put(q + slot.b2, gb2);
    RS_NO_UNROLL
    for (int j = 0; j < h; ++j) {
      V gw2 = V{}, gb1 = V{}, del[NV];
      RS_UNROLL_FULLY
      for (int p = 0; p < NV; ++p) {
        const SmallState<V>& S = st[p];
        gw2 += S.g * S.a[j];
        del[p] = times_d1<ACT>(S, j, th.w2[j] * S.g);
        gb1 += del[p];
      }
      put(q + slot.w2[j], gw2);
      if (slot.b1[j] >= 0) put(q + slot.b1[j], gb1);
      put_inputs(q, j, del);
    }
  }
  if (mode != HESS_HVP && mode != HESS_GNVP) return;
  // ---- K directions: R-forward (Rz, Ra, R y), R g = (d2l/dy2) R y, R-backward
  for (size_t kv = 0; kv < net.dir.size(); ++kv) {
    const SmallParams<T>& vp = net.dir[kv];
    const int64_t q = kHessHeaderSlots + int64_t(kv) * A.net.n_params;
    V rz[kSmallHidden][NV], ra[kSmallHidden][NV], rg[NV], ry[NV], rgb2 = V{};
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) ry[p] = load_vec<V>(vp.b2v);
    RS_NO_UNROLL
    for (int j = 0; j < h; ++j) {
      V r[NV];
      affine(vp, j, r);
      RS_UNROLL_FULLY
      for (int p = 0; p < NV; ++p) {
        const SmallState<V>& S = st[p];
        rz[j][p] = r[p];
        ra[j][p] = times_d1<ACT>(S, j, r[p]);
        ry[p] += vp.w2[j] * S.a[j];
        ry[p] += th.w2[j] * ra[j][p];
      }
    }
    RS_UNROLL_FULLY
    for (int p = 0; p < NV; ++p) {
      rg[p] = st[p].curv * ry[p];  // loss_hessian_lanes of a diagonal loss
      rgb2 += rg[p];
    }
    if (slot.b2 >= 0) put(q + slot.b2, rgb2);
    RS_NO_UNROLL
    for (int j = 0; j < h; ++j) {
      V hw2 = V{}, hb1 = V{}, rd[NV];
      RS_UNROLL_FULLY
      for (int p = 0; p < NV; ++p) {
        const SmallState<V>& S = st[p];
        const V gp = S.g;
        hw2 += full ? rg[p] * S.a[j] + gp * ra[j][p] : rg[p] * S.a[j];
        V r = th.w2[j] * rg[p];  // R g_j = W2_j R g (+ V2_j g), then R delta_j
        if (full) r += vp.w2[j] * gp;
        if (full && act_has_d2(ACT))
          r = r * S.d1[j] + (th.w2[j] * gp) * S.d2[j] * rz[j][p];
        else
          r = times_d1<ACT>(S, j, r);
        rd[p] = r;
        hb1 += r;
      }
      put(q + slot.w2[j], hw2);
      if (slot.b1[j] >= 0) put(q + slot.b1[j], hb1);
      put_inputs(q, j, rd);
    }
  }
}

}  // namespace rs
