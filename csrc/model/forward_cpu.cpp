// CPU launcher of the batched forward pass: OpenMP over (network, tile of kCpuLanes samples)
// tasks; inputs transposed once per call so a tile loads each feature with one contiguous copy,
// then forward_lanes runs the tile with vectorised lane loops (compiled per ISA, cpu_isa.h).
// O(B N P) time; memory: one more copy of X, per thread (d_in + 2 max_width) x kCpuLanes values.
#include <algorithm>
#include <vector>

#include "common/cpu_isa.h"
#include "common/parallel.h"
#include "common/tile_cpu.h"
#include "model/forward.h"
#include "model/forward_math.h"

namespace rs {

namespace {


template <typename T>
void forward_tiles(const ForwardArgs<T>& a, const std::vector<T>& xs, int64_t begin, int64_t end,
                   T* s) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  const int64_t N = a.N, tiles = (N + kL - 1) / kL;
  T* buf = s + int64_t(net.d_in) * kL;
  for (int64_t task = begin; task < end; ++task) {
    const int64_t b = task / tiles, n = (task % tiles) * kL;
    const T* x = xs.data() + (a.x_per_net ? b * N * net.d_in : 0);
    for (int k = 0; k < net.d_in; ++k) load_lanes<kL>(s + k * kL, x + k * N, n, N, T(0));
    const T* out = forward_lanes<kL>(net, a.theta + b * net.n_params, s, kL, buf, kL);
    const int lanes = int(std::min<int64_t>(kL, N - n));
    T* y = a.y + (b * N + n) * net.d_out;
    for (int i = 0; i < lanes; ++i)
      for (int j = 0; j < net.d_out; ++j) y[i * net.d_out + j] = out[j * kL + i];
  }
}

}  // namespace

template <typename T>
void forward_cpu(const ForwardArgs<T>& a) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  std::vector<T> xs;
  transpose_rows(a.x, a.x_per_net ? a.B : 1, a.N, net.d_in, xs);
  const CpuIsa isa = cpu_isa();
  const int64_t tasks = a.B * ((a.N + kL - 1) / kL);
  // about 64k multiply-adds per chunk of tasks
  const int64_t grain = std::max<int64_t>(1, 65536 / (kL * std::max<int64_t>(net.n_params, 1)));
  parallel_for(tasks, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<T> scratch(size_t(net.d_in + 2 * net.max_width) * kL);
    call_for_isa(isa, [&] { forward_tiles(a, xs, begin, end, scratch.data()); });
  });
}

template void forward_cpu<float>(const ForwardArgs<float>&);
template void forward_cpu<double>(const ForwardArgs<double>&);

}  // namespace rs
