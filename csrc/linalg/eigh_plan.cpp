// The launch contract of the batched eigensolver (eigh.h): its CUDA scratch.
#include "linalg/eigh.h"

namespace rs {

int64_t eigh_workspace(int64_t B, int64_t n, bool vectors, bool cuda) {
  if (!cuda) return 0;
  return B * (n + (vectors ? 0 : n * n));
}

}  // namespace rs
