// Python bindings of the Jacobian kernel: the JacMode enum, the CUDA workspace rule
// (_core.jac_workspace) and the kernel entry point _core.jac for both modes.
#include <nanobind/stl/optional.h>
#include <nanobind/stl/vector.h>

#include <vector>

#include "common/ndarray.h"
#include "hessian/jacobian.h"

namespace rs {

static void jac(const NetSpec& net, const Array& theta, const Array& x, const OptArray& u,
                const Array& out, int32_t mode, const OptArray& workspace, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(theta, {&x, &out}, stream);
  check_same_device(theta, {&u});
  RS_CHECK(valid_jac_mode(mode), "unknown mode ", mode);
  RS_CHECK(theta.ndim() == 2, "theta must be (B, P)");
  const int64_t B = int64_t(theta.shape(0)), P = net.n_params;
  check_shape(theta, "theta", {B, P});
  const bool x_per_net = x.ndim() == 3;
  const int64_t N = int64_t(x.shape(x_per_net ? 1 : 0));
  if (x_per_net) check_shape(x, "X", {B, N, net.d_in}); else check_shape(x, "X", {N, net.d_in});
  RS_CHECK((mode == JAC_JVP) == u.has_value(), "directions u are needed exactly in mode jvp");
  const bool u_per_net = u && u->ndim() == 3;
  const int64_t K = u ? int64_t(u->shape(u_per_net ? 1 : 0)) : 0;
  if (u) {
    if (u_per_net) check_shape(*u, "u", {B, K, P}); else check_shape(*u, "u", {K, P});
  }
  if (mode == JAC_FULL) check_shape(out, "out", {B, N, net.d_out, P});
  else if (mode == JAC_JVP) check_shape(out, "out", {B, N, net.d_out, K});
  else check_shape(out, "out", {B, N, jac_feature_offset(net, net.n_layers)});
  dispatch_float(theta, [&](auto tag) {
    using T = decltype(tag);
    JacArgs<T> a;
    a.net = net;
    a.lay = make_jac_layout(net);
    a.theta = data_as<T>(theta, "theta");
    a.x = data_as<T>(x, "X");
    a.u = data_as<T>(u, "u");
    a.out = data_as<T>(out, "out");
    a.B = B; a.N = N; a.K = K; a.mode = mode;
    a.x_per_net = x_per_net; a.u_per_net = u_per_net;
    on_device(ctx, [&] { jac_cpu(a); },
              [&](auto) {
                RS_CHECK(workspace.has_value(), "the CUDA Jacobian kernel needs a workspace");
                check_same_device(theta, *workspace);
                a.workspace = data_as<T>(workspace, "workspace");
                a.workspace_threads = int64_t(workspace->size()) / a.lay.rows;
                RS_CHECK(a.workspace_threads > 0, "the workspace is too small");
                jac_cuda(a, ctx);
              });
  });
}

void bind_jacobian(nb::module_& m) {
  nb::enum_<JacMode>(m, "JacMode", nb::is_arithmetic(), "What _core.jac computes.")
      .value("full", JAC_FULL)
      .value("jvp", JAC_JVP)
      .value("features", JAC_FEATURES);
  m.def("jac_workspace", &jac_workspace, nb::arg("net"), nb::arg("B"), nb::arg("N"),
        nb::arg("cuda"), nb::arg("elem_size"), nb::arg("max_workspace_bytes") = -1,
        "Scratch values a _core.jac call needs (0 on the CPU).");
  m.def("jac_feature_offsets",
        [](const NetSpec& net) {
          std::vector<int64_t> off(size_t(net.n_layers) + 1);
          for (int l = 0; l <= net.n_layers; ++l) off[size_t(l)] = jac_feature_offset(net, l);
          return off;
        },
        nb::arg("net"),
        "Offsets of each layer's features in a row of mode features, then the row length F.");
  m.def("jac", &jac, nb::arg("net"), nb::arg("theta"), nb::arg("x"), nb::kw_only(),
        nb::arg("u").none() = nb::none(), nb::arg("out"), nb::arg("mode"),
        nb::arg("workspace").none() = nb::none(), nb::arg("stream") = 0,
        "mode full: out (B, N, d_out, P) += d y / d theta (zero it first); mode jvp: "
        "out (B, N, d_out, K) = J u_k; mode features: out (B, N, F), each layer's input and "
        "backward vectors. float32/float64, CPU or CUDA.");
}

}  // namespace rs
