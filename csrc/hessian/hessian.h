// Batched loss / gradient / Hessian-vector / Gauss-Newton-vector products of B networks on a
// weighted dataset: L_b = sum_n l(y(x_n; theta_b); t_n, w_n, I), l one of the losses of
// hessian/loss_math.h (mean squared error, cross-entropy, binary cross-entropy with logits,
// linear).
// Every launcher writes partial sums per (model, data chunk) — per warp on CUDA — into `part`
// (B, partials, len), laid out as HessPlan says ([loss | kinks | grad (P, mode grad) | K products
// of P (modes hvp, gnvp)]; kinks, when asked for: the samples with non-zero weight on a kink that
// moves with theta, model/kink_math.h); the Python layer allocates `part` and the CUDA workspace
// from hess_plan and sums over the partials.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "common/device.h"
#include "common/hostdevice.h"
#include "hessian/loss_math.h"
#include "model/net_spec.h"

namespace rs {

enum HessMode : int32_t {
  HESS_LOSS = 0,   // loss only
  HESS_GRAD = 1,   // loss and gradient
  HESS_HVP = 2,    // K Hessian-vector products (full Pearlmutter R-backward)
  HESS_GNVP = 3,   // K Gauss-Newton-vector products (sigma'' and residual cross terms dropped)
  HESS_MODE_COUNT  // one past the last mode
};
inline bool valid_hess_mode(int32_t mode) { return mode >= 0 && mode < HESS_MODE_COUNT; }

// The first values of every row of `part`: the loss, then the count of samples on a moving kink.
inline constexpr int64_t kHessLossSlot = 0;
inline constexpr int64_t kHessKinkSlot = 1;
inline constexpr int64_t kHessHeaderSlots = 2;

// Launch facts of the Hessian engine.
inline constexpr int kHessCudaBlock = 128;               // threads per block: one sample each
inline constexpr int kHessCudaWarps = kHessCudaBlock / 32;  // partial sums per (model, chunk)
inline constexpr int64_t kHessCudaMaxBlocks = 2048;      // bounds the CUDA scratch workspace
inline constexpr int64_t kHessCudaSamplesPerChunk = 512;
inline constexpr int64_t kHessCudaWorkspaceBytes = int64_t(1) << 30;
inline constexpr int64_t kHessPartBudget = int64_t(1) << 25;  // partial-sum values per call
inline constexpr int64_t kHessCpuTasks = 64;  // CPU: (model, chunk) tasks a call aims for

// How one call is laid out: the Python layer allocates `part` (B, partials, length), zero-filled,
// and a CUDA workspace of `workspace` values, sums `part` over its partials (torch's sum: a fixed
// order, so results are reproducible bit for bit) and reads the results at the offsets.
struct HessPlan {
  int64_t chunks = 1;           // data chunks per model (parallelism when B is small)
  int64_t partials = 1;         // rows of `part` per model: chunks x (CUDA: kHessCudaWarps)
  int64_t length = kHessHeaderSlots;  // values per (model, chunk): loss, kinks, gradient, products
  int64_t kinks_offset = kHessKinkSlot;          // samples on a moving kink (when asked for)
  int64_t grad_offset = kHessHeaderSlots;        // first gradient value (mode grad)
  int64_t products_offset = kHessHeaderSlots;    // first of the K products of P (modes hvp, gnvp)
  int64_t workspace = 0;        // CUDA scratch values (0 on the CPU)
  int64_t max_directions = 1;   // most directions per call within kHessPartBudget partial values
  // The kink counts are those of a float64 pass: in float64, and in float32 on the CPU's
  // small-net path (small_kink_count_f64). Else a float32 call's counts are a screen, a superset
  // of float64's, for the caller to confirm in float64 (reluscope._fused._confirmed).
  bool kinks_float64 = false;
};

// The layer of each parameter (P values): the one layer that reads it, or -1 where two layers
// (tied weights) or none do. Unit directions (HessArgs::unit_first) need every value >= 0. The
// product with e_p then holds only the slots q of layers above p's, or of p's layer with q >= p
// (the rest stay 0): each off-diagonal entry of H is computed once, in one of its two products.
std::vector<int32_t> hess_param_layers(const NetSpec& net);

// max_workspace_bytes < 0: kHessCudaWorkspaceBytes (a smaller budget means fewer CUDA blocks).
// loss (-1: not given) and dx (input gradients asked for) choose the CPU path, which decides
// kinks_float64 in float32.
HessPlan hess_plan(const NetSpec& net, int64_t B, int64_t N, int64_t K, int32_t mode, bool cuda,
                   int64_t elem_size, int64_t max_workspace_bytes = -1, int32_t loss = -1,
                   bool dx = false);

// Rows of the per-sample scratch (each row holds one value per sample of a tile). Built on the
// host by make_hess_layout; a[l] is the first row of the activations of layer l (l = 0: input).
struct HessLayout {
  int32_t a[kMaxLayers + 1];
  int32_t h[kMaxLayers];  // offset of layer l's outputs inside each hidden block below
  int32_t H = 0;          // sum of the layer output widths
  int32_t w_row = 0, t_row = 0, d1 = 0, d2 = 0, del = 0, gd2 = 0, rz = 0, ra = 0, rg = 0;
  int32_t curv = 0;       // d_out rows: the loss's curvature (loss_math.h)
  int32_t ws = 0;         // one row: w s of the cross-entropy
  int32_t err = 0;        // max_width rows: the kink flags' rounding bounds (model/kink_math.h)
  int32_t kink_max = 0;   // H rows, lane 0: max_k |W_jk| of every neuron (kink_row_max)
  int32_t rows = 0;       // total rows
};

inline HessLayout make_hess_layout(const NetSpec& net) {
  HessLayout s;
  int32_t r = 0;
  s.w_row = r++;
  s.t_row = r;
  r += net.d_out;
  s.a[0] = r;
  r += net.d_in;
  for (int l = 0; l < net.n_layers; ++l) {
    s.h[l] = s.H;
    s.H += net.layer[l].out;
    s.a[l + 1] = r;
    r += net.layer[l].out;
  }
  s.curv = r;
  r += net.d_out;
  s.ws = r++;
  for (int32_t* blk : {&s.d1, &s.d2, &s.del, &s.gd2, &s.rz, &s.ra}) {
    *blk = r;
    r += s.H;
  }
  s.rg = r;
  r += 2 * net.max_width;
  s.err = r;
  r += net.max_width;
  s.kink_max = r;
  r += s.H;
  s.rows = r;
  return s;
}

template <typename T>
struct HessArgs {
  NetSpec net;
  HessLayout lay;
  const T* theta = nullptr;  // (B, P)
  const T* x = nullptr;      // (D, d_in) or (B, D, d_in) when x_per_net
  const T* t = nullptr;      // (D, d_out) or (B, D, d_out) when t_per_net
  const int64_t* rows = nullptr;  // (B, N): sample n of network b is row rows[b, n] of its x, t
                                  // (0 <= row < D: a minibatch read in place); null: row n, D = N
  int64_t D = 0;             // rows of x and t (per network)
  const T* w = nullptr;      // (N,) sample weights, or (B, N) when w_per_net
  const T* imp = nullptr;    // (d_out,) output importance I
  const T* v = nullptr;      // (B, K, P), or (K, P) shared when !v_per_net; null when K == 0
  T* part = nullptr;         // (B, C, len) partial sums (CUDA: (B, C, kHessCudaWarps, len)), zero
                             // on entry
  int64_t B = 0, N = 0, K = 0, C = 1;
  T* dx = nullptr;           // mode grad only, or null: (B, N, d_in) gradients of each sample's
                             // loss with respect to its input
  int32_t mode = HESS_LOSS;
  int32_t loss = LOSS_MSE;   // HessLoss
  bool kinks = false;        // count the samples on a moving kink (else that slot stays 0)
  bool x_per_net = false, t_per_net = false, w_per_net = false, v_per_net = true;
  int64_t unit_first = -1;   // >= 0 (modes hvp, gnvp): direction kv is the unit vector e_p,
                             // p = unit_first + kv (v unread), and only the slots q of layers
                             // above p's, or of p's with q >= p, are written (hess_param_layers)
  T* workspace = nullptr;    // CUDA only: (threads, lay.rows) scratch
  int64_t workspace_threads = 0;

  RS_HD int64_t grad_len() const { return mode == HESS_GRAD ? net.n_params : 0; }
  RS_HD int64_t len() const { return kHessHeaderSlots + grad_len() + K * net.n_params; }
};
// Passed by value to the CUDA kernel, whose parameters may hold at most 4 KB.
static_assert(sizeof(HessArgs<double>) <= 4096, "HessArgs must fit in a CUDA kernel's parameters");

template <typename T>
void hess_cpu(const HessArgs<T>& a);

// Whether hess_cpu runs a call of this network and loss (without input gradients) on its
// small-net path (small_net_cpu.h), on this CPU and with this environment, now.
bool hess_cpu_small_path(const NetSpec& net, int32_t loss);

template <typename T>
void hess_cuda(const HessArgs<T>& a, const DeviceContext& ctx);

}  // namespace rs
