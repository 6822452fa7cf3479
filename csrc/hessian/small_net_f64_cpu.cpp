// The small-net path's CPU launcher (small_net_launcher.h) for double.
#include "hessian/small_net_launcher.h"

namespace rs {

template void hess_small_cpu<double>(const HessArgs<double>&);

}  // namespace rs
