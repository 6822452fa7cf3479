// The activations' rate for the benchmark's roofline bound (reluscope bench): every pool thread
// runs the fused kernels' own activation code over rows of kCpuLanes pre-activations spread over
// [-8, 8], in the vector ISA the kernels use: with derivatives both forms the Hessian engine has,
// hessian_math.h's act_lanes (sigma, sigma', sigma'' in place, the general tile's lane loop) and
// act_all on host vectors one register wide (the small-net path's, small_net_tile.h), the faster
// one counting; without, lanes.h's act_value_lanes (the forward kernel's). A sigmoid network's
// kernels cannot run much faster than its activations at this rate. Time O(evals); memory
// O(threads x kRows x kCpuLanes). Ctrl-C stops it between blocks of passes (KeyboardInterrupt).
#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/cpu_isa.h"
#include "common/error.h"
#include "common/host_vec.h"
#include "common/ndarray.h"
#include "common/parallel.h"
#include "common/thread_timing.h"
#include "common/tile_cpu.h"
#include "hessian/hessian_math.h"
#include "hessian/small_net_cpu.h"
#include "model/lanes.h"

namespace nb = nanobind;

namespace rs {
namespace {

constexpr int kRows = 16;  // rows per pass: 16 x kCpuLanes values, well inside L1

// kRows rows of kCpuLanes pre-activations spread evenly over [-8, 8].
template <typename T>
std::vector<T> pre_activations() {
  std::vector<T> src(size_t(kRows) * kCpuLanes<T>);
  for (size_t i = 0; i < src.size(); ++i) src[i] = T(-8) + T(16) * (T(i) + T(0.5)) / T(src.size());
  return src;
}

// `reps` passes over the rows: each copies the pre-activations into z and applies the activation.
template <typename T>
T activation_passes(int32_t act, bool derivatives, int64_t reps, T slope) {
  constexpr int L = kCpuLanes<T>;
  const std::vector<T> src = pre_activations<T>();
  std::vector<T> z(src.size()), d1(src.size()), d2(src.size());
  T sink = T(0);
  for (int64_t r = 0; r < reps && (r % 1024 != 0 || !stop_requested()); ++r) {
    for (int row = 0; row < kRows; ++row) {
      T* zr = z.data() + row * L;
      const T* s = src.data() + row * L;
      for (int i = 0; i < L; ++i) zr[i] = s[i];
      if (derivatives)
        act_lanes_dispatch<L>(act, zr, d1.data() + row * L, d2.data() + row * L, slope);
      else
        act_value_lanes<L>(act, zr, slope);
    }
    sink += z[size_t(r % (kRows * L))];
#if defined(__GNUC__)
    __asm__ volatile("" : : "r"(z.data()) : "memory");  // every pass is done, none hoisted
#endif
  }
  return sink + d1[0] + d2[0];
}

// The same passes with sigma' and sigma'' as the small-net path runs them: act_all on host
// vectors of VB bytes, the activation a compile-time constant.
template <typename T, int VB>
T vector_passes(int32_t act, int64_t reps, T slope) {
  using V = typename HostVec<T, VB>::Vec;
  constexpr int n = kRows * kCpuLanes<T>, W = VB / int(sizeof(T));
  const std::vector<T> src = pre_activations<T>();
  std::vector<T> z(src.size()), d1(src.size()), d2(src.size());
  T sink = T(0);
  with_activation(act, [&](auto tag) {
    constexpr int ACT = decltype(tag)::value;
    for (int64_t r = 0; r < reps && (r % 1024 != 0 || !stop_requested()); ++r) {
      for (int i = 0; i < n; i += W) {
        V a, g1, g2;
        act_all(int32_t(ACT), load_vec<V>(src.data() + i), slope, a, g1, g2);
        store_vec(z.data() + i, a);
        store_vec(d1.data() + i, g1);
        if constexpr (act_has_d2(ACT)) store_vec(d2.data() + i, g2);
      }
      sink += z[size_t(r % n)];
#if defined(__GNUC__)
      __asm__ volatile("" : : "r"(z.data()) : "memory");  // every pass is done, none hoisted
#endif
    }
  });
  return sink + d1[0] + d2[0];
}

// The small-net path's form on this CPU, in the vector width its launcher takes (a CPU with a
// vector ISA: vector_isa).
template <typename T>
T vector_form(CpuIsa isa, int32_t act, int64_t reps) {
  T sink = T(0);
#if defined(RS_X86_MULTIVERSION)
  constexpr int k2 = small_vec_bytes(CpuIsa::kAvx2), k512 = small_vec_bytes(CpuIsa::kAvx512);
  if (isa == CpuIsa::kAvx2)
    call_for_one_isa<CpuIsa::kAvx2>([&] { sink = vector_passes<T, k2>(act, reps, T(0.01)); });
  else
    call_for_one_isa<CpuIsa::kAvx512>([&] { sink = vector_passes<T, k512>(act, reps, T(0.01)); });
#else
  sink = vector_passes<T, small_vec_bytes(CpuIsa::kGeneric)>(act, reps, T(0.01));
#endif
  return sink;
}

template <typename T>
std::pair<double, double> activation_rate_t(int32_t act, bool derivatives, int64_t evals) {
  const CpuIsa isa = cpu_isa();
  const int threads = max_threads();
  const int64_t per_pass = int64_t(kRows) * kCpuLanes<T>;
  const int64_t reps = (evals + per_pass - 1) / per_pass;
  std::vector<T> sink(size_t(threads), T(0));
  double s = seconds_on_every_thread([&](int t) {
    call_for_isa(isa, [&] {
      sink[size_t(t)] = activation_passes<T>(act, derivatives, reps, T(0.01));
    });
  });
  RS_CHECK(sink[0] == sink[0], "the activation benchmark went NaN");
  if (derivatives && vector_isa(isa)) {  // (x86 without AVX2 has no small-net path)
    const double v = seconds_on_every_thread([&](int t) {
      sink[size_t(t)] = vector_form<T>(isa, act, reps);
    });
    RS_CHECK(sink[0] == sink[0], "the activation benchmark went NaN");
    s = std::min(s, v);
  }
  return {double(threads) * double(reps) * double(per_pass), s};
}

}  // namespace

void bind_activation_rate(nb::module_& m) {
  m.def(
      "cpu_activation_rate",
      [](int32_t act, int elem_size, int64_t evals, bool derivatives) {
        RS_CHECK(act >= 0 && act < kNumActivations, "unknown activation ", act);
        RS_CHECK(elem_size == 4 || elem_size == 8, "elem_size must be 4 or 8");
        RS_CHECK(evals > 0, "evals must be positive");
        std::pair<double, double> rate;
        run_released([&] {  // the GIL released, Ctrl-C stops it (KeyboardInterrupt)
          rate = elem_size == 8 ? activation_rate_t<double>(act, derivatives, evals)
                                : activation_rate_t<float>(act, derivatives, evals);
        });
        return rate;
      },
      nb::arg("act"), nb::arg("elem_size"), nb::arg("evals"), nb::arg("derivatives"),
      "(evaluations, seconds) of the kernels' activations on every pool thread, about `evals` "
      "each, in the vector ISA the kernels use: the forward kernel's lane loop, or with "
      "derivatives (sigma', sigma'') the faster of the Hessian engine's two forms, its lane loop "
      "and the small-net path's vectors (hessian/act_rate_cpu.cpp).");
}

}  // namespace rs
