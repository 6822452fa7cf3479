// The CUDA launch plan of count_1d (capacity per work item, workspace), host code read by
// reluscope.regions through _core.segment_plan.
#include <algorithm>

#include "regions/regions.h"
#include "regions/segment_math.h"

namespace rs {

int64_t segment_workspace_bytes(const NetSpec& net, int64_t capacity, int64_t elem_size) {
  return elem_size == 4 ? FixedStore<float>::bytes(net.max_width, capacity)
                        : FixedStore<double>::bytes(net.max_width, capacity);
}

SegmentPlan segment_plan(const NetSpec& net, int64_t B, int64_t S, bool cuda, int64_t elem_size,
                         int64_t free_bytes, int64_t max_workspace_bytes) {
  SegmentPlan p;
  if (!cuda) return p;
  p.capacity = kSegmentCudaCapacity;
  const int64_t item = segment_workspace_bytes(net, p.capacity, elem_size);
  // a quarter of the free memory, or up to 1 GiB when that is less, never over half of it
  const int64_t budget =
      max_workspace_bytes >= 0
          ? max_workspace_bytes
          : std::max(free_bytes / 4, std::min(kSegmentCudaWorkspaceBytes, free_bytes / 2));
  p.workspace_bytes = std::max<int64_t>(1, std::min(B * S, budget / item)) * item;
  return p;
}

}  // namespace rs
