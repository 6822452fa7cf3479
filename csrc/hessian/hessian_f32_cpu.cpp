// The Hessian engine's CPU launcher (hessian_launcher.h) for float.
#include "hessian/hessian_launcher.h"

namespace rs {

template void hess_cpu<float>(const HessArgs<float>&);

}  // namespace rs
