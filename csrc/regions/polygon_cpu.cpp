// CPU launcher of count_2d: threads over networks, each cut by slice_polygons (polygon_math.h).
// Count pass: polygons and vertices per network; fill pass (offsets given): vertices, vertex
// offsets and patterns.
#include "common/error.h"
#include "common/parallel.h"
#include "regions/polygon_math.h"
#include "regions/regions.h"

namespace rs {

template <typename T>
void polygon_cpu(const PolygonArgs<T>& a) {
  const NetSpec& net = a.net;
  parallel_for(a.B, 1, [&](int64_t begin, int64_t end, int) {
    PolygonSet<T> P, Q;
    for (int64_t b = begin; b < end && !stop_requested(); ++b) {
      const int64_t x_off = a.per_net ? b * net.d_in : 0;
      slice_polygons(net, a.theta + b * net.n_params, a.origin + x_off, a.u + x_off, a.v + x_off,
                     a.bounds, a.n_words, P, Q);
      a.counts[b] = P.size();
      if (a.n_vertices) a.n_vertices[b] = P.off.back();
      if (!a.vertices) continue;
      const int64_t r0 = a.region_offsets[b], v0 = a.vertex_base[b];
      RS_CHECK(r0 >= 0 && v0 >= 0 && r0 + P.size() <= a.region_offsets[b + 1] &&
                   v0 + P.off.back() <= a.vertex_base[b + 1],
               "count_2d's fill pass: the offsets of network ", b, " do not match its regions");
      for (int64_t k = 0; k < P.size(); ++k) {
        a.vertex_offsets[r0 + k] = v0 + P.off[k];
        for (int w = 0; w < a.n_words; ++w) a.patterns[(r0 + k) * a.n_words + w] = P.pat[k * a.n_words + w];
      }
      for (int64_t r = 0; r < P.off.back(); ++r) {
        a.vertices[(v0 + r) * 2] = P.row(r)[0];
        a.vertices[(v0 + r) * 2 + 1] = P.row(r)[1];
      }
    }
  });
}

template void polygon_cpu<float>(const PolygonArgs<float>&);
template void polygon_cpu<double>(const PolygonArgs<double>&);

}  // namespace rs
