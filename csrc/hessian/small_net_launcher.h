// CPU launcher of the Hessian engine's small-net path (small_net_cpu.h): the task loop of
// hess_tasks_cpu.h with small_net_tile (small_net_tile.h) on each call's tiles, the hidden
// activation dispatched per call, each kernel (6 activations, 2 ISAs, 1 or 2 tiles per call) a
// function of its own (call_apart: each translation unit compiles in 14 s instead of 110).
// Instantiated once per dtype, each in a translation unit of its own (small_net_f32_cpu.cpp,
// small_net_f64_cpu.cpp), so that a build's two cores compile them side by side.
// Time O(B N (P + K P)); memory per thread: as hess_tile's launcher, plus K + 1 parameter sets.
#pragma once
#include "hessian/small_net_cpu.h"

#include "hessian/hess_tasks_cpu.h"
#include "hessian/small_net_tile.h"
#include "model/lanes.h"

namespace rs {

// Tiles of small_net_tile in vectors one register wide: 32 bytes under AVX2, 64 under AVX-512
// (and on other CPUs, where the compiler splits them as it can). One version per ISA; x86 CPUs
// without AVX2 take hess_tile (hess_cpu): a baseline copy of this path would add compile time
// and code for them alone. Each call of the kernel takes kSpan tiles at once (run_tasks's
// whole-tile loop), so that it runs kSmallVectors vectors of samples: 2 tiles of 4 vectors under
// AVX-512 (8 independent chains to cover the multiply-adds' latency, and half the slot adds per
// sample: HVP -10 %, value_and_grad -12 %; 16 vectors, 4 tiles, were slower), 1 tile of 8 under
// AVX2 (where 2 were 3-10 % slower). A task's last tiles (fewer than kSpan whole ones, or a
// partial one) go one by one.
inline constexpr int kSmallVectors = 8;

template <typename T, CpuIsa kIsaOfTiles>
struct SmallTiles {
  const HessArgs<T>& a;
  SmallNet<T> net;
  void task(const T* theta, const T* v, const T* s) { net.task(a, theta, v, s); }
  static constexpr int kRows = kSmallRows;
  static constexpr bool kOneIsa = true;
  static constexpr CpuIsa kIsa = kIsaOfTiles;
  static constexpr int kVecBytes = small_vec_bytes(kIsa);
  static constexpr int kSpan = kSmallVectors * kVecBytes / (kCpuLanes<T> * int(sizeof(T)));
  static_assert(kSpan >= 1);
  void tile(const T* const* row, LaneAcc<T>& acc) {
    with_activation(a.net.layer[0].act, [&](auto tag) {
      constexpr int act = decltype(tag)::value;
      const int valid = acc.valid;
      if (valid > kCpuLanes<T>)
        call_apart<kIsa>([&] { small_net_tile<act, kVecBytes, kSpan>(a, net, row, valid, acc.p); });
      else
        call_apart<kIsa>([&] { small_net_tile<act, kVecBytes, 1>(a, net, row, valid, acc.p); });
    });
  }
};

template <typename T>
void hess_small_cpu(const HessArgs<T>& a) {
  const T S = small_input_bound(a);
#if defined(RS_X86_MULTIVERSION)
  if (cpu_isa() == CpuIsa::kAvx2)
    return hess_cpu_tasks(a, [&] { return SmallTiles<T, CpuIsa::kAvx2>{a, SmallNet<T>(a, S)}; });
  hess_cpu_tasks(a, [&] { return SmallTiles<T, CpuIsa::kAvx512>{a, SmallNet<T>(a, S)}; });
#else
  hess_cpu_tasks(a, [&] { return SmallTiles<T, CpuIsa::kGeneric>{a, SmallNet<T>(a, S)}; });
#endif
}

}  // namespace rs
