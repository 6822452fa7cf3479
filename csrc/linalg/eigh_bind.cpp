// Python binding of the batched eigensolver (eigh.h): _core.eigh and its workspace rule.
#include <nanobind/stl/optional.h>

#include <cstdint>

#include "common/ndarray.h"
#include "linalg/eigh.h"

namespace rs {

static void eigh(const Array& A, const Array& values, const OptArray& vectors,
                 const OptArray& workspace, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(A, {&values}, stream);
  check_same_device(A, {&vectors, &workspace});
  RS_CHECK(A.ndim() == 3 && A.shape(1) == A.shape(2), "A must be (B, n, n)");
  const int64_t B = int64_t(A.shape(0)), n = int64_t(A.shape(1));
  RS_CHECK(n >= 1 && n <= kEighMaxN, "the eigensolver takes 1 <= n <= ", kEighMaxN, ", got ", n);
  check_shape(values, "values", {B, n});
  if (vectors) check_shape(*vectors, "vectors", {B, n, n});
  dispatch_float(A, [&](auto tag) {
    using T = decltype(tag);
    EighArgs<T> a{data_as<T>(A, "A"), data_as<T>(values, "values"),
                  data_as<T>(vectors, "vectors"), B, int(n)};
    on_device(ctx, [&] { eigh_cpu(a); },
              [&](auto) {
                const int64_t need = eigh_workspace(B, n, vectors.has_value(), true);
                RS_CHECK(workspace.has_value() && int64_t(workspace->size()) >= need,
                         "the CUDA eigensolver needs a workspace of ", need, " values");
                a.workspace = data_as<T>(workspace, "workspace");
                eigh_cuda(a, ctx);
              });
  });
}

void bind_linalg(nb::module_& m) {
  m.attr("eigh_max_n") = kEighMaxN;
  m.def("eigh_workspace", &eigh_workspace, nb::arg("B"), nb::arg("n"), nb::arg("vectors"),
        nb::arg("cuda"), "Scratch values the eigensolver needs (0 on the CPU).");
  m.def("eigh", &eigh, nb::arg("A"), nb::arg("values"), nb::kw_only(),
        nb::arg("vectors").none() = nb::none(), nb::arg("workspace").none() = nb::none(),
        nb::arg("stream") = 0,
        "Eigenvalues (ascending) and optionally eigenvectors (columns) of the symmetric matrices "
        "A (B, n, n) from their lower triangles; NaN for a matrix with a NaN or inf there. "
        "float32/float64, CPU or CUDA.");
}

}  // namespace rs
