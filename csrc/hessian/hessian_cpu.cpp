// CPU launcher of the Hessian engine: OpenMP over (network, data chunk) tasks; each task runs
// hess_tile on tiles of kLanes samples (structure-of-arrays, so the lane loops vectorise) and keeps
// one accumulator per lane (len x kLanes), summed in a fixed order at the end of the task into its
// own slice of `part` — results are deterministic for any thread count.
// Time O(B N (P + K P)); memory per thread (rows + len) x kLanes values.
#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"

namespace rs {

namespace {

constexpr int kLanes = 8;

template <typename T>
struct LaneAcc {
  T* p;
  void add(int64_t slot, int lane, T value) { p[slot * kLanes + lane] += value; }
};

}  // namespace

template <typename T>
void hess_cpu(const HessArgs<T>& a) {
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, len = a.len(), rows = a.lay.rows, tasks = a.B * a.C;
  const int64_t grain = std::max<int64_t>(1, tasks / (8 * int64_t(max_threads())));
  parallel_for(tasks, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<T> scratch(size_t(rows) * kLanes), lanes(size_t(len) * kLanes);
    T* s = scratch.data();
    LaneAcc<T> acc{lanes.data()};
    for (int64_t task = begin; task < end; ++task) {
      const int64_t b = task / a.C, c = task % a.C;
      const int64_t n0 = a.N * c / a.C, n1 = a.N * (c + 1) / a.C;
      const T* x = a.x + (a.x_per_net ? b * a.N * net.d_in : 0);
      const T* t = a.t + (a.t_per_net ? b * a.N * net.d_out : 0);
      const T* v = a.v ? a.v + (a.v_per_net ? b * a.K * P : 0) : nullptr;
      std::fill(lanes.begin(), lanes.end(), T(0));
      for (int64_t n = n0; n < n1; n += kLanes) {
        for (int i = 0; i < kLanes; ++i) {  // load the tile; padding lanes repeat n0 with weight 0
          const bool valid = n + i < n1;
          const int64_t m = valid ? n + i : n0;
          s[a.lay.w_row * kLanes + i] = valid ? a.w[m] : T(0);
          for (int j = 0; j < net.d_out; ++j) s[(a.lay.t_row + j) * kLanes + i] = t[m * net.d_out + j];
          for (int k = 0; k < net.d_in; ++k) s[(a.lay.a[0] + k) * kLanes + i] = x[m * net.d_in + k];
        }
        hess_tile<kLanes>(a, a.theta + b * P, v, s, kLanes, acc);
      }
      T* out = a.part + task * len;
      for (int64_t q = 0; q < len; ++q) {
        T sum = T(0);
        for (int i = 0; i < kLanes; ++i) sum += lanes[q * kLanes + i];
        out[q] = sum;
      }
    }
  });
}

template void hess_cpu<float>(const HessArgs<float>&);
template void hess_cpu<double>(const HessArgs<double>&);

}  // namespace rs
