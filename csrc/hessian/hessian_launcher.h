// CPU launcher of the Hessian engine: hess_tile on each tile of the task loop (hess_tasks_cpu.h),
// or, for the students' shape, small_net_tile (small_net_launcher.h). Instantiated once per
// dtype, each in a translation unit of its own (hessian_f32_cpu.cpp, hessian_f64_cpu.cpp), so
// that a build's two cores compile them side by side (one unit took 91 s, the longest of the
// build); hessian_cpu.cpp holds the path choice.
// Time O(B N (P + K P)).
#pragma once
#include "hessian/hess_tasks_cpu.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "hessian/small_net_cpu.h"

namespace rs {

// run_tasks's tiles through hess_tile (UNIT: the unit directions of a full Hessian).
template <bool UNIT, typename T>
struct HessTiles {
  const HessArgs<T>& a;
  const T* theta = nullptr;
  const T* v = nullptr;
  static constexpr int kRows = 0;  // tiles loaded into the scratch
  static constexpr bool kOneIsa = false;
  void task(const T* theta_b, const T* v_b, const T*) {
    theta = theta_b;
    v = v_b;
  }
  void tile(T* s, LaneAcc<T>& acc) {
    constexpr int kL = kCpuLanes<T>;
    hess_tile<kL, kL, UNIT>(a, theta, v, s, kL, acc);
  }
};

template <typename T>
void hess_cpu(const HessArgs<T>& a) {
  if (a.dx == nullptr && hess_cpu_small_path(a.net, a.loss)) return hess_small_cpu(a);
  // one function per kind of directions (each flattened into its own, ISA-specific code)
  if (a.unit_first >= 0)
    hess_cpu_tasks(a, [&] { return HessTiles<true, T>{a}; });
  else
    hess_cpu_tasks(a, [&] { return HessTiles<false, T>{a}; });
}

}  // namespace rs
