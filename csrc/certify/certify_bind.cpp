// Python bindings of reluscope.certify's kernel: the launch plan (_core.certify_plan) and
// _core.certify_enclose, which checks shapes, dtypes and devices (ValueError) and runs the CPU or
// CUDA launcher with the GIL released.
#include <cmath>

#include <nanobind/stl/optional.h>

#include "certify/certify.h"
#include "common/ndarray.h"

namespace rs {

static void certify_enclose(const NetSpec& net, const Array& theta, const Array& radius,
                            const Array& x, const Array& t, const Array& w, const Array& imp,
                            int32_t loss, const Array& out_loss, const Array& out_grad,
                            const Array& out_hess, const Array& out_flags,
                            const OptArray& workspace, std::uintptr_t stream,
                            bool grad_at_centre) {
  const DeviceContext ctx =
      context_of(theta, {&radius, &x, &t, &w, &imp, &out_loss, &out_grad, &out_hess, &out_flags},
                 stream);
  check_same_device(theta, {&workspace});
  RS_CHECK(valid_loss(loss) && loss != LOSS_LINEAR, "unknown loss ", loss,
           " (certify takes mse, cross_entropy, bce_with_logits)");
  RS_CHECK(loss != LOSS_CROSS_ENTROPY || net.d_out >= 2,
           "the cross-entropy needs at least two outputs");
  RS_CHECK(net.n_layers >= 1, "the network has no layers");
  for (int l = 0; l < net.n_layers; ++l)
    RS_CHECK(!layer_scaled(net.layer[l]),
             "certify takes the standard parameterisation only (an NTK-parameterised layer's "
             "1/sqrt(fan-in) is not enclosed)");
  RS_CHECK(theta.ndim() == 2, "theta must be (B, P)");
  const int64_t B = int64_t(theta.shape(0)), P = net.n_params;
  check_shape(theta, "theta", {B, P});
  check_shape(radius, "radius", {B});
  const bool x_per_net = x.ndim() == 3, t_per_net = t.ndim() == 3, w_per_net = w.ndim() == 2;
  RS_CHECK(x.ndim() == 2 || x_per_net, "X must be (N, d_in) or (B, N, d_in)");
  const int64_t N = int64_t(x.shape(x_per_net ? 1 : 0));
  if (x_per_net) check_shape(x, "X", {B, N, net.d_in}); else check_shape(x, "X", {N, net.d_in});
  if (t_per_net) check_shape(t, "T", {B, N, net.d_out}); else check_shape(t, "T", {N, net.d_out});
  if (w_per_net) check_shape(w, "weights", {B, N}); else check_shape(w, "weights", {N});
  check_shape(imp, "importance", {net.d_out});
  check_shape(out_loss, "out_loss", {B, 2});
  check_shape(out_grad, "out_grad", {B, P, 2});
  check_shape(out_hess, "out_hess", {B, P, P, 2});
  check_shape(out_flags, "out_flags", {B});
  CertArgs a;
  a.net = net;
  a.lay = make_cert_layout(net);
  a.theta = data_as<double>(theta, "theta");
  a.radius = data_as<double>(radius, "radius");
  a.x = data_as<double>(x, "X");
  a.t = data_as<double>(t, "T");
  a.w = data_as<double>(w, "weights");
  a.imp = data_as<double>(imp, "importance");
  a.out_loss = data_as<double>(out_loss, "out_loss");
  a.out_grad = data_as<double>(out_grad, "out_grad");
  a.out_hess = data_as<double>(out_hess, "out_hess");
  a.out_flags = data_as<int32_t>(out_flags, "out_flags");
  if (!ctx.cuda) {  // radius: the Python layer checks it on either device; here on the CPU again
    for (int64_t b = 0; b < B; ++b)
      RS_CHECK(std::isfinite(a.radius[b]) && a.radius[b] >= 0.0,
               "radius must be finite and >= 0, got ", a.radius[b], " for network ", b);
  }
  const CertPlan plan = certify_plan(net, B, N, ctx.cuda);
  a.B = B; a.N = N; a.C = plan.chunks; a.loss = loss;
  a.x_per_net = x_per_net; a.t_per_net = t_per_net; a.w_per_net = w_per_net;
  a.grad_at_centre = grad_at_centre;
  if (B == 0) return;
  on_device(ctx, [&] { certify_cpu(a); },
            [&](auto) {
              RS_CHECK(workspace.has_value() && int64_t(workspace->size()) == plan.workspace,
                       "the CUDA certify kernel needs a workspace of certify_plan(...).workspace = ",
                       plan.workspace, " float64 values");
              a.workspace = data_as<double>(workspace, "workspace");
              certify_cuda(a, ctx);
            });
}

void bind_certify(nb::module_& m) {
  nb::class_<CertPlan>(m, "CertPlan", "Layout of one _core.certify_enclose call "
                                      "(csrc/certify/certify.h).")
      .def_ro("chunks", &CertPlan::chunks)
      .def_ro("workspace", &CertPlan::workspace);
  m.def("certify_plan", &certify_plan, nb::arg("net"), nb::arg("B"), nb::arg("N"),
        nb::arg("cuda"), "Data chunks and CUDA workspace (float64 values) of a certify_enclose "
        "call.");
  m.def("certify_enclose", &certify_enclose, nb::arg("net"), nb::arg("theta"), nb::arg("radius"),
        nb::arg("x"), nb::arg("t"), nb::arg("w"), nb::arg("importance"), nb::arg("loss"),
        nb::arg("out_loss"), nb::arg("out_grad"), nb::arg("out_hess"), nb::arg("out_flags"),
        nb::kw_only(), nb::arg("workspace").none() = nb::none(), nb::arg("stream") = 0,
        nb::arg("grad_at_centre") = false,
        "Interval enclosures (float64, last dim [lo, hi]) of the loss (B, 2), gradient (B, P, 2) "
        "and Hessian (B, P, P, 2) of B networks over the boxes theta_b + [-r_b, r_b]^P, and flags "
        "(B,) int32 (1: kink, 2: not finite). grad_at_centre: the gradient at theta_b instead "
        "(the loss and the Hessian still over the box).");
}

}  // namespace rs
