// Python bindings of the Hessian engine: the HessMode enum, the launch plan (_core.hess_plan) and
// one kernel entry point, _core.hess, for every mode.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include "common/ndarray.h"
#include "hessian/hessian.h"
#include "hessian/hessian_flops.h"

namespace rs {

static void hess(const NetSpec& net, const Array& theta, const Array& x, const Array& t,
                 const Array& w, const Array& imp, const OptArray& v, const Array& part,
                 int32_t mode, int32_t loss, bool kinks, const OptArray& dx,
                 const OptArray& workspace, std::uintptr_t stream, const OptArray& rows,
                 int64_t unit_first, int64_t units) {
  const DeviceContext ctx = context_of(theta, {&x, &t, &w, &imp, &part}, stream);
  check_same_device(theta, {&v, &dx, &rows});
  RS_CHECK(valid_hess_mode(mode), "unknown mode ", mode);
  RS_CHECK(valid_loss(loss), "unknown loss ", loss);
  RS_CHECK(loss != LOSS_CROSS_ENTROPY || net.d_out >= 2,
           "the cross-entropy needs at least two outputs");
  RS_CHECK(!dx || mode == HESS_GRAD, "input gradients dx are computed in mode grad only");
  RS_CHECK(theta.ndim() == 2, "theta must be (B, P)");
  const int64_t B = int64_t(theta.shape(0)), P = net.n_params;
  check_shape(theta, "theta", {B, P});
  const bool x_per_net = x.ndim() == 3, t_per_net = t.ndim() == 3, w_per_net = w.ndim() == 2;
  const int64_t D = int64_t(x.shape(x_per_net ? 1 : 0));  // data rows per network
  if (x_per_net) check_shape(x, "X", {B, D, net.d_in}); else check_shape(x, "X", {D, net.d_in});
  if (t_per_net) check_shape(t, "T", {B, D, net.d_out}); else check_shape(t, "T", {D, net.d_out});
  // samples: the D rows, or with rows (B, N) int64 the rows it names (a minibatch read in place)
  RS_CHECK(!rows || rows->ndim() == 2, "rows must be (B, N) int64");
  const int64_t N = rows ? int64_t(rows->shape(1)) : D;
  if (rows) {
    check_shape(*rows, "rows", {B, N});
    if (!ctx.cuda) {  // on CUDA the caller checks (reluscope._fused.run): no host copy here
      const int64_t* r = data_as<int64_t>(rows, "rows");
      for (int64_t i = 0; i < B * N; ++i)
        RS_CHECK(r[i] >= 0 && r[i] < D, "rows holds ", r[i], ", outside the ", D,
                 " rows of the data");
    }
  }
  if (w_per_net) check_shape(w, "weights", {B, N}); else check_shape(w, "weights", {N});
  check_shape(imp, "importance", {net.d_out});
  if (dx) check_shape(*dx, "dx", {B, N, net.d_in});
  const bool with_v = mode == HESS_HVP || mode == HESS_GNVP;
  const bool unit = unit_first >= 0;
  RS_CHECK(with_v == (v.has_value() || unit),
           "directions (V, or unit_first) are needed exactly in the hvp/gnvp modes");
  RS_CHECK(!unit || !v, "unit directions (unit_first) take no V");
  if (unit) {
    RS_CHECK(units >= 0 && unit_first + units <= P, "unit directions ", unit_first, " + ", units,
             " past the ", P, " parameters");
    for (int32_t l : hess_param_layers(net))
      RS_CHECK(l >= 0, "unit directions need every parameter read by one layer (no tied weights)");
  }
  const bool v_per_net = v && v->ndim() == 3;
  const int64_t K = unit ? units : v ? int64_t(v->shape(v_per_net ? 1 : 0)) : 0;
  if (v) {
    if (v_per_net) check_shape(*v, "V", {B, K, P}); else check_shape(*v, "V", {K, P});
  }
  RS_CHECK(part.ndim() == 3, "part must be (B, partials, length) as hess_plan says");
  const int64_t per_chunk = ctx.cuda ? kHessCudaWarps : 1;
  const int64_t C = int64_t(part.shape(1)) / per_chunk;
  RS_CHECK(C >= 1 && C * per_chunk == int64_t(part.shape(1)),
           "part must have a positive multiple of ", per_chunk, " partials per model");
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    HessArgs<T> a;
    a.net = net;
    a.lay = make_hess_layout(net);
    a.theta = data_as<T>(theta, "theta");
    a.x = data_as<T>(x, "X");
    a.t = data_as<T>(t, "T");
    a.w = data_as<T>(w, "weights");
    a.imp = data_as<T>(imp, "importance");
    a.dx = data_as<T>(dx, "dx");
    a.v = data_as<T>(v, "V");
    a.rows = data_as<int64_t>(rows, "rows");
    a.D = D;
    a.B = B; a.N = N; a.K = K; a.C = C; a.mode = mode; a.loss = loss; a.kinks = kinks;
    a.x_per_net = x_per_net; a.t_per_net = t_per_net; a.w_per_net = w_per_net;
    a.v_per_net = v_per_net;
    a.unit_first = unit ? unit_first : -1;
    check_shape(part, "part", {B, C * per_chunk, a.len()});
    a.part = data_as<T>(part, "part");
    on_device(ctx, [&] { hess_cpu(a); },
              [&](auto) {
                RS_CHECK(workspace.has_value(), "the CUDA Hessian kernel needs a workspace");
                check_same_device(theta, *workspace);
                a.workspace = data_as<T>(workspace, "workspace");
                a.workspace_threads = int64_t(workspace->size()) / a.lay.rows;
                hess_cuda(a, ctx);
              });
  });
}

void bind_hessian(nb::module_& m) {
  nb::enum_<HessMode>(m, "HessMode", nb::is_arithmetic(), "What _core.hess computes.")
      .value("loss", HESS_LOSS)
      .value("grad", HESS_GRAD)
      .value("hvp", HESS_HVP)
      .value("gnvp", HESS_GNVP);
  nb::enum_<HessLoss>(m, "Loss", nb::is_arithmetic(),
                      "The losses of _core.hess (csrc/hessian/loss_math.h).")
      .value("mse", LOSS_MSE)
      .value("cross_entropy", LOSS_CROSS_ENTROPY)
      .value("bce_with_logits", LOSS_BCE_WITH_LOGITS)
      .value("linear", LOSS_LINEAR);
  nb::class_<HessPlan>(m, "HessPlan", "Layout of one _core.hess call (see csrc/hessian/hessian.h).")
      .def_ro("chunks", &HessPlan::chunks)
      .def_ro("partials", &HessPlan::partials)
      .def_ro("length", &HessPlan::length)
      .def_ro("kinks_offset", &HessPlan::kinks_offset)
      .def_ro("grad_offset", &HessPlan::grad_offset)
      .def_ro("products_offset", &HessPlan::products_offset)
      .def_ro("workspace", &HessPlan::workspace)
      .def_ro("max_directions", &HessPlan::max_directions)
      .def_ro("kinks_float64", &HessPlan::kinks_float64);
  m.def("hess_flops", &hess_flops, nb::arg("net"), nb::arg("mode"), nb::arg("K"),
        "Floating-point operations per sample of a _core.hess call (hessian_flops.h: 2 x the "
        "multiply-adds of the matrix products), for the benchmark's roofline.");
  m.def("hess_unit_flops", &hess_unit_flops, nb::arg("net"), nb::arg("mode"), nb::arg("loss"),
        "hess_flops' count for the P unit directions of a full Hessian (unit_first = 0, units = "
        "P; hessian_flops.h), of the path a CPU call with this loss takes.");
  m.def("hess_plan", &hess_plan, nb::arg("net"), nb::arg("B"), nb::arg("N"), nb::arg("K"),
        nb::arg("mode"), nb::arg("cuda"), nb::arg("elem_size"),
        nb::arg("max_workspace_bytes") = -1, nb::arg("loss") = -1, nb::arg("dx") = false,
        "Chunks, output layout and CUDA workspace of a _core.hess call; with its loss and dx, "
        "whether its kink counts are a float64 pass's (kinks_float64).");
  m.def("hess", &hess, nb::arg("net"), nb::arg("theta"), nb::arg("x"), nb::arg("t"), nb::arg("w"),
        nb::arg("importance"), nb::kw_only(), nb::arg("v").none() = nb::none(), nb::arg("part"),
        nb::arg("mode"), nb::arg("loss"), nb::arg("kinks") = false,
        nb::arg("dx").none() = nb::none(), nb::arg("workspace").none() = nb::none(),
        nb::arg("stream") = 0, nb::arg("rows").none() = nb::none(), nb::arg("unit_first") = -1,
        nb::arg("units") = 0,
        "Fused loss/grad/HVP/GNVP partial sums part (B, partials, length) of a weighted loss, "
        "laid out as hess_plan says (with kinks, the samples on a moving kink); in mode grad also "
        "each sample's input gradient into dx (B, N, d_in) when given. rows (B, N) int64: sample "
        "n of network b is row rows[b, n] of x and t (a minibatch read in place; weights per "
        "sample n); without it the samples are the rows. unit_first >= 0 (modes hvp, gnvp; no "
        "v): the K = units directions are the unit vectors e_p, p = unit_first + k, each writing "
        "only the slots q of layers above p's, or of p's with q >= p (hess_param_layers).");
  m.def("hess_param_layers", &hess_param_layers, nb::arg("net"),
        "Per parameter (P,), the layer whose unit direction starts there: the one layer reading "
        "it, or -1 (tied weights: unit directions refused).");
}

}  // namespace rs
