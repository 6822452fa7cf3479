// Overloads of the elementary functions for float and double, callable on host and device (std::
// overloads are not callable from device code): libm on the host, CUDA's math library on the
// device, except exp, sigmoid, tanh, log1p on [0, 1] and erf, which on the host are the
// vectorisable exp_host and exp_nonpositive (1.15 ulp), sigmoid_host, tanh_host, log1p_unit and
// erf_host (math_host.h); on the host also for 64- and 32-byte vectors (host_vec.h).
#pragma once
#include <math.h>

#include "common/math_host.h"
#include "common/hostdevice.h"

namespace rs {

#if defined(__CUDA_ARCH__)
RS_HD float exp_(float x) { return expf(x); }
RS_HD double exp_(double x) { return exp(x); }
RS_HD float exp_nonpositive_(float x) { return expf(x); }
RS_HD double exp_nonpositive_(double x) { return exp(x); }
RS_HD float sigmoid_(float x) { return 1.0f / (1.0f + expf(-x)); }
RS_HD double sigmoid_(double x) { return 1.0 / (1.0 + exp(-x)); }
RS_HD float tanh_(float x) { return tanhf(x); }
RS_HD double tanh_(double x) { return tanh(x); }
RS_HD float log1p_unit_(float x) { return log1pf(x); }
RS_HD double log1p_unit_(double x) { return log1p(x); }
RS_HD float erf_(float x) { return erff(x); }
RS_HD double erf_(double x) { return erf(x); }
#else
RS_HD float exp_(float x) { return exp_host(x); }
RS_HD double exp_(double x) { return exp_host(x); }
RS_HD float exp_nonpositive_(float x) { return exp_nonpositive(x); }  // x <= 0
RS_HD double exp_nonpositive_(double x) { return exp_nonpositive(x); }
RS_HD float sigmoid_(float x) { return sigmoid_host(x); }
RS_HD double sigmoid_(double x) { return sigmoid_host(x); }
RS_HD float tanh_(float x) { return tanh_host(x); }
RS_HD double tanh_(double x) { return tanh_host(x); }
RS_HD float log1p_unit_(float x) { return log1p_unit(x); }  // x in [0, 1]
RS_HD double log1p_unit_(double x) { return log1p_unit(x); }
RS_HD float erf_(float x) { return erf_host(x); }
RS_HD double erf_(double x) { return erf_host(x); }
#endif
RS_HD float log_(float x) { return logf(x); }
RS_HD double log_(double x) { return log(x); }
RS_HD float sqrt_(float x) { return sqrtf(x); }
RS_HD double sqrt_(double x) { return sqrt(x); }
RS_HD float abs_(float x) { return fabsf(x); }
RS_HD double abs_(double x) { return fabs(x); }

#if !defined(__CUDACC__)
// The same functions on a host vector's lanes (host_vec.h), for the per-element maths' vector
// value type; erf lane by lane through the scalar one.
template <typename V, typename = std::enable_if_t<is_host_vec<V>>>
inline V exp_nonpositive_(V x) { return exp_nonpositive(x); }
template <typename V, typename = std::enable_if_t<is_host_vec<V>>>
inline V sigmoid_(V x) { return sigmoid_host(x); }
template <typename V, typename = std::enable_if_t<is_host_vec<V>>>
inline V tanh_(V x) { return tanh_host(x); }
template <typename V, typename = std::enable_if_t<is_host_vec<V>>>
inline V log1p_unit_(V x) { return log1p_unit(x); }
template <typename V, typename = std::enable_if_t<is_host_vec<V>>>
inline V abs_(V x) { return abs_bits(x); }
template <typename V, typename = std::enable_if_t<is_host_vec<V>>>
inline V erf_(V x) {
  for (int i = 0; i < int(sizeof(V) / sizeof(x[0])); ++i) x[i] = erf_host(x[i]);
  return x;
}
#endif

}  // namespace rs
