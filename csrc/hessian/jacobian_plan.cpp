// jac_workspace: the CUDA scratch of a Jacobian-kernel call (host code, read by
// reluscope.hessian through _core.jac_workspace before it allocates).
#include <algorithm>

#include "common/error.h"
#include "hessian/jacobian.h"

namespace rs {

int64_t jac_workspace(const NetSpec& net, int64_t B, int64_t N, bool cuda, int64_t elem_size,
                      int64_t max_bytes) {
  RS_CHECK(B >= 0 && N >= 0, "negative sizes B=", B, " N=", N);
  RS_CHECK(elem_size == 4 || elem_size == 8, "elem_size must be 4 or 8, got ", elem_size);
  if (!cuda) return 0;
  const int64_t rows = make_jac_layout(net).rows;
  const int64_t budget = max_bytes < 0 ? kJacCudaWorkspaceBytes : max_bytes;
  const int64_t threads = std::max<int64_t>(
      1, std::min({B * N, kJacCudaMaxThreads, budget / (rows * elem_size)}));
  return threads * rows;
}

}  // namespace rs
