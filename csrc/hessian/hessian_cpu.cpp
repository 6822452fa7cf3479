// CPU launcher of the Hessian engine: hess_tile on each tile of the task loop (hess_tasks_cpu.h),
// or, for the students' shape, small_net_tile (small_net_launcher.h).
// Time O(B N (P + K P)).
#include <cstdlib>
#include <cstring>

#include "hessian/hess_tasks_cpu.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "hessian/small_net_cpu.h"

namespace rs {

namespace {

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

}  // namespace

// RELUSCOPE_CPU_SMALL_NETS=0 sends the small nets through hess_tile too (the tests run both
// paths; it is the arithmetic the CUDA launcher runs), as do x86 CPUs without AVX2 (the small
// path has no baseline copy). Read on every call, like cpu_isa().
inline bool small_nets_enabled() {
  const char* flag = std::getenv("RELUSCOPE_CPU_SMALL_NETS");
  return flag == nullptr || std::strcmp(flag, "0") != 0;
}

bool hess_cpu_small_path(const NetSpec& net, int32_t loss) {
  return small_net_shape(net, loss) && small_nets_enabled() && vector_isa(cpu_isa());
}

template <typename T>
void hess_cpu(const HessArgs<T>& a) {
  if (a.dx == nullptr && hess_cpu_small_path(a.net, a.loss)) return hess_small_cpu(a);
  // one function per kind of directions (each flattened into its own, ISA-specific code)
  if (a.unit_first >= 0)
    hess_cpu_tasks(a, [&] { return HessTiles<true, T>{a}; });
  else
    hess_cpu_tasks(a, [&] { return HessTiles<false, T>{a}; });
}

template void hess_cpu<float>(const HessArgs<float>&);
template void hess_cpu<double>(const HessArgs<double>&);

}  // namespace rs
