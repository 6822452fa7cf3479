// The CPU's floating-point peak for the benchmark's roofline (reluscope bench): every pool thread
// runs kChains independent multiply-add chains on vectors as wide as the ISA the kernels run
// (common/cpu_isa.h: 64 bytes for AVX-512, 32 for AVX2 + FMA, 16 for the baseline, where a * m + b
// is a multiply and an add). Time O(threads x iters x kChains); memory O(1).
#include <nanobind/nanobind.h>
#include <nanobind/stl/pair.h>

#include <cstdint>
#include <vector>

#include "common/cpu_isa.h"
#include "common/error.h"
#include "common/parallel.h"
#include "common/thread_timing.h"

namespace nb = nanobind;

namespace rs {
namespace {

constexpr int kChains = 12;  // independent chains: enough to hide two FMA pipes' latency

template <typename T, int Bytes>
struct VecOf {
  typedef T type __attribute__((vector_size(Bytes)));
};

template <typename T, int Bytes>
T chains(int64_t iters) {
  using V = typename VecOf<T, Bytes>::type;
  constexpr int W = Bytes / int(sizeof(T));
  V acc[kChains];
  for (int c = 0; c < kChains; ++c)
    for (int i = 0; i < W; ++i) acc[c][i] = T(1) + T(c + i) * T(1e-3);
  const V m = V{} + T(0.999999), a = V{} + T(1e-6);
  for (int64_t it = 0; it < iters; ++it)
    for (int c = 0; c < kChains; ++c) acc[c] = acc[c] * m + a;  // one FMA where the ISA has it
  T s = 0;
  for (int c = 0; c < kChains; ++c)
    for (int i = 0; i < W; ++i) s += acc[c][i];
  return s;
}

template <typename T>
std::pair<double, double> cpu_peak_t(int64_t iters) {
  const CpuIsa isa = cpu_isa();
  const int bytes = isa == CpuIsa::kAvx512 ? 64 : isa == CpuIsa::kAvx2 ? 32 : 16;
  const int threads = max_threads();
  std::vector<T> sink(size_t(threads), T(0));
  const double s = seconds_on_every_thread([&](int t) {
    call_for_isa(isa, [&] {
      sink[size_t(t)] = bytes == 64   ? chains<T, 64>(iters)
                        : bytes == 32 ? chains<T, 32>(iters)
                                      : chains<T, 16>(iters);
    });
  });
  RS_CHECK(sink[0] == sink[0], "the peak benchmark's chains went NaN");
  const double flops =
      2.0 * double(threads) * double(iters) * kChains * double(bytes / int(sizeof(T)));
  return {flops, s};
}

}  // namespace

void bind_peak(nb::module_& m) {
  m.def(
      "cpu_peak",
      [](int elem_size, int64_t iters) {
        RS_CHECK(elem_size == 4 || elem_size == 8, "elem_size must be 4 or 8");
        RS_CHECK(iters > 0, "iters must be positive");
        nb::gil_scoped_release release;
        return elem_size == 8 ? cpu_peak_t<double>(iters) : cpu_peak_t<float>(iters);
      },
      nb::arg("elem_size"), nb::arg("iters"),
      "(flops, seconds) of the multiply-add peak benchmark on every pool thread, in the vector "
      "ISA the kernels use (common/peak_cpu.cpp).");
}

}  // namespace rs
