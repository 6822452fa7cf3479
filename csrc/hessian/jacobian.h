// Batched Jacobians of B networks' outputs in their parameters, J[b, n, o, :] = d y_o(x_n) / d
// theta_b, Jacobian-vector products J u (the outputs' directional derivatives), and the per-layer
// factors of J (mode features: J's block of layer l is w_scale delta^l_o a^{l-1 T} and delta^l_o,
// so an NTK factorises as sum_l (w_scale^2 <a, a'> + [bias]) <delta_o, delta'_o'> at O(width) per
// pair instead of O(P)), one fused pass per call (hessian/jacobian_math.h). The Python layer allocates the outputs (the Jacobian
// zero-filled: tied weights add into shared slots) and, on CUDA, the workspace jac_workspace says.
#pragma once
#include <cstdint>

#include "common/device.h"
#include "common/hostdevice.h"
#include "model/net_spec.h"

namespace rs {

enum JacMode : int32_t {
  JAC_FULL = 0,  // out (B, N, d_out, P): the Jacobian
  JAC_JVP = 1,   // out (B, N, d_out, K): J u_k for K directions u (B, K, P) or (K, P)
  JAC_FEATURES = 2,  // out (B, N, F): per layer l, a^{l-1} (in values) then delta^l_o = d y_o /
                     // d z^l for o < d_out (d_out x out values), at jac_feature_offset(net, l)
  JAC_MODE_COUNT  // one past the last mode
};
inline bool valid_jac_mode(int32_t mode) { return mode >= 0 && mode < JAC_MODE_COUNT; }

// Offset of layer l's features in a sample's row of mode features (l = n_layers: the row's
// length F = sum_l (in_l + d_out out_l)); delta^l_o starts at offset + in_l + o out_l.
RS_HD int64_t jac_feature_offset(const NetSpec& net, int l) {
  int64_t off = 0;
  for (int m = 0; m < l; ++m) off += net.layer[m].in + int64_t(net.d_out) * net.layer[m].out;
  return off;
}

// Launch facts of the CUDA launcher: one thread per (network, sample) pair, grid-stride over the
// pairs with at most kJacCudaMaxThreads threads, each owning jac_layout(net).rows scratch values.
inline constexpr int kJacCudaBlock = 128;
inline constexpr int64_t kJacCudaMaxThreads = int64_t(1) << 18;
inline constexpr int64_t kJacCudaWorkspaceBytes = int64_t(1) << 30;

// Rows of the per-sample scratch (one value per sample of a tile in each row).
struct JacLayout {
  int32_t a[kMaxLayers + 1];  // first row of layer l's activations (l = 0: the input)
  int32_t d1[kMaxLayers];     // first row of layer l's sigma'
  int32_t d2 = 0;             // one row for sigma'' (written by the shared activation loop, unread)
  int32_t g = 0;              // 2 max_width rows: backward (or R-forward) values, ping-pong
  int32_t rows = 0;
};

inline JacLayout make_jac_layout(const NetSpec& net) {
  JacLayout s;
  int32_t r = 0;
  s.a[0] = r;
  r += net.d_in;
  for (int l = 0; l < net.n_layers; ++l) {
    s.a[l + 1] = r;
    r += net.layer[l].out;
    s.d1[l] = r;
    r += net.layer[l].out;
  }
  s.d2 = r++;
  s.g = r;
  r += 2 * net.max_width;
  s.rows = r;
  return s;
}

template <typename T>
struct JacArgs {
  NetSpec net;
  JacLayout lay;
  const T* theta = nullptr;  // (B, P)
  const T* x = nullptr;      // (N, d_in) or (B, N, d_in) when x_per_net
  const T* u = nullptr;      // mode jvp: (B, K, P), or (K, P) when !u_per_net
  T* out = nullptr;          // mode full: (B, N, d_out, P), zero on entry; jvp: (B, N, d_out, K);
                             // features: (B, N, F)
  int64_t B = 0, N = 0, K = 0;
  int32_t mode = JAC_FULL;
  bool x_per_net = false, u_per_net = true;
  T* workspace = nullptr;    // CUDA only: (threads, lay.rows) scratch
  int64_t workspace_threads = 0;
};
static_assert(sizeof(JacArgs<double>) <= 4096, "JacArgs must fit in a CUDA kernel's parameters");

// Scratch values of a call: 0 on the CPU; on CUDA threads x rows with threads <= B N,
// kJacCudaMaxThreads and the byte budget (max_bytes < 0: kJacCudaWorkspaceBytes).
int64_t jac_workspace(const NetSpec& net, int64_t B, int64_t N, bool cuda, int64_t elem_size,
                      int64_t max_bytes = -1);

template <typename T>
void jac_cpu(const JacArgs<T>& a);

template <typename T>
void jac_cuda(const JacArgs<T>& a, const DeviceContext& ctx);

}  // namespace rs
