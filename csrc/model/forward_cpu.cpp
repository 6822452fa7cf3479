// CPU launcher of the batched forward pass: OpenMP over (network, sample) pairs
// (for_each_sample_cpu). O(B N P) time, 2 * max_width scratch per thread chunk.
#include "model/forward.h"
#include "model/forward_math.h"
#include "model/sample_loop_cpu.h"

namespace rs {

template <typename T>
void forward_cpu(const ForwardArgs<T>& a) {
  for_each_sample_cpu(a.net, a.x, a.x_per_net, a.B, a.N,
                      [&](int64_t i, int64_t b, const T* x, T* buf) {
    forward_sample(a.net, a.theta + b * a.net.n_params, x, a.y + i * a.net.d_out, buf, 1);
  });
}

template void forward_cpu<float>(const ForwardArgs<float>&);
template void forward_cpu<double>(const ForwardArgs<double>&);

}  // namespace rs
