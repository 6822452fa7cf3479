// CPU launchers of count_patterns: packed activation bits per (network, sample), OpenMP over
// pairs (for_each_sample_cpu, O(B N P)); distinct rows per network by sort + unique
// (O(N log N * n_words) each).
#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "model/sample_loop_cpu.h"
#include "regions/pattern_math.h"
#include "regions/regions.h"

namespace rs {

template <typename T>
void pattern_cpu(const PatternArgs<T>& a) {
  for_each_sample_cpu(a.net, a.x, a.x_per_net, a.B, a.N,
                      [&](int64_t i, int64_t b, const T* x, T* buf) {
    pattern_sample(a.net, a.theta + b * a.net.n_params, x, a.words + i * a.n_words, a.n_words,
                   buf, 1);
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
