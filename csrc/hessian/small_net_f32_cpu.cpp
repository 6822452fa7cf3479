// The small-net path's CPU launcher (small_net_launcher.h) for float.
#include "hessian/small_net_launcher.h"

namespace rs {

template void hess_small_cpu<float>(const HessArgs<float>&);

}  // namespace rs
