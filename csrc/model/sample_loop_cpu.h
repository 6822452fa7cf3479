// The CPU loop of the per-sample launchers (activation patterns): calls
// fn(i, b, x, buf) for every (network b, sample n) pair i = b N + n, where x points at that
// sample's input row. OpenMP over chunks of roughly equal work (about 32k parameter reads each);
// each chunk owns a 2 * max_width scratch buffer `buf`. O(B N P) time for a per-sample O(P) fn.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/parallel.h"
#include "model/net_spec.h"

namespace rs {

template <typename T, typename Fn>
void for_each_sample_cpu(const NetSpec& net, const T* x_all, bool x_per_net, int64_t B, int64_t N,
                         Fn&& fn) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(net.n_params, 1));
  parallel_for(B * N, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<T> buf(2 * size_t(net.max_width));
    for (int64_t i = begin; i < end; ++i) {
      const int64_t b = i / N, n = i % N;
      fn(i, b, x_all + ((x_per_net ? b * N : 0) + n) * net.d_in, buf.data());
    }
  });
}

}  // namespace rs
