// The Hessian engine's CPU launcher (hessian_launcher.h) for double.
#include "hessian/hessian_launcher.h"

namespace rs {

template void hess_cpu<double>(const HessArgs<double>&);

}  // namespace rs
