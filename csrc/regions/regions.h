// Linear-region counter: argument structs and launcher declarations (1-D segments, 2-D slices,
// sampled activation patterns). The per-item arithmetic lives in segment_math.h,
// polygon_math.h and pattern_math.h.
#pragma once
#include <cstdint>

#include "common/device.h"
#include "common/launch.h"
#include "model/net_spec.h"

namespace rs {

enum RegionMerge : int32_t { MERGE_ACTIVATION = 0, MERGE_LINEAR = 1, MERGE_COUNT };
inline bool valid_merge(int32_t merge) { return merge >= 0 && merge < MERGE_COUNT; }
// count_1d's per-item status on CUDA (SegmentArgs::overflow; _core.SegmentStatus in Python).
enum SegmentStatus : uint8_t { SEGMENT_OK = 0, SEGMENT_OVER_CAPACITY = 1, SEGMENT_OFFSETS_MISMATCH = 2 };

// count_1d: for each network b and segment s, pieces of t -> net(theta_b; a + t (b - a)), t in [0,1].
template <typename T>
struct SegmentArgs {
  NetSpec net;
  const T* theta = nullptr;    // (B, P)
  const T* xa = nullptr;       // (S, d0) shared or (B, S, d0) when x_per_net
  const T* xb = nullptr;       // same shape as xa
  int64_t* counts = nullptr;   // (B, S)
  const int64_t* bp_offsets = nullptr;  // fill pass only: (B*S+1,)
  T* bp_values = nullptr;      // fill pass only: (total,) breakpoint t values
  int64_t bp_capacity = 0;     // fill pass only: values the buffer holds
  int64_t B = 0, S = 0;
  bool x_per_net = false;
  int32_t merge = MERGE_ACTIVATION;
  // CUDA only: fixed capacity (points) per work item, workspace and per-item overflow flags.
  int64_t capacity = 0;
  unsigned char* workspace = nullptr;
  int64_t workspace_items = 0;  // work items the workspace holds at once
  uint8_t* overflow = nullptr;  // (B, S) SegmentStatus: SEGMENT_OVER_CAPACITY where the capacity
                                // was too small (count is invalid), SEGMENT_OFFSETS_MISMATCH where
                                // the fill pass's offsets did not match the count
};

template <typename T>
void segment_cpu(const SegmentArgs<T>& a);
template <typename T>
void segment_cuda(const SegmentArgs<T>& a, const DeviceContext& ctx);

// Bytes of CUDA workspace one work item needs at a given capacity (points), and the work items a
// workspace of `bytes` serves at once.
int64_t segment_workspace_bytes(const NetSpec& net, int64_t capacity, int64_t elem_size);
inline int64_t segment_workers(const NetSpec& net, int64_t bytes, int64_t capacity,
                               int64_t elem_size) {
  return bytes / segment_workspace_bytes(net, capacity, elem_size);
}

// Launch contract of count_1d on CUDA: each work item holds at most kSegmentCudaCapacity points
// (items that need more are flagged and recounted on the CPU by the Python layer); the workspace
// is a quarter of the free GPU memory, or kSegmentCudaWorkspaceBytes where that is more and fits
// in half of it.
inline constexpr int kSegmentCudaBlock = 64;  // threads per block: one work item each
inline constexpr int64_t kSegmentCudaCapacity = 256;
inline constexpr int64_t kSegmentCudaWorkspaceBytes = int64_t(1) << 30;

struct SegmentPlan {
  int64_t capacity = 0;         // points per work item (CUDA; 0 on the CPU: lists grow)
  int64_t workspace_bytes = 0;  // CUDA workspace (0 on the CPU)
};

// The launch of count_1d over `items` (network, segment) pairs with `workers` point stores.
inline GridStride segment_launch(int64_t items, int64_t workers) {
  return grid_stride(items, workers, kSegmentCudaBlock);
}

// max_workspace_bytes >= 0 replaces the budget (fewer work items at once).
SegmentPlan segment_plan(const NetSpec& net, int64_t B, int64_t S, bool cuda, int64_t elem_size,
                         int64_t free_bytes, int64_t max_workspace_bytes = -1);

// count_2d (CPU): regions of net(theta_b; origin_b + s u_b + t v_b) over [lo1,hi1] x [lo2,hi2].
template <typename T>
struct PolygonArgs {
  NetSpec net;
  const T* theta = nullptr;   // (B, P)
  const T* origin = nullptr;  // (d0,) or (B, d0) when per_net
  const T* u = nullptr;
  const T* v = nullptr;
  bool per_net = false;
  double bounds[4] = {0, 1, 0, 1};
  int64_t B = 0;
  int64_t* counts = nullptr;       // (B,) polygons per network
  int64_t* n_vertices = nullptr;   // (B,) vertices per network (count pass) or nullptr
  // fill pass only (offsets from the count pass):
  const int64_t* region_offsets = nullptr;  // (B+1,)
  const int64_t* vertex_base = nullptr;     // (B+1,) first vertex of network b
  T* vertices = nullptr;                    // (V, 2)
  int64_t* vertex_offsets = nullptr;        // (R+1,)
  int64_t* patterns = nullptr;              // (R, n_words) packed activation bits
  int32_t n_words = 0;                      // pattern_words(net)
};

template <typename T>
void polygon_cpu(const PolygonArgs<T>& a);

// count_patterns: packed activation bits of every (network, sample).
template <typename T>
struct PatternArgs {
  NetSpec net;
  const T* theta = nullptr;  // (B, P)
  const T* x = nullptr;      // (N, d0) or (B, N, d0)
  int64_t* words = nullptr;  // (B, N, n_words)
  int64_t B = 0, N = 0;
  bool x_per_net = false;
  int32_t n_words = 0;
  T* workspace = nullptr;    // CUDA only, as in ForwardArgs
  int64_t workspace_threads = 0;
};

template <typename T>
void pattern_cpu(const PatternArgs<T>& a);
template <typename T>
void pattern_cuda(const PatternArgs<T>& a, const DeviceContext& ctx);

// counts[b] = number of distinct rows of words[b] (N x n_words); CPU, sort + unique per network.
void unique_rows_cpu(const int64_t* words, int64_t B, int64_t N, int32_t n_words, int64_t* counts);

}  // namespace rs
