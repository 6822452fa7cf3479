// exp, tanh and log1p on [0, 1] for the CPU launchers, in a form the host compiler vectorises
// inside `omp simd` lane loops (libm's functions are opaque scalar calls there). exp: max error
// 1 ulp (checked against libm on 2e7 points over the whole range, subnormals included); tanh and
// log1p: 2.2 eps of torch in float64 (tests/test_forward.py). Needs -fno-trapping-math for the
// clamps and selects to if-convert. Device code keeps CUDA's math library (see math_fn.h).
#pragma once
#include <math.h>

#include <cstdint>
#include <cstring>

namespace rs {

template <typename To, typename From>
inline To bits_as(From x) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To y;
  std::memcpy(&y, &x, sizeof(To));
  return y;
}

// x = n ln2 + r with |r| <= ln2/2 (Cody-Waite split of ln2), e^r by
// its Taylor polynomial (degree 13 for double, 7 for float: truncation below half an ulp), times
// 2^n built in the exponent bits as 2^(n/2) 2^(n - n/2) so that overflow gives inf and the
// subnormal range is rounded correctly. NaN propagates; x is clamped only far outside the range.
inline double exp_host(double x) {
  const double shifter = 0x1.8p52;
  x = x < -746.0 ? -746.0 : x;
  x = x > 710.0 ? 710.0 : x;
  const double n = (x * 1.4426950408889634 + shifter) - shifter;
  double r = x - n * 6.93147180369123816490e-01;
  r = r - n * 1.90821492927058770002e-10;
  double p = 1.0 / 6227020800.0;
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  const double n1 = (n * 0.5 + shifter) - shifter, n2 = n - n1;
  const double s1 = bits_as<double>(bits_as<uint64_t>(n1 + (shifter + 1023.0)) << 52);
  const double s2 = bits_as<double>(bits_as<uint64_t>(n2 + (shifter + 1023.0)) << 52);
  return p * s1 * s2;
}

inline float exp_host(float x) {
  const float shifter = 0x1.8p23f;
  x = x < -104.0f ? -104.0f : x;
  x = x > 89.0f ? 89.0f : x;
  const float n = (x * 1.44269504f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const float n1 = (n * 0.5f + shifter) - shifter, n2 = n - n1;
  const float s1 = bits_as<float>(bits_as<uint32_t>(n1 + (shifter + 127.0f)) << 23);
  const float s2 = bits_as<float>(bits_as<uint32_t>(n2 + (shifter + 127.0f)) << 23);
  return p * s1 * s2;
}

// e^x - 1 for x <= 0 with a small relative error near 0: the Taylor polynomial where |x| < ln2/2
// (degree 13 for double, 7 for float: truncation below half an ulp), exp(x) - 1 elsewhere (at most
// ~3.5 ulp of cancellation there). Both are computed and one selected, so the lane loop vectorises.
inline double expm1_nonpositive(double x) {
  double p = 1.0 / 6227020800.0;
  p = p * x + 1.0 / 479001600.0;
  p = p * x + 1.0 / 39916800.0;
  p = p * x + 1.0 / 3628800.0;
  p = p * x + 1.0 / 362880.0;
  p = p * x + 1.0 / 40320.0;
  p = p * x + 1.0 / 5040.0;
  p = p * x + 1.0 / 720.0;
  p = p * x + 1.0 / 120.0;
  p = p * x + 1.0 / 24.0;
  p = p * x + 1.0 / 6.0;
  p = p * x + 0.5;
  p = p * x + 1.0;
  const double e = exp_host(x) - 1.0;
  return x > -0.34657359027997264 ? p * x : e;
}

inline float expm1_nonpositive(float x) {
  float p = 1.0f / 5040.0f;
  p = p * x + 1.0f / 720.0f;
  p = p * x + 1.0f / 120.0f;
  p = p * x + 1.0f / 24.0f;
  p = p * x + 1.0f / 6.0f;
  p = p * x + 0.5f;
  p = p * x + 1.0f;
  const float e = exp_host(x) - 1.0f;
  return x > -0.34657359f ? p * x : e;
}

// tanh z = sign(z) (1 - e^{-2|z|}) / (1 + e^{-2|z|}) = -sign(z) m / (2 + m), m = e^{-2|z|} - 1:
// no overflow, full relative accuracy near 0, +-1 for large |z|, NaN kept.
inline double tanh_host(double z) {
  const double m = expm1_nonpositive(-2.0 * fabs(z));
  return copysign(-m / (2.0 + m), z);
}

inline float tanh_host(float z) {
  const float m = expm1_nonpositive(-2.0f * fabsf(z));
  return copysignf(-m / (2.0f + m), z);
}

// log(1 + x) for x in [0, 1] (softplus's log1p(e^{-|z|})): 1 + x = 2^k m with k in {0, 1} and
// m in [1/sqrt2, sqrt2), log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.172, by its series
// (to s^23 for double, s^13 for float: truncation below half an ulp), plus the rounding error of
// 1 + x, (x - (u - 1)) / u, and k ln2 in two parts. Selects only, so the lane loop vectorises.
inline double log1p_unit(double x) {
  const double u = 1.0 + x;
  const bool high = u >= 1.4142135623730951;
  const double m = high ? 0.5 * u : u, k = high ? 1.0 : 0.0;
  const double s = (m - 1.0) / (m + 1.0), w = s * s;
  double p = 2.0 / 23;
  p = p * w + 2.0 / 21;
  p = p * w + 2.0 / 19;
  p = p * w + 2.0 / 17;
  p = p * w + 2.0 / 15;
  p = p * w + 2.0 / 13;
  p = p * w + 2.0 / 11;
  p = p * w + 2.0 / 9;
  p = p * w + 2.0 / 7;
  p = p * w + 2.0 / 5;
  p = p * w + 2.0 / 3;
  const double c = (x - (u - 1.0)) / u;
  return k * 6.93147180369123816490e-01 +
         (2.0 * s + (s * w * p + (k * 1.90821492927058770002e-10 + c)));
}

inline float log1p_unit(float x) {
  const float u = 1.0f + x;
  const bool high = u >= 1.41421356f;
  const float m = high ? 0.5f * u : u, k = high ? 1.0f : 0.0f;
  const float s = (m - 1.0f) / (m + 1.0f), w = s * s;
  float p = 2.0f / 13;
  p = p * w + 2.0f / 11;
  p = p * w + 2.0f / 9;
  p = p * w + 2.0f / 7;
  p = p * w + 2.0f / 5;
  p = p * w + 2.0f / 3;
  const float c = (x - (u - 1.0f)) / u;
  return k * 0.693359375f + (2.0f * s + (s * w * p + (k * -2.12194440e-4f + c)));
}

}  // namespace rs
