// The extension module reluscope._core: build information plus one bind_* call per kernel family.
#include <nanobind/nanobind.h>
#include <nanobind/stl/string.h>

#include <stdexcept>

#include "common/cpu_isa.h"
#include "common/cuda_probe.h"
#include "common/device.h"
#include "common/ndarray.h"
#include "common/launch.h"
#include "common/parallel.h"

namespace nb = nanobind;

namespace rs {
void bind_model(nb::module_& m);
void bind_hessian(nb::module_& m);
void bind_jacobian(nb::module_& m);
void bind_regions(nb::module_& m);
void bind_hypercube(nb::module_& m);
void bind_certify(nb::module_& m);
void bind_peak(nb::module_& m);
void bind_activation_rate(nb::module_& m);
void bind_linalg(nb::module_& m);
}  // namespace rs

#ifndef RELUSCOPE_CUDA_ARCHS
#define RELUSCOPE_CUDA_ARCHS ""
#endif
#ifndef RELUSCOPE_VARIANT
#define RELUSCOPE_VARIANT "cpu"
#endif

NB_MODULE(_core, m) {
  m.doc() = "reluscope compiled kernels (CPU with a thread pool, CUDA when built with nvcc)";
  rs::python_main_thread() =
      nb::cast<unsigned long>(nb::module_::import_("threading").attr("main_thread")().attr("ident"));
  m.def("build_info", [] {
    nb::dict d;
#if defined(RELUSCOPE_OPENMP_SIMD)
    d["openmp_simd"] = true;  // omp simd lane loops (the threads are parallel.h's own pool)
#else
    d["openmp_simd"] = false;
#endif
    d["cuda"] = rs::kWithCuda;
    d["variant"] = std::string(RELUSCOPE_VARIANT);  // "cpu" or "cu<CUDA major>" (CMakeLists.txt)
    d["cuda_archs"] = std::string(RELUSCOPE_CUDA_ARCHS);
    d["max_threads"] = rs::max_threads();
    d["cpu_isa"] = std::string(rs::cpu_isa_name(rs::cpu_isa()));
    d["compiler"] = std::string(__VERSION__);
    return d;
  });
  m.def("max_threads", &rs::max_threads, "Threads of the CPU pool (parallel.h).");
  m.def("cuda_probe",
        [](int device) {
#if defined(RELUSCOPE_WITH_CUDA)
          const rs::CudaProbe p = rs::cuda_probe(device);
          nb::dict d;
          d["driver_version"] = p.driver_version;
          d["runtime_version"] = p.runtime_version;
          d["device_name"] = p.device_name;
          d["compute_capability"] = p.compute_capability;
          d["kernel_ok"] = p.kernel_ok;
          return d;
#else
          (void)device;
          throw std::runtime_error("this reluscope build has no CUDA kernels");
#endif
        },
        nb::arg("device") = 0,
        "Driver and runtime versions, device, and whether a one-thread kernel ran (CUDA builds).");
  nb::class_<rs::GridStride>(m, "GridStride", "The geometry of a grid-stride CUDA launch.")
      .def_ro("blocks", &rs::GridStride::blocks)
      .def_ro("block", &rs::GridStride::block)
      .def_ro("stride", &rs::GridStride::stride);
  m.def("grid_stride", &rs::grid_stride, nb::arg("items"), nb::arg("workers"), nb::arg("block"),
        nb::arg("max_blocks") = rs::kMaxGridBlocks,
        "Blocks, threads per block and stride of a grid-stride launch (common/launch.h).");
  rs::bind_model(m);
  rs::bind_hessian(m);
  rs::bind_jacobian(m);
  rs::bind_regions(m);
  rs::bind_hypercube(m);
  rs::bind_certify(m);
  rs::bind_peak(m);
  rs::bind_activation_rate(m);
  rs::bind_linalg(m);
}
