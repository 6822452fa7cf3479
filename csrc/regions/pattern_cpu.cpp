// CPU launchers of count_patterns: packed activation bits per (network, sample) by pattern_lanes
// on tiles of kCpuLanes samples (for_each_tile_cpu, O(B N P)); distinct rows per network by sort
// + unique (O(N log N * n_words) each).
#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "common/tile_cpu.h"
#include "regions/pattern_math.h"
#include "regions/regions.h"

namespace rs {

template <typename T>
void pattern_cpu(const PatternArgs<T>& a) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  const int nw = a.n_words;
  std::vector<int64_t> tile_words(size_t(max_threads()) * nw * kL);  // (thread, word, lane)
  for_each_tile_cpu(a.x, a.x_per_net, a.B, a.N, net.d_in, net.n_params,
                    2 * size_t(net.max_width) * kL,
                    [&](int64_t b, int64_t n, int lanes, const T* xt, T* buf, int thread) {
    int64_t* words = tile_words.data() + size_t(thread) * nw * kL;
    pattern_lanes<kL>(net, a.theta + b * net.n_params, xt, kL, buf, kL, words, kL, nw);
    int64_t* out = a.words + (b * a.N + n) * nw;
    for (int i = 0; i < lanes; ++i)
      for (int w = 0; w < nw; ++w) out[i * nw + w] = words[w * kL + i];
  });
}

template void pattern_cpu<float>(const PatternArgs<float>&);
template void pattern_cpu<double>(const PatternArgs<double>&);

void unique_rows_cpu(const int64_t* words, int64_t B, int64_t N, int32_t n_words, int64_t* counts) {
  parallel_for(B, 1, [&](int64_t begin, int64_t end, int) {
    std::vector<int64_t> order(N);
    for (int64_t b = begin; b < end; ++b) {
      const int64_t* rows = words + b * N * n_words;
      auto less = [&](int64_t i, int64_t j) {
        return std::lexicographical_compare(rows + i * n_words, rows + (i + 1) * n_words,
                                            rows + j * n_words, rows + (j + 1) * n_words);
      };
      for (int64_t i = 0; i < N; ++i) order[i] = i;
      std::sort(order.begin(), order.end(), less);
      int64_t c = N > 0 ? 1 : 0;
      for (int64_t i = 1; i < N; ++i) c += less(order[i - 1], order[i]) ? 1 : 0;
      counts[b] = c;
    }
  });
}

}  // namespace rs
