// CPU launcher of the Hessian engine: OpenMP over (network, data chunk) tasks; each task runs
// hess_tile on tiles of kLanes samples (structure-of-arrays, so the lane loops vectorise) and keeps
// one accumulator per lane (len x kLanes), summed in a fixed order at the end of the task into its
// own slice of `part` — results are deterministic for any thread count.
// On x86-64 with GCC/Clang the task loop is also compiled for AVX2+FMA (the whole call tree
// flattened into it) and picked at run time when the CPU has them.
// Time O(B N (P + K P)); memory per thread (rows + len) x kLanes values.
#include <algorithm>
#include <vector>

#include "common/parallel.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"

namespace rs {

namespace {

// Lanes per tile: wide enough that the per-row loop and dispatch overhead is amortised (measured
// on (a) of the benchmark: 8 lanes -> 32/64 lanes is 1.6-2.5x faster), a power of two of vectors.
template <typename T>
constexpr int kLanes = sizeof(T) == 4 ? 64 : 32;

template <typename T>
struct LaneAcc {
  T* p;
  void add(int64_t slot, const T* lanes) {
    RS_SIMD for (int i = 0; i < kLanes<T>; ++i) p[slot * kLanes<T> + i] += lanes[i];
  }
};

// Tasks [begin, end) with scratch s (rows x kLanes) and lane accumulators (len x kLanes).
template <typename T>
inline void run_tasks(const HessArgs<T>& a, int64_t begin, int64_t end, T* s, T* lanes) {
  constexpr int kL = kLanes<T>;
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, len = a.len();
  LaneAcc<T> acc{lanes};
  for (int64_t task = begin; task < end; ++task) {
    const int64_t b = task / a.C, c = task % a.C;
    const int64_t n0 = a.N * c / a.C, n1 = a.N * (c + 1) / a.C;
    const T* x = a.x + (a.x_per_net ? b * a.N * net.d_in : 0);
    const T* t = a.t + (a.t_per_net ? b * a.N * net.d_out : 0);
    const T* v = a.v ? a.v + (a.v_per_net ? b * a.K * P : 0) : nullptr;
    std::fill(lanes, lanes + len * kL, T(0));
    for (int64_t n = n0; n < n1; n += kL) {
      for (int i = 0; i < kL; ++i) {  // load the tile; padding lanes repeat n0 with weight 0
        const bool valid = n + i < n1;
        const int64_t m = valid ? n + i : n0;
        s[a.lay.w_row * kL + i] = valid ? a.w[m] : T(0);
        for (int j = 0; j < net.d_out; ++j) s[(a.lay.t_row + j) * kL + i] = t[m * net.d_out + j];
        for (int k = 0; k < net.d_in; ++k) s[(a.lay.a[0] + k) * kL + i] = x[m * net.d_in + k];
      }
      hess_tile<kL, kL>(a, a.theta + b * P, v, s, kL, acc);
    }
    T* out = a.part + task * len;
    for (int64_t q = 0; q < len; ++q) {
      T sum = T(0);
      for (int i = 0; i < kL; ++i) sum += lanes[q * kL + i];
      out[q] = sum;
    }
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
#define RS_HESS_AVX2 1
template <typename T>
__attribute__((target("avx2,fma"), flatten)) void run_tasks_avx2(const HessArgs<T>& a,
                                                                 int64_t begin, int64_t end,
                                                                 T* s, T* lanes) {
  run_tasks(a, begin, end, s, lanes);
}

bool cpu_has_avx2() {
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
}
#endif

#if defined(__GNUC__)
#define RS_FLATTEN __attribute__((flatten))
#else
#define RS_FLATTEN
#endif

template <typename T>
RS_FLATTEN void run_tasks_generic(const HessArgs<T>& a, int64_t begin, int64_t end,
                                                T* s, T* lanes) {
  run_tasks(a, begin, end, s, lanes);
}

}  // namespace

template <typename T>
void hess_cpu(const HessArgs<T>& a) {
  const int64_t tasks = a.B * a.C;
  const int64_t grain = std::max<int64_t>(1, tasks / (8 * int64_t(max_threads())));
  parallel_for(tasks, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<T> scratch(size_t(a.lay.rows) * kLanes<T>), lanes(size_t(a.len()) * kLanes<T>);
#if defined(RS_HESS_AVX2)
    if (cpu_has_avx2()) {
      run_tasks_avx2(a, begin, end, scratch.data(), lanes.data());
      return;
    }
#endif
    run_tasks_generic(a, begin, end, scratch.data(), lanes.data());
  });
}

template void hess_cpu<float>(const HessArgs<float>&);
template void hess_cpu<double>(const HessArgs<double>&);

}  // namespace rs
