// Binding-side tensor access. Tensors arrive zero-copy through DLPack as untyped nb::ndarray<>:
// with no dtype/layout constraint nanobind never converts or copies, so a wrong dtype or layout is
// an error here instead of a silent copy. The Python layer has already validated and made inputs
// contiguous; these checks are the cheap second line of defence.
#pragma once
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>

#include <dlfcn.h>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <utility>

#include "common/device.h"
#include "common/error.h"
#include "common/parallel.h"

namespace rs {

namespace nb = nanobind;
using Array = nb::ndarray<>;
using OptArray = std::optional<Array>;

inline bool is_cuda(const Array& a) { return a.device_type() == nb::device::cuda::value; }

inline void check_contiguous(const Array& a, const char* name) {
  if (a.size() == 0) return;  // empty tensors carry arbitrary strides
  int64_t expected = 1;
  for (int d = static_cast<int>(a.ndim()) - 1; d >= 0; --d) {
    if (a.shape(d) != 1)
      RS_CHECK(a.stride(d) == expected, name, " must be C-contiguous");
    expected *= static_cast<int64_t>(a.shape(d));
  }
}

inline void check_shape(const Array& a, const char* name, std::initializer_list<int64_t> shape) {
  RS_CHECK(a.ndim() == shape.size(), name, " has ", a.ndim(), " dimensions, expected ",
           shape.size());
  size_t d = 0;
  for (int64_t s : shape) {
    RS_CHECK(static_cast<int64_t>(a.shape(d)) == s, name, " has size ", a.shape(d),
             " in dimension ", d, ", expected ", s);
    ++d;
  }
}

// Every array of a call must be on the device of `ref`.
inline void check_same_device(const Array& ref, const Array& other) {
  RS_CHECK(other.device_type() == ref.device_type() && other.device_id() == ref.device_id(),
           "all tensors of a call must be on the same device");
}

inline void check_same_device(const Array& ref, std::initializer_list<const OptArray*> optional) {
  for (const OptArray* o : optional) {
    if (o->has_value()) check_same_device(ref, **o);
  }
}

// The device context of a call: every array must be on the device of `ref`.
inline DeviceContext context_of(const Array& ref, std::initializer_list<const Array*> others,
                                std::uintptr_t stream) {
  RS_CHECK(ref.device_type() == nb::device::cpu::value || is_cuda(ref),
           "reluscope kernels take CPU or CUDA tensors");
  for (const Array* o : others) check_same_device(ref, *o);
  return DeviceContext{is_cuda(ref), static_cast<int>(ref.device_id()), stream};
}

template <typename T>
T* data_as(const Array& a, const char* name) {
  RS_CHECK(a.dtype() == nb::dtype<T>(), name, " has the wrong dtype for this call");
  check_contiguous(a, name);
  return static_cast<T*>(a.data());
}

template <typename T>
T* data_as(const OptArray& a, const char* name) {
  return a ? data_as<T>(*a, name) : nullptr;
}

// Calls f(T{}) with T = float or double according to the dtype of `a`.
template <typename F>
decltype(auto) dispatch_float(const Array& a, F&& f) {
  if (a.dtype() == nb::dtype<float>()) return f(float{});
  if (a.dtype() == nb::dtype<double>()) return f(double{});
  throw std::invalid_argument("reluscope kernels take float32 or float64 tensors");
}

// Python's main thread (threading.main_thread().ident, set when the extension is imported):
// Python runs signal handlers there only, so only calls made there poll for Ctrl-C.
inline unsigned long& python_main_thread() {
  static unsigned long ident = 0;
  return ident;
}

// Whether the interpreter is finalizing. Py_IsFinalizing is public from Python 3.13; 3.12 has
// only _Py_IsFinalizing, which the limited API (the abi3 build for 3.12+) leaves out, so that
// build looks the function up by name once: one module then serves 3.12 and later.
inline bool python_finalizing() {
#if !defined(Py_LIMITED_API)
#if PY_VERSION_HEX >= 0x030D0000
  return Py_IsFinalizing();
#else
  return _Py_IsFinalizing();
#endif
#else
  using Fn = int (*)();
  static const Fn fn = [] {
    void* f = dlsym(RTLD_DEFAULT, "Py_IsFinalizing");
    return reinterpret_cast<Fn>(f ? f : dlsym(RTLD_DEFAULT, "_Py_IsFinalizing"));
  }();
  return fn && fn();  // (every CPython >= 3.12 exports one of the two)
#endif
}

// Asks Python, under the GIL, whether a signal handler raised (Ctrl-C: KeyboardInterrupt). Never
// takes the GIL while the interpreter is finalizing (a daemon thread would be ended inside it).
inline bool python_signal_pending(void*) {
  if (python_finalizing()) return false;
  nb::gil_scoped_acquire gil;
  return PyErr_CheckSignals() != 0;
}

// Runs launch() with the GIL released (other Python threads run meanwhile) under a StopToken
// that, on Python's main thread, asks Python for pending signals: Ctrl-C stops a long CPU kernel
// between pieces of work (parallel.h) and raises KeyboardInterrupt here; the outputs are then
// incomplete, and the exception says so to the caller, who never sees them. C++ exceptions
// (bad_alloc included) propagate as Python exceptions.
template <typename F>
void run_released(F&& launch) {
  const bool main_thread = PyThread_get_thread_ident() == python_main_thread();
  StopToken token(main_thread ? &python_signal_pending : nullptr, nullptr);
  try {
    StopScope scope(&token);
    nb::gil_scoped_release release;
    launch();
  } catch (...) {
    if (token.stopped()) throw nb::python_error();
    throw;
  }
  if (token.stopped()) throw nb::python_error();
}

// Runs cpu() or cuda() by the context's device, with the GIL released. cuda must be a generic
// lambda ([&](auto) {...}) so that, in a build without CUDA, its body (which names CUDA
// launchers) is never instantiated.
template <typename Cpu, typename Cuda>
void on_device(const DeviceContext& ctx, Cpu&& cpu, Cuda&& cuda) {
  if (!ctx.cuda) {
    run_released(cpu);
  } else if constexpr (kWithCuda) {
    run_released([&] { cuda(0); });
  } else {
    throw std::runtime_error(
        "this reluscope build has no CUDA kernels (nvcc was not found when it was built); "
        "reinstall with nvcc on PATH, or use CPU tensors");
  }
}

}  // namespace rs
