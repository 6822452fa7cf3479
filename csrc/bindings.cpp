// The extension module reluscope._core: build information plus one bind_* call per kernel family.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include "common/cpu_isa.h"
#include "common/device.h"
#include "common/parallel.h"

namespace nb = nanobind;

namespace rs {
void bind_model(nb::module_& m);
void bind_hessian(nb::module_& m);
void bind_regions(nb::module_& m);
void bind_hypercube(nb::module_& m);
}  // namespace rs

#ifndef RELUSCOPE_CUDA_ARCHS
#define RELUSCOPE_CUDA_ARCHS ""
#endif

NB_MODULE(_core, m) {
  m.doc() = "reluscope compiled kernels (CPU with OpenMP, CUDA when built with nvcc)";
  m.def("build_info", [] {
    nb::dict d;
#if defined(RELUSCOPE_WITH_OPENMP)
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    d["cuda"] = rs::kWithCuda;
    d["cuda_archs"] = std::string(RELUSCOPE_CUDA_ARCHS);
    d["max_threads"] = rs::max_threads();
    d["cpu_isa"] = std::string(rs::cpu_isa_name(rs::cpu_isa()));
    d["compiler"] = std::string(__VERSION__);
    return d;
  });
  rs::bind_model(m);
  rs::bind_hessian(m);
  rs::bind_regions(m);
  rs::bind_hypercube(m);
}
