// exp, sigmoid, tanh, log1p on [0, 1] and erf for the CPU launchers, in a form the host compiler
// vectorises inside `omp simd` lane loops (libm's functions are opaque scalar calls there). exp:
// max error 1.15 ulp (checked against a long double reference on 2e7 points over the whole
// range, subnormals included); sigmoid 2.4 ulp; tanh, log1p, erf: 2.2, 2.2, 1.1 eps of torch in
// float64 (tests/test_forward.py). Needs -fno-trapping-math for the clamps and selects to
// if-convert. Each is one template on its value type (common/value.h): float and double in the
// lane loops, or a host vector of them (host_vec.h) lane by lane with the same arithmetic; erf is
// scalar only. Device code keeps CUDA's math library (see math_fn.h).
#pragma once
#include <math.h>

#include <cstdint>

#include "common/value.h"
#if !defined(__CUDACC__)
#include "common/host_vec.h"
#endif

// Fully unrolls a short fixed-count loop (the polynomial and series loops below), so the lane
// loops calling these functions stay straight-line code and vectorise.
// RS_NO_UNROLL keeps a loop over a small run-time count rolled: no peeled copy of its body per
// possible count (small_net_tile.h), so the code stays compact.
#if defined(__clang__) && !defined(__CUDACC__)
#define RS_UNROLL_FULLY _Pragma("unroll")
#define RS_NO_UNROLL _Pragma("nounroll")
#elif defined(__GNUC__) && !defined(__CUDACC__)
#define RS_UNROLL_FULLY _Pragma("GCC unroll 64")
#define RS_NO_UNROLL _Pragma("GCC unroll 1")
#else
#define RS_UNROLL_FULLY
#define RS_NO_UNROLL
#endif

namespace rs {

// (e^r - 1) / r by its Taylor polynomial for |r| <= ln2/2: sum_{k=1..13} r^(k-1) / k! for double,
// to k = 7 for float (truncation below half an ulp). Shared by the exp functions below.
template <typename V>
inline V exp_taylor(V r) {
  using S = scalar_of<V>;
  if constexpr (sizeof(S) == 8) {
    V p = 1.0 / 6227020800.0 - V{};
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
    return p;
  } else {
    V p = 1.0f / 5040.0f - V{};
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    return p;
  }
}

// Constants of the exp functions per type: the rounding shifter (1.5 * 2^mantissa bits), log2(e),
// ln2 in two parts (Cody-Waite), the exponent bias and the clamps described below.
template <typename T>
struct ExpConst;
template <>
struct ExpConst<double> {
  static constexpr int kMantissa = 52;
  static constexpr double kShifter = 0x1.8p52, kLog2e = 1.4426950408889634, kBias = 1023.0;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  static constexpr double kMin = -746.0, kMax = 710.0, kFlush = -709.0;
};
template <>
struct ExpConst<float> {
  static constexpr int kMantissa = 23;
  static constexpr float kShifter = 0x1.8p23f, kLog2e = 1.44269504f, kBias = 127.0f;
  static constexpr float kLn2Hi = 0.693359375f, kLn2Lo = -2.12194440e-4f;
  static constexpr float kMin = -104.0f, kMax = 89.0f, kFlush = -88.0f;
};

// x = n ln2 + r with |r| <= ln2/2: returns e^r = 1 + r exp_taylor(r) and the integer n (as T).
template <typename V>
inline V exp_reduced(V x, V& n) {
  using C = ExpConst<scalar_of<V>>;
  n = (x * C::kLog2e + C::kShifter) - C::kShifter;
  V r = x - n * C::kLn2Hi;
  r = r - n * C::kLn2Lo;
  return exp_taylor(r) * r + scalar_of<V>(1);
}

// 2^n built in the exponent bits, for an integer n with n + bias in [0, 2 bias + 1] (0 -> 0.0,
// 2 bias + 1 -> inf).
template <typename V>
inline V pow2_bits(V n) {
  using C = ExpConst<scalar_of<V>>;
  using Bits = typename ValueTraits<V>::Bits;
  return bits_as<V>(bits_as<Bits>(n + (C::kShifter + C::kBias)) << C::kMantissa);
}

// e^x: 2^n as 2^(n/2) 2^(n - n/2) so that overflow gives inf and the subnormal range is rounded
// correctly. NaN propagates; x is clamped only far outside the range.
template <typename V>
inline V exp_host(V x) {
  using C = ExpConst<scalar_of<V>>;
  x = select_(x < C::kMin, C::kMin, x);
  x = select_(x > C::kMax, C::kMax, x);
  V n;
  const V p = exp_reduced(x, n);
  const V n1 = (n * scalar_of<V>(0.5) + C::kShifter) - C::kShifter;
  return p * pow2_bits(n1) * pow2_bits(n - n1);
}

// e^x for x <= 0 (NaN kept), for the activations' e^{-|z|} and e^{-z^2}: exp_host without its
// overflow and subnormal handling, so one scale multiply instead of two. For x < -708.7 (double),
// -87.7 (float) the result, below the smallest normal number, flushes to 0 (x is clamped where
// 2^n's exponent field reaches 0); 1.15 ulp like exp_host elsewhere.
template <typename V>
inline V exp_nonpositive(V x) {
  using C = ExpConst<scalar_of<V>>;
  x = select_(x < C::kFlush, C::kFlush, x);
  V n;
  const V p = exp_reduced(x, n);
  return p * pow2_bits(n);
}

// e^x - 1 for x <= 0 with a small relative error near 0: x exp_taylor(x) where |x| < ln2/2,
// exp(x) - 1 elsewhere (at most ~3.5 ulp of cancellation there). Both are computed and one
// selected, so the lane loop vectorises.
template <typename V>
inline V expm1_nonpositive(V x) {
  using S = scalar_of<V>;
  const V e = exp_nonpositive(x) - S(1);
  return select_(x > S(-0.34657359027997264), exp_taylor(x) * x, e);
}

// sigmoid z = 1 / (1 + u) for z >= 0, u / (1 + u) for z < 0, u = e^{-|z|} in [0, 1]: no
// overflow, full relative accuracy for z < 0 down to z = -708.7 (-87.7 float; 0 below, where
// e^z is subnormal), NaN kept.
template <typename V>
inline V sigmoid_host(V z) {
  using S = scalar_of<V>;
  const V u = exp_nonpositive(select_(z < S(0), z, -z));
  return select_(z < S(0), u, S(1)) / (S(1) + u);
}

// tanh z = sign(z) (1 - e^{-2|z|}) / (1 + e^{-2|z|}) = -sign(z) m / (2 + m), m = e^{-2|z|} - 1:
// no overflow, full relative accuracy near 0, +-1 for large |z|, NaN kept.
template <typename V>
inline V tanh_host(V z) {
  using S = scalar_of<V>;
  const V m = expm1_nonpositive(S(-2) * abs_bits(z));
  return copysign_bits(-m / (S(2) + m), z);
}

// log(1 + x) for x in [0, 1] (softplus's log1p(e^{-|z|})): 1 + x = 2^k m with k in {0, 1} and
// m in [1/sqrt2, sqrt2), log m = 2 atanh(s), s = (m - 1)/(m + 1), |s| <= 0.172, by its series
// (to s^23 for double, s^13 for float: truncation below half an ulp), plus the rounding error of
// 1 + x, (x - (u - 1)) / u, and k ln2 in two parts. Selects only, so the lane loop vectorises.
template <typename V>
inline V log1p_unit(V x) {
  using S = scalar_of<V>;
  const V u = S(1) + x;
  const auto high = u >= S(1.4142135623730951);
  const V m = select_(high, S(0.5) * u, u), k = select_(high, S(1), S(0));
  const V s = (m - S(1)) / (m + S(1)), w = s * s;
  const V c = (x - (u - S(1))) / u;
  if constexpr (sizeof(S) == 8) {
    V p = 2.0 / 23 - V{};
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
    return k * 6.93147180369123816490e-01 +
           (2.0 * s + (s * w * p + (k * 1.90821492927058770002e-10 + c)));
  } else {
    V p = 2.0f / 13 - V{};
    p = p * w + 2.0f / 11;
    p = p * w + 2.0f / 9;
    p = p * w + 2.0f / 7;
    p = p * w + 2.0f / 5;
    p = p * w + 2.0f / 3;
    return k * 0.693359375f + (2.0f * s + (s * w * p + (k * -2.12194440e-4f + c)));
  }
}

// erf: for |x| < 1 its Taylor series, 2/sqrt(pi) x sum_n (-1)^n x^2n / (n! (2n + 1)) to n = 18;
// elsewhere 1 - e^{-x^2} erfcx(x), erfcx(x) = e^{x^2} erfc(x) by its 32-term Chebyshev series on
// [1, 6] (coefficients from mpmath at 50 digits, last one 2e-19), x clamped to 6 where erfc is
// below half an ulp of 1. Both are computed and one selected; float goes through double.
inline double erf_host(double z) {
  static constexpr double kTaylor[19] = {
      1.1283791670955126, -0.37612638903183754, 0.11283791670955126,
      -0.026866170645131252, 0.005223977625442188, -0.0008548327023450853,
      0.00012055332981789664, -1.492565035840625e-05, 1.6462114365889248e-06,
      -1.6365844691234924e-07, 1.4807192815879218e-08, -1.2290555301717928e-09,
      9.422759064650411e-11, -6.7113668551641105e-12, 4.4632242632864775e-13,
      -2.7835162072109215e-14, 1.6342614095367152e-15, -9.063970842808673e-17,
      4.763348040515068e-18};
  static constexpr double kCheb[32] = {
      0.20196598791223083, -0.147884835533987, 0.05188222158351389,
      -0.017525709964867527, 0.005721802417478219, -0.0018109803028142997,
      0.0005570714353927344, -0.00016689473052528832, 4.878565911493746e-05,
      -1.3935932859822488e-05, 3.895514595190115e-06, -1.0668392337070025e-06,
      2.865502572057316e-07, -7.555861081756622e-08, 1.957586342968354e-08,
      -4.987110132992565e-09, 1.2501871239431183e-09, -3.0858852312872416e-10,
      7.504484747602075e-11, -1.7990193064432053e-11, 4.25347830122088e-12,
      -9.923156075376513e-13, 2.2852946890278995e-13, -5.197545128836675e-14,
      1.1678402647153693e-14, -2.593300539021835e-15, 5.693144720241118e-16,
      -1.2360007302423982e-16, 2.6544869005077028e-17, -5.640681129952213e-18,
      1.1844300480292472e-18, -2.3667594400043434e-19};
  const double x = fabs(z), w = x * x;
  double p = kTaylor[18];
  RS_UNROLL_FULLY
  for (int n = 17; n >= 0; --n) p = p * w + kTaylor[n];
  const double xc = x > 6.0 ? 6.0 : x;  // NaN stays NaN
  const double t = (2.0 * xc - 7.0) / 5.0, t2 = 2.0 * t;
  double b1 = 0.0, b2 = 0.0;
  RS_UNROLL_FULLY
  for (int j = 31; j >= 1; --j) {
    const double b0 = t2 * b1 - b2 + kCheb[j];
    b2 = b1;
    b1 = b0;
  }
  const double erfcx = t * b1 - b2 + kCheb[0];
  const double r = x < 1.0 ? x * p : 1.0 - exp_nonpositive(-xc * xc) * erfcx;
  return copysign(r, z);
}

inline float erf_host(float z) { return float(erf_host(double(z))); }

}  // namespace rs
