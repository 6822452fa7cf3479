// CPU launcher of the batched forward pass: OpenMP over (network, sample) pairs in chunks of
// roughly equal work; each chunk owns a 2 * max_width scratch buffer. O(B N P) time.
#include <vector>

#include "common/parallel.h"
#include "model/forward.h"
#include "model/forward_math.h"

namespace rs {

template <typename T>
void forward_cpu(const ForwardArgs<T>& a) {
  const NetSpec& net = a.net;
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(net.n_params, 1));
  parallel_for(a.B * a.N, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<T> buf(2 * static_cast<size_t>(net.max_width));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / a.N, n = i % a.N;
      const T* x = a.x + ((a.x_per_net ? b * a.N : 0) + n) * net.d_in;
      forward_sample(net, a.theta + b * net.n_params, x, a.y + i * net.d_out, buf.data(), 1);
    }
  });
}

template void forward_cpu<float>(const ForwardArgs<float>&);
template void forward_cpu<double>(const ForwardArgs<double>&);

}  // namespace rs
