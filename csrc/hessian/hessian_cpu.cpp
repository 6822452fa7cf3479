// Which of the Hessian engine's two CPU paths takes a call (hess_cpu, hessian_launcher.h):
// hess_tile's, or the small-net path's (small_net_cpu.h).
#include <cstdlib>
#include <cstring>

#include "common/cpu_isa.h"
#include "hessian/hessian.h"
#include "hessian/small_net_cpu.h"

namespace rs {

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

}  // namespace rs
