// Python bindings of the model description (the Activation enum and its properties, NetSpec), the
// workspace rule of the sample-parallel CUDA kernels and the batched forward kernel.
#include <nanobind/stl/pair.h>
#include <nanobind/stl/vector.h>
#include <nanobind/stl/optional.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>
#include <vector>

#include "common/ndarray.h"
#include "model/activation.h"
#include "model/forward.h"
#include "model/moments.h"
#include "model/net_spec.h"

namespace rs {

// A layer table row: w_off, b_off, d_in, d_out, transposed, activation, ntk (reluscope's
// models.base.Layer, whose fields Python checks against this count).
constexpr size_t kLayerFields = 7;

// The one encoding of an architecture: the layer table flattened to ints (Model.flat_layers,
// also how the torch custom ops receive it), parsed and checked here.
static NetSpec make_net_spec(const std::vector<int64_t>& flat, int64_t n_params, double slope) {
  RS_CHECK(!flat.empty() && flat.size() % kLayerFields == 0, "the layer table must be rows of ",
           kLayerFields, " ints (w_off, b_off, d_in, d_out, transposed, activation, ntk), got ",
           flat.size(), " ints");
  const size_t n_layers = flat.size() / kLayerFields;
  RS_CHECK(n_layers <= size_t(kMaxLayers), "at most ", kMaxLayers, " layers are supported, got ",
           n_layers);
  NetSpec net;
  net.n_layers = static_cast<int32_t>(n_layers);
  net.n_params = n_params;
  net.slope = slope;
  for (size_t l = 0; l < n_layers; ++l) {
    LayerSpec& L = net.layer[l];
    const int64_t* row = flat.data() + l * kLayerFields;
    RS_CHECK(row[2] > 0 && row[3] > 0 && row[2] <= INT32_MAX && row[3] <= INT32_MAX, "layer ", l,
             " has a width outside [1, 2^31)");
    L.w_off = row[0];
    L.b_off = row[1];
    L.in = static_cast<int32_t>(row[2]);
    L.out = static_cast<int32_t>(row[3]);
    const bool transposed = row[4] != 0, ntk = row[6] != 0;
    RS_CHECK(row[5] >= 0 && row[5] < kNumActivations, "layer ", l, " has unknown activation code ",
             row[5]);
    L.act = static_cast<int32_t>(row[5]);
    L.w_sj = transposed ? 1 : L.in;
    L.w_sk = transposed ? L.out : 1;
    L.w_scale = ntk ? 1.0 / std::sqrt(double(L.in)) : 1.0;
    RS_CHECK(L.w_off >= 0 && L.w_off + int64_t(L.in) * L.out <= n_params, "layer ", l,
             " weights fall outside theta");
    RS_CHECK(L.b_off < 0 || L.b_off + L.out <= n_params, "layer ", l, " bias falls outside theta");
    if (l > 0) RS_CHECK(L.in == net.layer[l - 1].out, "layer ", l, " input width ", L.in,
                        " does not match the previous output width ", net.layer[l - 1].out);
    net.max_width = std::max({net.max_width, L.in, L.out});
  }
  net.d_in = net.layer[0].in;
  net.d_out = net.layer[net.n_layers - 1].out;
  return net;
}

static void forward(const NetSpec& net, const Array& theta, const Array& x, const Array& y,
                    const OptArray& workspace, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(theta, {&x, &y}, stream);
  const int64_t B = theta.ndim() == 2 ? int64_t(theta.shape(0)) : -1;
  RS_CHECK(B >= 0, "theta must be (B, P)");
  check_shape(theta, "theta", {B, net.n_params});
  const bool per_net = x.ndim() == 3;
  const int64_t N = per_net ? int64_t(x.shape(1)) : int64_t(x.shape(0));
  if (per_net) check_shape(x, "X", {B, N, net.d_in});
  else check_shape(x, "X", {N, net.d_in});
  check_shape(y, "out", {B, N, net.d_out});
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    ForwardArgs<T> a{net, data_as<T>(theta, "theta"), data_as<T>(x, "X"), data_as<T>(y, "out"),
                     B, N, per_net};
    on_device(ctx, [&] { forward_cpu(a); },
              [&](auto) {
                RS_CHECK(workspace.has_value(), "the CUDA forward needs a workspace");
                check_same_device(theta, *workspace);
                a.workspace = data_as<T>(workspace, "workspace");
                a.workspace_threads = lane_workspace_threads(net, int64_t(workspace->size()));
                RS_CHECK(a.workspace_threads > 0, "the workspace is too small");
                forward_cuda(a, ctx);
              });
  });
}

static void layer_moments(const NetSpec& net, const Array& theta, const Array& xy,
                          const Array& out, const OptArray& workspace, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(theta, {&xy, &out}, stream);
  RS_CHECK(theta.ndim() == 2, "theta must be (B, P)");
  const int64_t B = int64_t(theta.shape(0));
  check_shape(theta, "theta", {B, net.n_params});
  const bool per_net = xy.ndim() == 3;
  const int64_t N = int64_t(xy.shape(per_net ? 1 : 0));
  if (per_net) check_shape(xy, "XY", {B, N, 2 * int64_t(net.d_in)});
  else check_shape(xy, "XY", {N, 2 * int64_t(net.d_in)});
  check_shape(out, "out", {B, N, net.n_layers, kMoments});
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    MomentArgs<T> a{net, data_as<T>(theta, "theta"), data_as<T>(xy, "XY"), data_as<T>(out, "out"),
                    B, N, per_net};
    on_device(ctx, [&] { moments_cpu(a); },
              [&](auto) {
                RS_CHECK(workspace.has_value(), "the CUDA moment kernel needs a workspace");
                check_same_device(theta, *workspace);
                a.workspace = data_as<T>(workspace, "workspace");
                a.workspace_threads = int64_t(workspace->size()) / (4 * int64_t(net.max_width));
                RS_CHECK(a.workspace_threads > 0, "the workspace is too small");
                moments_cuda(a, ctx);
              });
  });
}

void bind_model(nb::module_& m) {
  nb::enum_<Activation>(m, "Activation", nb::is_arithmetic(),
                        "Activation functions; the names are the strings reluscope.MLP takes.")
      .value("identity", ACT_IDENTITY)
      .value("relu", ACT_RELU)
      .value("leaky_relu", ACT_LEAKY_RELU)
      .value("tanh", ACT_TANH)
      .value("sigmoid", ACT_SIGMOID)
      .value("softplus", ACT_SOFTPLUS)
      .value("erf", ACT_ERF)
      .value("quadratic", ACT_QUADRATIC);
  m.attr("max_layers") = kMaxLayers;
  // The widest layer the layer table holds (LayerSpec's widths are 32-bit).
  m.attr("max_width") = std::numeric_limits<decltype(LayerSpec::in)>::max();
  m.def("activation_is_piecewise_linear", [](int32_t act) { return act_piecewise_linear(act); },
        nb::arg("act"), "Networks of this activation are piecewise linear (sigma'' = 0).");
  m.def("activation_has_kink", [](int32_t act) { return act_has_kink(act); }, nb::arg("act"),
        "The activation has a kink at 0: one activation-pattern bit per neuron.");
  nb::class_<NetSpec>(m, "NetSpec",
                      "Compiled description of an architecture (built by reluscope.MLP / TMS).")
      .def(nb::new_(&make_net_spec), nb::arg("flat_layers"), nb::arg("n_params"),
           nb::arg("slope"))
      .def_ro("n_layers", &NetSpec::n_layers)
      .def_ro("d_in", &NetSpec::d_in)
      .def_ro("d_out", &NetSpec::d_out)
      .def_ro("max_width", &NetSpec::max_width)
      .def_ro("n_params", &NetSpec::n_params)
      .def_prop_ro("has_kink",
                   [](const NetSpec& n) {
                     for (int l = 0; l < n.n_layers; ++l)
                       if (act_has_kink(n.layer[l].act)) return true;
                     return false;
                   },
                   "Some layer's activation has a kink at 0 (relu, leaky_relu): only then can a "
                   "sample sit on a kink that moves with theta.")
      .def_prop_ro("layer_activations",
                   [](const NetSpec& n) {
                     std::vector<std::pair<int32_t, int32_t>> acts;
                     for (int l = 0; l < n.n_layers; ++l)
                       acts.emplace_back(n.layer[l].act, n.layer[l].out);
                     return acts;
                   },
                   "(activation, width) of every layer: a forward pass evaluates each layer's "
                   "activation once per neuron and sample.")
      .def_prop_ro("pattern_bits", [](const NetSpec& n) { return pattern_bits(n); },
                   "Activation-pattern bits: neurons of the hidden layers with a kink.")
      .def_prop_ro("pattern_words", [](const NetSpec& n) { return pattern_words(n); },
                   "64-bit words a packed activation pattern takes (at least 1).");
  m.def("lane_launch", &lane_launch, nb::arg("items"), nb::arg("workers"),
        "The GridStride of the forward / pattern CUDA launch.");
  m.def("lane_workspace", &lane_workspace, nb::arg("net"), nb::arg("items"), nb::arg("cuda"),
        nb::arg("elem_size"), nb::arg("max_workspace_bytes") = -1,
        "Scratch values the forward / pattern kernel needs for `items` (network, sample) pairs "
        "(0 on the CPU).");
  m.def("forward", &forward, nb::arg("net"), nb::arg("theta"), nb::arg("x"), nb::arg("out"),
        nb::kw_only(), nb::arg("workspace").none() = nb::none(), nb::arg("stream") = 0,
        "out[b, n] = net(theta[b]; x[n] or x[b, n]); float32/float64, CPU or CUDA.");
  m.attr("moment_count") = kMoments;
  m.attr("layer_fields") = kLayerFields;
  m.def("moment_workspace", &moment_workspace, nb::arg("net"), nb::arg("B"), nb::arg("N"),
        nb::arg("cuda"), nb::arg("elem_size"),
        "Scratch values the layer-moment kernel needs (0 on the CPU).");
  m.def("layer_moments", &layer_moments, nb::arg("net"), nb::arg("theta"), nb::arg("xy"),
        nb::arg("out"), nb::kw_only(), nb::arg("workspace").none() = nb::none(),
        nb::arg("stream") = 0,
        "out[b, n, l] = the sums over layer l's neurons of z_x^2, z_y^2, z_x z_y, z_x^4, z_y^4, "
        "z_x^2 z_y^2 (xy[n] = (x_n, y_n)); float32/float64, CPU or CUDA.");
}

}  // namespace rs
