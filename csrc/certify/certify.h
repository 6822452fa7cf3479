// Interval enclosures of the loss, gradient and Hessian of B networks over boxes of parameters
// (reluscope.certify): for network b the box is theta_b + [-r_b, r_b]^P, and the outputs contain
// the exact real L, grad L and Hessian of L = sum_n l(y(x_n; theta); t_n, w_n, I) (the losses of
// hessian/loss_math.h) at every point of it. The per-sample math is certify_math.h; each launcher
// sums samples per (network, data chunk) task in interval arithmetic, then the chunks in a fixed
// order (results do not depend on the thread count), and writes loss (B, 2), grad (B, P, 2),
// hess (B, P, P, 2) and flags (B,) (kCertKink | kCertNonfinite). With grad_at_centre the
// gradient is enclosed at the centre theta_b only (the loss and the Hessian over the box).
#pragma once
#include <cstdint>
#include <initializer_list>

#include "common/device.h"
#include "common/hostdevice.h"
#include "hessian/loss_math.h"
#include "model/net_spec.h"

namespace rs {

// Flag bits (reluscope.certify.Flag).
inline constexpr int32_t kCertKink = 1;       // a relu / leaky_relu pre-activation contains 0
inline constexpr int32_t kCertNonfinite = 2;  // some output enclosure is not finite

// Launch facts.
inline constexpr int64_t kCertCpuTasks = 64;          // CPU: (network, chunk) tasks a call aims for
inline constexpr int64_t kCertCpuMinChunk = 16;       // CPU: fewest samples per chunk
inline constexpr int kCertCudaBlock = 64;             // CUDA: threads per block, one task each
inline constexpr int64_t kCertCudaTasks = 16384;      // CUDA: (network, chunk) tasks a call aims for
inline constexpr int64_t kCertCudaPartBytes = int64_t(1) << 30;  // CUDA: partial sums' budget

// Rows of the per-sample scratch, one Interval each (built on the host by make_cert_layout).
// a[l]: activations of layer l (l = 0: the input); per hidden block, h[l] is layer l's offset.
struct CertLayout {
  int32_t a[kMaxLayers + 1];
  int32_t h[kMaxLayers];
  int32_t H = 0;  // sum of the layer widths
  int32_t d1 = 0, d2 = 0, del = 0, gd2 = 0, rz = 0, ra = 0;  // H rows each
  int32_t rg = 0;    // 2 max_width rows: R(dL/da) of the current and the next layer down
  int32_t curv = 0;  // d_out rows: d2l/dy2's diagonal, or softmax p (cross-entropy)
  int32_t ws = 0;    // one row: w s of the cross-entropy
  int32_t rows = 0;
};

inline CertLayout make_cert_layout(const NetSpec& net) {
  CertLayout s;
  int32_t r = 0;
  s.a[0] = r;
  r += net.d_in;
  for (int l = 0; l < net.n_layers; ++l) {
    s.h[l] = s.H;
    s.H += net.layer[l].out;
    s.a[l + 1] = r;
    r += net.layer[l].out;
  }
  for (int32_t* blk : {&s.d1, &s.d2, &s.del, &s.gd2, &s.rz, &s.ra}) {
    *blk = r;
    r += s.H;
  }
  s.rg = r;
  r += 2 * net.max_width;
  s.curv = r;
  r += net.d_out;
  s.ws = r++;
  s.rows = r;
  return s;
}

// How one call is laid out: `chunks` data chunks per network; a task's sums are len() intervals
// [loss | grad (P) | hess (P x P, row-major, lower triangle)]; on CUDA a workspace of `workspace`
// doubles (the tasks' partial sums and flags, then each thread's scratch: rows + 2P intervals),
// allocated by the caller.
struct CertPlan {
  int64_t chunks = 1;
  int64_t workspace = 0;
};

CertPlan certify_plan(const NetSpec& net, int64_t B, int64_t N, bool cuda);

struct CertArgs {
  NetSpec net;
  CertLayout lay;
  const double* theta = nullptr;   // (B, P) box centres
  const double* radius = nullptr;  // (B,) box radii >= 0
  const double* x = nullptr;       // (N, d_in) or (B, N, d_in) when x_per_net
  const double* t = nullptr;       // (N, d_out) or (B, N, d_out) when t_per_net
  const double* w = nullptr;       // (N,) or (B, N) when w_per_net
  const double* imp = nullptr;     // (d_out,)
  double* out_loss = nullptr;      // (B, 2)
  double* out_grad = nullptr;      // (B, P, 2)
  double* out_hess = nullptr;      // (B, P, P, 2)
  int32_t* out_flags = nullptr;    // (B,)
  int64_t B = 0, N = 0, C = 1;
  int32_t loss = LOSS_MSE;
  bool x_per_net = false, t_per_net = false, w_per_net = false;
  bool grad_at_centre = false;     // grad: at theta (a point), not over the box (r > 0)
  double* workspace = nullptr;     // CUDA only (CertPlan::workspace doubles)

  RS_HD int64_t len() const { return 1 + net.n_params + net.n_params * net.n_params; }
};
static_assert(sizeof(CertArgs) <= 4096, "CertArgs must fit in a CUDA kernel's parameters");

void certify_cpu(const CertArgs& a);
void certify_cuda(const CertArgs& a, const DeviceContext& ctx);

}  // namespace rs
