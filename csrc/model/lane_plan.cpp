// The workspace rule of the sample-parallel CUDA kernels (forward, activation patterns, layer
// moments), host code read by the Python layer through _core.lane_workspace and
// _core.moment_workspace.
#include <algorithm>

#include "model/forward.h"
#include "model/moments.h"

namespace rs {

int64_t lane_workspace(const NetSpec& net, int64_t items, bool cuda, int64_t elem_size,
                       int64_t max_bytes) {
  if (!cuda) return 0;
  const int64_t per_thread = 2 * int64_t(net.max_width);
  const int64_t budget = max_bytes < 0 ? kLaneCudaWorkspaceBytes : max_bytes;
  const int64_t threads =
      std::max<int64_t>(1, std::min({items, kLaneCudaMaxThreads, budget / (per_thread * elem_size)}));
  return threads * per_thread;
}

int64_t moment_workspace(const NetSpec& net, int64_t B, int64_t N, bool cuda, int64_t elem_size) {
  if (!cuda) return 0;
  const int64_t per_thread = 4 * int64_t(net.max_width);
  const int64_t threads = std::max<int64_t>(
      1, std::min({B * N, kLaneCudaMaxThreads, kLaneCudaWorkspaceBytes / (per_thread * elem_size)}));
  return threads * per_thread;
}

}  // namespace rs
