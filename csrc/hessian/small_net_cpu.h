// The CPU's second path of the Hessian engine, for the teacher-student shape: two layers, at
// most kSmallIn inputs, at most kSmallHidden hidden neurons, one identity output (the students'
// [2,5,1]). hess_tile runs each neuron's step over a whole tile of rows in scratch memory, with
// loops and row overhead that dominate at these widths; here each vector of samples (one
// register wide: host_vec.h) goes through the forward, backward and R-passes in registers
// (small_net_tile.h). This header holds what hess_cpu reads of the path: which calls take it
// (small_net_shape) and its launcher (hess_small_cpu, small_net_launcher.h, in translation units
// of its own). The CUDA launcher keeps hess_tile (one thread per sample).
#pragma once
#include <cstdint>

#include "common/cpu_isa.h"
#include "hessian/hessian.h"
#include "hessian/loss_math.h"
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

// The bytes of the host vectors (host_vec.h) the path's tiles run in, one register wide: 32
// under AVX2 (GCC lowers a 64-byte vector's lane comparisons there to scalar code), else 64.
constexpr int small_vec_bytes(CpuIsa isa) { return isa == CpuIsa::kAvx2 ? 32 : 64; }

// The launcher of this path (small_net_launcher.h): hess_cpu's, for the calls small_net_shape
// takes.
template <typename T>
void hess_small_cpu(const HessArgs<T>& a);

}  // namespace rs
