// Python bindings of the region counter (reluscope.regions): the RegionMerge enum, the count_1d
// launch plan, and the kernels of count_1d (segments), count_2d (slices, CPU), activation
// patterns and per-network distinct-row counts.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/tuple.h>

#include <tuple>

#include "common/ndarray.h"
#include "model/forward.h"
#include "regions/regions.h"

namespace rs {

static int64_t batch_of(const Array& theta, const NetSpec& net) {
  RS_CHECK(theta.ndim() == 2, "theta must be (B, P)");
  const int64_t B = int64_t(theta.shape(0));
  check_shape(theta, "theta", {B, net.n_params});
  return B;
}

static void segments(const NetSpec& net, const Array& theta, const Array& xa, const Array& xb,
                     const Array& counts, int32_t merge, const OptArray& bp_offsets,
                     const OptArray& bp_values, const OptArray& workspace,
                     const OptArray& overflow, int64_t capacity, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(theta, {&xa, &xb, &counts}, stream);
  check_same_device(theta, {&bp_offsets, &bp_values, &workspace, &overflow});
  const int64_t B = batch_of(theta, net);
  const bool per_net = xa.ndim() == 3;
  const int64_t S = int64_t(xa.shape(per_net ? 1 : 0));
  if (per_net) check_shape(xa, "a", {B, S, net.d_in}); else check_shape(xa, "a", {S, net.d_in});
  if (per_net) check_shape(xb, "b", {B, S, net.d_in}); else check_shape(xb, "b", {S, net.d_in});
  check_shape(counts, "counts", {B, S});
  RS_CHECK(valid_merge(merge), "unknown merge code ", merge);
  RS_CHECK(bp_offsets.has_value() == bp_values.has_value(), "pass both breakpoint arrays or none");
  if (bp_offsets) {
    check_shape(*bp_offsets, "offsets", {B * S + 1});
    RS_CHECK(bp_values->ndim() == 1, "values must be 1-D");
  }
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    SegmentArgs<T> a;
    a.net = net;
    a.theta = data_as<T>(theta, "theta");
    a.xa = data_as<T>(xa, "a");
    a.xb = data_as<T>(xb, "b");
    a.counts = data_as<int64_t>(counts, "counts");
    a.bp_offsets = data_as<int64_t>(bp_offsets, "offsets");
    a.bp_values = data_as<T>(bp_values, "values");
    a.bp_capacity = bp_values ? int64_t(bp_values->size()) : 0;
    a.B = B; a.S = S; a.x_per_net = per_net; a.merge = merge;
    on_device(ctx, [&] { segment_cpu(a); },
              [&](auto) {
                RS_CHECK(workspace.has_value() && overflow.has_value() && capacity > 0,
                         "the CUDA count_1d needs a workspace, overflow flags and a capacity");
                check_shape(*overflow, "overflow", {B, S});
                a.capacity = capacity;
                a.workspace = data_as<unsigned char>(workspace, "workspace");
                a.workspace_items =
                    segment_workers(net, int64_t(workspace->size()), capacity, sizeof(T));
                RS_CHECK(a.workspace_items > 0, "the workspace is too small");
                a.overflow = data_as<uint8_t>(overflow, "overflow");
                segment_cuda(a, ctx);
              });
  });
}

using Bounds = std::tuple<double, double, double, double>;

static void polygons(const NetSpec& net, const Array& theta, const Array& origin, const Array& u,
                     const Array& v, Bounds bounds,
                     const Array& counts, const OptArray& n_vertices,
                     const OptArray& region_offsets, const OptArray& vertex_base,
                     const OptArray& vertices, const OptArray& vertex_offsets,
                     const OptArray& patterns) {
  RS_CHECK(!is_cuda(theta), "count_2d runs on the CPU");
  context_of(theta, {&origin, &u, &v, &counts}, 0);
  check_same_device(theta, {&n_vertices, &region_offsets, &vertex_base, &vertices,
                            &vertex_offsets, &patterns});
  const int64_t B = batch_of(theta, net);
  const bool per_net = origin.ndim() == 2;
  for (const auto& [arr, name] : {std::pair{&origin, "origin"}, {&u, "u"}, {&v, "v"}}) {
    if (per_net) check_shape(*arr, name, {B, net.d_in}); else check_shape(*arr, name, {net.d_in});
  }
  check_shape(counts, "counts", {B});
  if (n_vertices) check_shape(*n_vertices, "n_vertices", {B});
  const bool fill = vertices.has_value();
  RS_CHECK(!fill || (region_offsets && vertex_base && vertex_offsets && patterns),
           "the fill pass needs every output array");
  const int32_t n_words = pattern_words(net);
  if (fill) {  // the outputs must hold what the offsets (from the count pass) say
    check_shape(*region_offsets, "region_offsets", {B + 1});
    check_shape(*vertex_base, "vertex_base", {B + 1});
    const int64_t R = data_as<int64_t>(region_offsets, "region_offsets")[B];
    const int64_t V = data_as<int64_t>(vertex_base, "vertex_base")[B];
    check_shape(*vertices, "vertices", {V, 2});
    check_shape(*vertex_offsets, "vertex_offsets", {R + 1});
    check_shape(*patterns, "patterns", {R, n_words});
  }
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    PolygonArgs<T> a;
    a.net = net;
    a.theta = data_as<T>(theta, "theta");
    a.origin = data_as<T>(origin, "origin");
    a.u = data_as<T>(u, "u");
    a.v = data_as<T>(v, "v");
    a.per_net = per_net;
    std::tie(a.bounds[0], a.bounds[1], a.bounds[2], a.bounds[3]) = bounds;
    a.B = B;
    a.counts = data_as<int64_t>(counts, "counts");
    a.n_vertices = data_as<int64_t>(n_vertices, "n_vertices");
    a.n_words = n_words;
    if (fill) {
      a.region_offsets = data_as<int64_t>(region_offsets, "region_offsets");
      a.vertex_base = data_as<int64_t>(vertex_base, "vertex_base");
      a.vertices = data_as<T>(vertices, "vertices");
      a.vertex_offsets = data_as<int64_t>(vertex_offsets, "vertex_offsets");
      a.patterns = data_as<int64_t>(patterns, "patterns");
    }
    run_released([&] { polygon_cpu(a); });
  });
}

static void patterns(const NetSpec& net, const Array& theta, const Array& x, const Array& words,
                     const OptArray& workspace, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(theta, {&x, &words}, stream);
  check_same_device(theta, {&workspace});
  const int64_t B = batch_of(theta, net);
  const bool per_net = x.ndim() == 3;
  const int64_t N = int64_t(x.shape(per_net ? 1 : 0));
  if (per_net) check_shape(x, "X", {B, N, net.d_in}); else check_shape(x, "X", {N, net.d_in});
  RS_CHECK(words.ndim() == 3, "words must be (B, N, n_words)");
  const int32_t n_words = pattern_words(net);
  check_shape(words, "words", {B, N, n_words});
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    PatternArgs<T> a;
    a.net = net;
    a.theta = data_as<T>(theta, "theta");
    a.x = data_as<T>(x, "X");
    a.words = data_as<int64_t>(words, "words");
    a.B = B; a.N = N; a.x_per_net = per_net; a.n_words = n_words;
    on_device(ctx, [&] { pattern_cpu(a); },
              [&](auto) {
                RS_CHECK(workspace.has_value(), "the CUDA pattern kernel needs a workspace");
                a.workspace = data_as<T>(workspace, "workspace");
                check_same_device(theta, *workspace);
                a.workspace_threads = lane_workspace_threads(net, int64_t(workspace->size()));
                RS_CHECK(a.workspace_threads > 0, "the workspace is too small");
                pattern_cuda(a, ctx);
              });
  });
}

static void unique_rows(const Array& words, const Array& counts) {
  RS_CHECK(!is_cuda(words) && !is_cuda(counts), "unique_rows runs on the CPU");
  RS_CHECK(words.ndim() == 3, "words must be (B, N, n_words)");
  const int64_t B = int64_t(words.shape(0)), N = int64_t(words.shape(1));
  const int32_t W = int32_t(words.shape(2));
  check_shape(counts, "counts", {B});
  const int64_t* rows = data_as<int64_t>(words, "words");
  int64_t* out = data_as<int64_t>(counts, "counts");
  run_released([&] { unique_rows_cpu(rows, B, N, W, out); });
}

void bind_regions(nb::module_& m) {
  nb::enum_<RegionMerge>(m, "RegionMerge", nb::is_arithmetic(),
                         "Which neighbouring pieces count_1d merges.")
      .value("activation", MERGE_ACTIVATION)
      .value("linear", MERGE_LINEAR);
  nb::enum_<SegmentStatus>(m, "SegmentStatus", nb::is_arithmetic(),
                           "count_1d's per-item status on CUDA (the overflow buffer).")
      .value("ok", SEGMENT_OK)
      .value("over_capacity", SEGMENT_OVER_CAPACITY)
      .value("offsets_mismatch", SEGMENT_OFFSETS_MISMATCH);
  nb::class_<SegmentPlan>(m, "SegmentPlan", "CUDA launch plan of count_1d.")
      .def_ro("capacity", &SegmentPlan::capacity)
      .def_ro("workspace_bytes", &SegmentPlan::workspace_bytes);
  m.def("segment_plan", &segment_plan, nb::arg("net"), nb::arg("B"), nb::arg("S"),
        nb::arg("cuda"), nb::arg("elem_size"), nb::arg("free_bytes"),
        nb::arg("max_workspace_bytes") = -1,
        "Capacity per work item and workspace bytes of a CUDA count_1d call (zeros on the CPU).");
  m.def("segment_launch", &segment_launch, nb::arg("items"), nb::arg("workers"),
        "The GridStride of the count_1d CUDA launch.");
  m.def("segment_workers", &segment_workers, nb::arg("net"), nb::arg("workspace_bytes"),
        nb::arg("capacity"), nb::arg("elem_size"),
        "Work items a count_1d workspace of that size serves at once.");
  m.def("region_segments", &segments, nb::arg("net"), nb::arg("theta"), nb::arg("a"), nb::arg("b"),
        nb::arg("counts"), nb::arg("merge"), nb::kw_only(), nb::arg("offsets").none() = nb::none(),
        nb::arg("values").none() = nb::none(), nb::arg("workspace").none() = nb::none(),
        nb::arg("overflow").none() = nb::none(), nb::arg("capacity") = 0, nb::arg("stream") = 0,
        "Pieces of each network on each segment -> counts (B, S); with offsets/values, also "
        "fills the breakpoints.");
  m.def(
      "region_polygon_counts",
      [](const NetSpec& net, const Array& theta, const Array& origin, const Array& u,
         const Array& v, Bounds bounds, const Array& counts, const OptArray& n_vertices) {
        polygons(net, theta, origin, u, v, bounds, counts, n_vertices, {}, {}, {}, {}, {});
      },
      nb::arg("net"), nb::arg("theta"), nb::arg("origin"), nb::arg("u"), nb::arg("v"),
      nb::arg("bounds"), nb::arg("counts"), nb::kw_only(),
      nb::arg("n_vertices").none() = nb::none(),
      "The count pass of a 2-D slice (CPU): regions of each network -> counts (B,), and their "
      "vertices -> n_vertices (B,) when given.");
  m.def(
      "region_polygon_fill",
      [](const NetSpec& net, const Array& theta, const Array& origin, const Array& u,
         const Array& v, Bounds bounds, const Array& counts, const Array& region_offsets,
         const Array& vertex_base, const Array& vertices, const Array& vertex_offsets,
         const Array& patterns) {
        polygons(net, theta, origin, u, v, bounds, counts, {}, region_offsets, vertex_base,
                 vertices, vertex_offsets, patterns);
      },
      nb::arg("net"), nb::arg("theta"), nb::arg("origin"), nb::arg("u"), nb::arg("v"),
      nb::arg("bounds"), nb::arg("counts"), nb::arg("region_offsets"), nb::arg("vertex_base"),
      nb::arg("vertices"), nb::arg("vertex_offsets"), nb::arg("patterns"),
      "The fill pass of a 2-D slice (CPU): with the offsets the count pass gives, each region's "
      "vertices and activation pattern.");
  m.def("region_patterns", &patterns, nb::arg("net"), nb::arg("theta"), nb::arg("x"),
        nb::arg("words"), nb::kw_only(), nb::arg("workspace").none() = nb::none(),
        nb::arg("stream") = 0,
        "Packed activation bits (B, N, net.pattern_words) int64.");
  m.def("region_unique_rows", &unique_rows, nb::arg("words"), nb::arg("counts"),
        "counts[b] = distinct rows of words[b] (CPU).");
}

}  // namespace rs
