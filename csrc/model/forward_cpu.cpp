// CPU launcher of the batched forward pass: forward_lanes on tiles of kCpuLanes samples per
// network (for_each_tile_cpu: inputs transposed once, vectorised lane loops compiled per ISA).
// O(B N P) time; memory: one more copy of X, per thread (d_in + 2 max_width) x kCpuLanes values.
#include "common/tile_cpu.h"
#include "model/forward.h"
#include "model/forward_math.h"

namespace rs {

template <typename T>
void forward_cpu(const ForwardArgs<T>& a) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  for_each_tile_cpu(a.x, a.x_per_net, a.B, a.N, net.d_in, net.n_params,
                    2 * size_t(net.max_width) * kL,
                    [&](int64_t b, int64_t n, int lanes, const T* xt, T* buf, int) {
    const T* out = forward_lanes<kL>(net, a.theta + b * net.n_params, xt, kL, buf, kL,
                                     [](int, int, const T*) {});
    T* y = a.y + (b * a.N + n) * net.d_out;
    for (int i = 0; i < lanes; ++i)
      for (int j = 0; j < net.d_out; ++j) y[i * net.d_out + j] = out[j * kL + i];
  });
}

template void forward_cpu<float>(const ForwardArgs<float>&);
template void forward_cpu<double>(const ForwardArgs<double>&);

}  // namespace rs
