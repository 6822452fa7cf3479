// CPU launcher of count_1d: threads over (network, segment) work items. Each thread owns growable
// point lists (std::vector, doubled on demand), so any number of pieces is counted exactly
// (Telgarsky's sawtooth: 2^L points). Time O(sum_l n_l d_l d_{l-1}) per item, memory
// O(n max_width) per thread.
#include <vector>

#include "common/error.h"
#include "common/parallel.h"
#include "regions/regions.h"
#include "regions/segment_math.h"

namespace rs {

// Point lists that grow: the CPU counterpart of FixedStore.
template <typename T>
struct VectorStore {
  std::vector<T> tv[2], vv[2], scratch;
  std::vector<uint8_t> bv[2];
  std::vector<int32_t> iv;
  int W;

  explicit VectorStore(int W_) : scratch(kScratchRows * size_t(W_)), iv(W_), W(W_) {}
  // Grows the half to n points; false (the caller gives up) once the call should stop.
  bool ensure(int h, int64_t n) {
    if (stop_requested()) return false;
    if (int64_t(tv[h].size()) < n) {
      const size_t c = std::max<size_t>(size_t(n), 2 * tv[h].size());
      tv[h].resize(c);
      bv[h].resize(c);
      vv[h].resize(c * W);
    }
    return true;
  }
  T* t(int h) { return tv[h].data(); }
  uint8_t* is_break(int h) { return bv[h].data(); }
  T* row(int h, int64_t k) { return vv[h].data() + k * W; }
  T* scratch_row(SegmentScratchRow r) { return scratch.data() + int64_t(r) * W; }
  int32_t* idx() { return iv.data(); }
};

template <typename T>
void segment_cpu(const SegmentArgs<T>& a) {
  const NetSpec& net = a.net;
  parallel_for(a.B * a.S, 1, [&](int64_t begin, int64_t end, int) {
    VectorStore<T> st(net.max_width);
    for (int64_t i = begin; i < end && !stop_requested(); ++i) {
      const int64_t b = i / a.S;
      const int64_t x_off = (a.x_per_net ? i : i % a.S) * net.d_in;
      int64_t n;
      int h;
      if (!segment_pieces(net, a.theta + b * net.n_params, a.xa + x_off, a.xb + x_off, st, n, h))
        return;  // stopped (the CPU store grows, it never runs out)
      T* out;
      int64_t room;
      const bool fits = breakpoint_slice(a, i, out, room);
      const int64_t count = segment_count(st, h, n, net.d_out, a.merge, out, room);
      RS_CHECK(a.bp_offsets == nullptr || (fits && count == room + 1),
               "count_1d's fill pass: the breakpoint offsets do not match the counts of item ", i);
      a.counts[i] = count;
    }
  });
}

template void segment_cpu<float>(const SegmentArgs<float>&);
template void segment_cpu<double>(const SegmentArgs<double>&);

}  // namespace rs
