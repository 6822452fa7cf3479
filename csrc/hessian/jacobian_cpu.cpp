// CPU launcher of the Jacobian kernel: jac_tile on tiles of kCpuLanes samples per network
// (for_each_tile_cpu: inputs transposed once, vectorised lane loops compiled per ISA), each tile
// writing its samples' own rows of `out` (no two tasks share a row, so any thread count gives the
// same bits). Time O(B N P (1 + d_out)) (full, features) or O(B N P (1 + K)) (jvp); memory per
// thread rows x kCpuLanes values.
#include <algorithm>

#include "common/tile_cpu.h"
#include "hessian/jacobian.h"
#include "hessian/jacobian_math.h"

namespace rs {

namespace {

// The tile's rows of `out`: sample i of the tile at out + i * per_sample; lanes >= valid (the
// padding of the last tile) are not written.
template <typename T>
struct TileStore {
  T* out;
  int64_t per_sample, per_output;  // d_out x (P or K), and P or K
  int valid;
  void add(int o, int64_t slot, const T* lanes) {
    T* p = out + o * per_output + slot;
    for (int i = 0; i < valid; ++i) p[i * per_sample] += lanes[i];
  }
  void set(int o, int64_t k, const T* lanes) { feature(o * per_output + k, lanes); }
  void feature(int64_t index, const T* lanes) {
    T* p = out + index;
    for (int i = 0; i < valid; ++i) p[i * per_sample] = lanes[i];
  }
};

}  // namespace

template <typename T>
void jac_cpu(const JacArgs<T>& a) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  const int64_t P = net.n_params;
  const int64_t per_output = a.mode == JAC_JVP ? a.K : P;
  const int64_t per_sample =
      a.mode == JAC_FEATURES ? jac_feature_offset(net, net.n_layers) : net.d_out * per_output;
  const int64_t work = P * (1 + (a.mode == JAC_JVP ? a.K : net.d_out));
  for_each_tile_cpu(a.x, a.x_per_net, a.B, a.N, net.d_in, work, size_t(a.lay.rows) * kL,
                    [&](int64_t b, int64_t n, int lanes, const T* xt, T* s, int) {
    std::copy(xt, xt + int64_t(net.d_in) * kL, s + int64_t(a.lay.a[0]) * kL);
    TileStore<T> st{a.out + (b * a.N + n) * per_sample, per_sample, per_output, lanes};
    const T* u = a.u ? a.u + (a.u_per_net ? b * a.K * P : 0) : nullptr;
    jac_tile<kL, kL>(a, a.theta + b * P, u, s, kL, st);
  });
}

template void jac_cpu<float>(const JacArgs<float>&);
template void jac_cpu<double>(const JacArgs<double>&);

}  // namespace rs
