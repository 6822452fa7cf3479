// Python bindings of the hypercube sweeps: the WeightKind enum, the limits and chunking plan, and
// the kernels (brute force, log-partition, meet in the middle). The Python layer
// (reluscope.hypercube._sweeps) builds the half-sum and weight tables and sums the partials.
#include <nanobind/stl/optional.h>

#include <cmath>
#include <cstdint>
#include <limits>

#include "common/ndarray.h"
#include "hypercube/hypercube.h"

namespace rs {

namespace {

// The weight family of a call as the tables the sweep reads (_core.WeightTables; converted to the
// kernels' HcWeights<T> by weights_of).
struct WeightTables {
  int32_t kind, n, c;
  double uniform, energy_shift, log_sum;
  OptArray lo, lo_lin, hi, J, h, table;

  void check_device(const Array& ref) const {
    check_same_device(ref, {&lo, &lo_lin, &hi, &J, &h, &table});
  }
};

template <typename T>
HcWeights<T> weights_of(const WeightTables& w) {
  RS_CHECK(w.n >= 1 && w.n <= 62, "hypercube dimension n=", w.n, " is out of range");
  RS_CHECK(w.c >= 0 && w.c <= kMaxChunkBits && w.c <= w.n - 1, "chunk bits c=", w.c,
           " out of range for n=", w.n);
  HcWeights<T> W;
  W.kind = w.kind;
  W.n = w.n;
  W.c = w.c;
  W.uniform = T(w.uniform);
  W.energy_shift = T(w.energy_shift);
  W.log_sum = T(w.log_sum);
  const int64_t nlo = int64_t(1) << w.c;
  switch (w.kind) {
    case kUniformW:
      break;
    case kProductW:
      RS_CHECK(w.lo && w.hi, "product weights need lo and hi tables");
      check_shape(*w.lo, "lo", {nlo});
      check_shape(*w.hi, "hi", {int64_t(1) << (w.n - w.c)});
      W.lo = data_as<T>(w.lo, "lo");
      W.hi = data_as<T>(w.hi, "hi");
      break;
    case kIsingW:
      RS_CHECK(w.lo && w.lo_lin && w.J && w.h, "Ising weights need lo, lo_lin, J and h");
      check_shape(*w.lo, "lo", {nlo});
      check_shape(*w.lo_lin, "lo_lin", {nlo});
      check_shape(*w.J, "J", {w.n, w.n});
      check_shape(*w.h, "h", {w.n});
      W.lo = data_as<T>(w.lo, "lo");
      W.lo_lin = data_as<T>(w.lo_lin, "lo_lin");
      W.J = data_as<T>(w.J, "J");
      W.h = data_as<T>(w.h, "h");
      break;
    case kTableW:
      RS_CHECK(w.table, "table weights need the table");
      check_shape(*w.table, "table", {int64_t(1) << w.n});
      W.table = data_as<T>(w.table, "table");
      break;
    default:
      RS_CHECK(false, "unknown weight kind ", w.kind);
  }
  return W;
}

template <typename T>
HcBruteArgs<T> brute_args(const WeightTables& wa, const Array& H, const Array& L) {
  HcBruteArgs<T> a;
  wa.check_device(H);
  a.W = weights_of<T>(wa);
  a.B = int64_t(H.shape(0));
  check_shape(H, "H", {a.B, (int64_t(1) << (wa.n - 1)) >> wa.c});
  check_shape(L, "L", {a.B, int64_t(1) << wa.c});
  a.H = data_as<T>(H, "H");
  a.L = data_as<T>(L, "L");
  return a;
}

void brute_f(const WeightTables& wa, const Array& H, const Array& L, const Array& tol, double tie,
             const Array& out, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(H, {&L, &tol, &out}, stream);
  RS_CHECK(H.ndim() == 2 && out.ndim() == 3, "H must be (B, chunks) and out (groups, B, n+1)");
  dispatch_float(H, [&](auto tag) {
    using T = decltype(tag);
    HcBruteArgs<T> a = brute_args<T>(wa, H, L);
    check_shape(tol, "tol", {a.B});
    a.groups = int64_t(out.shape(0));
    check_shape(out, "out", {a.groups, a.B, int64_t(wa.n) + 1});
    a.tol = data_as<T>(tol, "tol");
    a.tie = T(tie);
    a.out = data_as<double>(out, "out");
    on_device(ctx, [&] { hc_brute_f_cpu(a); }, [&](auto) { hc_brute_f_cuda(a, ctx); });
  });
}

void brute_delta(int32_t n, int32_t c, const Array& H, const Array& L, const Array& out_val,
                 const Array& out_idx, std::uintptr_t stream) {
  const DeviceContext ctx = context_of(H, {&L, &out_val, &out_idx}, stream);
  RS_CHECK(H.ndim() == 2 && out_val.ndim() == 2, "H must be (B, chunks), out_val (groups, B)");
  dispatch_float(H, [&](auto tag) {
    using T = decltype(tag);
    WeightTables wa{kUniformW, n, c, 0.0, 0.0};
    HcBruteArgs<T> a = brute_args<T>(wa, H, L);
    a.groups = int64_t(out_val.shape(0));
    check_shape(out_val, "out_val", {a.groups, a.B});
    check_shape(out_idx, "out_idx", {a.groups, a.B});
    a.out_val = data_as<T>(out_val, "out_val");
    a.out_idx = data_as<int64_t>(out_idx, "out_idx");
    on_device(ctx, [&] { hc_brute_delta_cpu(a); }, [&](auto) { hc_brute_delta_cuda(a, ctx); });
  });
}

void log_partition(const WeightTables& wa, const Array& out, std::uintptr_t stream) {
  RS_CHECK(wa.J.has_value(), "the log-partition sweep needs Ising weights");
  const DeviceContext ctx = context_of(*wa.J, {&out}, stream);
  wa.check_device(*wa.J);
  dispatch_float(*wa.J, [&](auto tag) {
    using T = decltype(tag);
    HcBruteArgs<T> a;
    a.W = weights_of<T>(wa);
    RS_CHECK(a.W.kind == kIsingW, "the log-partition sweep needs Ising weights");
    RS_CHECK(out.ndim() == 2, "out must be (groups, 2)");
    a.groups = int64_t(out.shape(0));
    check_shape(out, "out", {a.groups, 2});
    a.out = data_as<double>(out, "out");
    on_device(ctx, [&] { hc_log_partition_cpu(a); }, [&](auto) { hc_log_partition_cuda(a, ctx); });
  });
}

template <typename T>
HcMitmArgs<T> mitm_args(const Array& w, int32_t hA) {
  RS_CHECK(w.ndim() == 2, "w must be (B, n)");
  RS_CHECK(w.device_type() == nb::device::cpu::value,
           "the compiled meet-in-the-middle runs on CPU tensors");
  HcMitmArgs<T> a;
  a.B = int64_t(w.shape(0));
  a.n = int32_t(w.shape(1));
  a.hA = hA;
  RS_CHECK(hA >= 1 && a.n - hA >= 1 && hA <= 26 && a.n - hA <= 26, "bad split hA=", hA,
           " for n=", a.n, " (halves of 1 to 26 coordinates)");
  a.w = data_as<T>(w, "w");
  // The merges need every subset sum finite and not NaN (mitm_merge.h): each row's sum of |w_i|
  // at most half the largest T (reluscope.hypercube scales w to max |w_i| < 1 before).
  for (int64_t b = 0; b < a.B; ++b) {
    double total = 0;
    for (int32_t i = 0; i < a.n; ++i) total += std::abs(double(a.w[b * a.n + i]));
    RS_CHECK(total <= double(std::numeric_limits<T>::max()) / 2,
             "w must be finite with sum |w_i| at most half the largest value of its dtype; row ",
             b, " has ", total);
  }
  return a;
}

void mitm_f(const Array& w, const Array& q, int32_t hA, const Array& tol, double tie,
            const Array& out) {
  RS_CHECK(!context_of(w, {&q, &tol, &out}, 0).cuda,
           "the C++ meet in the middle runs on the CPU (reluscope.hypercube uses torch on CUDA)");
  dispatch_float(w, [&](auto tag) {
    using T = decltype(tag);
    HcMitmArgs<T> a = mitm_args<T>(w, hA);
    check_shape(q, "q", {a.n});
    check_shape(tol, "tol", {a.B});
    check_shape(out, "out", {a.B, int64_t(a.n) + 1});
    a.qA = data_as<T>(q, "q");
    a.tol = data_as<T>(tol, "tol");
    for (int64_t b = 0; b < a.B; ++b)
      RS_CHECK(a.tol[b] >= 0 && a.tol[b] <= std::numeric_limits<T>::max() / 4,
               "tol must be finite and >= 0; row ", b, " has ", double(a.tol[b]));
    a.tie = T(tie);
    a.out = data_as<double>(out, "out");
    run_released([&] { hc_mitm_f_cpu(a); });
  });
}

void mitm_delta(const Array& w, int32_t hA, const Array& out_val, const Array& out_idx) {
  RS_CHECK(!context_of(w, {&out_val, &out_idx}, 0).cuda,
           "the C++ meet in the middle runs on the CPU (reluscope.hypercube uses torch on CUDA)");
  dispatch_float(w, [&](auto tag) {
    using T = decltype(tag);
    HcMitmArgs<T> a = mitm_args<T>(w, hA);
    check_shape(out_val, "out_val", {a.B});
    check_shape(out_idx, "out_idx", {a.B});
    a.out_val = data_as<T>(out_val, "out_val");
    a.out_idx = data_as<int64_t>(out_idx, "out_idx");
    run_released([&] { hc_mitm_delta_cpu(a); });
  });
}

}  // namespace

void bind_hypercube(nb::module_& m) {
  nb::enum_<HypercubeWeightKind>(m, "WeightKind", nb::is_arithmetic(),
                                 "The weight families the sweeps read.")
      .value("uniform", kUniformW)
      .value("product", kProductW)
      .value("ising", kIsingW)
      .value("table", kTableW);
  nb::class_<HcLimits>(m, "HcLimits", "What the compiled sweeps handle on one device.")
      .def_ro("brute_max_n", &HcLimits::brute_max_n)
      .def_ro("brute_max_work", &HcLimits::brute_max_work)
      .def_ro("mitm_max_n", &HcLimits::mitm_max_n);
  m.def("hc_limits", &hc_limits, nb::arg("cuda"), "Limits of the compiled sweeps on a device.");
  m.def("hc_mitm_thread_bytes", &hc_mitm_thread_bytes, nb::arg("n"), nb::arg("f"),
        "Peak bytes one thread of the CPU meet in the middle holds at dimension n, for f (True) "
        "or delta (False).");
  nb::class_<HcBrutePlan>(m, "HcBrutePlan", "Chunking of one brute-force sweep.")
      .def_ro("chunk_bits", &HcBrutePlan::chunk_bits)
      .def_ro("groups", &HcBrutePlan::groups)
      .def_ro("batch", &HcBrutePlan::batch);
  m.def("hc_brute_plan", &hc_brute_plan, nb::arg("n"), nb::arg("B"), nb::arg("cuda"),
        nb::arg("values_per_w"),
        "Chunk bits, partial groups and w per call of a brute-force sweep over 2^n vertices.");
  nb::class_<WeightTables>(m, "WeightTables", "Weight-family tables for the hypercube sweeps.")
      .def(nb::new_([](int32_t kind, int32_t n, int32_t c, double uniform, double energy_shift,
                       double log_sum,
                       OptArray lo, OptArray lo_lin, OptArray hi, OptArray J, OptArray h,
                       OptArray table) {
             return WeightTables{kind, n, c, uniform, energy_shift, log_sum,
                                 lo, lo_lin, hi, J, h, table};
           }),
           nb::arg("kind"), nb::arg("n"), nb::arg("c"), nb::arg("uniform"),
           nb::arg("energy_shift"), nb::arg("log_sum"),
           nb::arg("lo").none(), nb::arg("lo_lin").none(), nb::arg("hi").none(),
           nb::arg("J").none(), nb::arg("h").none(), nb::arg("table").none());
  m.def("hc_brute_f", &brute_f, nb::arg("weights"), nb::arg("H"), nb::arg("L"), nb::arg("tol"),
        nb::arg("tie"), nb::arg("out"), nb::kw_only(), nb::arg("stream") = 0,
        "Brute-force partial sums out[g, b] = [f (n), mass] over chunk group g.");
  m.def("hc_brute_delta", &brute_delta, nb::arg("n"), nb::arg("c"), nb::arg("H"), nb::arg("L"),
        nb::arg("out_val"), nb::arg("out_idx"), nb::kw_only(), nb::arg("stream") = 0,
        "Brute-force min |<w,x>| per chunk group, with the minimising pair index.");
  m.def("hc_log_partition", &log_partition, nb::arg("weights"), nb::arg("out"), nb::kw_only(),
        nb::arg("stream") = 0,
        "Ising log-partition partials out[g] = (max energy m, sum exp(E - m)).");
  m.def("hc_mitm_f", &mitm_f, nb::arg("w"), nb::arg("q"), nb::arg("hA"),
        nb::arg("tol"), nb::arg("tie"), nb::arg("out"),
        "Meet-in-the-middle [f (n), mass] for product weights (CPU).");
  m.def("hc_mitm_delta", &mitm_delta, nb::arg("w"), nb::arg("hA"), nb::arg("out_val"),
        nb::arg("out_idx"), "Meet-in-the-middle min |<w,x>| with the minimising vertex (CPU).");
}

}  // namespace rs
