// CPU launcher of the layer-moment kernel: moment_lanes on tiles of kCpuLanes pairs per network
// (for_each_tile_cpu over the (x, y) rows laid side by side, 2 d_in features), each tile writing
// its pairs' own rows of `out`. O(B N P) time; per thread (2 d_in + 4 max_width) x kCpuLanes values.
#include "common/tile_cpu.h"
#include "model/forward.h"
#include "model/moment_math.h"
#include "model/moments.h"

namespace rs {

template <typename T>
void moments_cpu(const MomentArgs<T>& a) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  const int nl = net.n_layers;
  for_each_tile_cpu(a.xy, a.x_per_net, a.B, a.N, 2 * net.d_in, 2 * net.n_params,
                    4 * size_t(net.max_width) * kL,
                    [&](int64_t b, int64_t n, int lanes, const T* xt, T* buf, int) {
    T* out = a.out + (b * a.N + n) * nl * kMoments;
    moment_lanes<kL>(net, a.theta + b * net.n_params, xt, xt + int64_t(net.d_in) * kL, kL, buf,
                     kL, [&](int l, const T (&sums)[kMoments][kL]) {
      for (int i = 0; i < lanes; ++i)
        for (int k = 0; k < kMoments; ++k) out[(int64_t(i) * nl + l) * kMoments + k] = sums[k][i];
    });
  });
}

template void moments_cpu<float>(const MomentArgs<float>&);
template void moments_cpu<double>(const MomentArgs<double>&);

}  // namespace rs
