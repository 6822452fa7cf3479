// Interval arithmetic over double with outward rounding, for both launchers (RS_HD), without
// touching the FPU rounding mode. An Interval [lo, hi] encloses a real number; every operation
// returns an interval that contains every exact real result for operands in its arguments.
//
// Rounding. On the host each operation is computed in round-to-nearest and its lower end moved one
// ulp down, its upper end one ulp up (next_down / next_up): the exact result x of one IEEE
// operation lies between the neighbours of its round-to-nearest value r (a double between x and r
// would be nearer to x than r), overflow included (r = inf only when x > DBL_MAX, so next_down(inf)
// = DBL_MAX is below x). This assumes IEEE binary64 with gradual underflow (no flush-to-zero) and
// that each a + b, a * b, a / b is rounded once: every intermediate result goes through next_down /
// next_up before it meets another operation, so no a * b + c can be contracted into an FMA; the
// CPU launcher is compiled with -ffp-contract=off all the same. On CUDA the directed-rounding
// intrinsics (__dadd_rd, __dmul_ru, ...) round exactly.
// Elementary functions: libm (glibc on the host, CUDA's math library on the device) at the end
// points of monotone pieces, widened by kLibmUlps = 4 ulps each way. The documented maximum
// errors are <= 2 ulps: glibc's manual ("Known Maximum Errors in Math Functions", x86_64) gives
// exp 1, log 1, log1p 1, tanh 2, erf 1; the CUDA C Programming Guide's table of double-precision
// functions gives exp 1, log 1, log1p 1, tanh 1, erf 2. Four steps cover 2 ulps of the exact value
// also where the result's binade changes (the steps below a power of two are half as large).
// Non-finite values: an infinite end means "unbounded" (still an enclosure); NaN (inf - inf,
// 0 * inf, log of a negative, a divisor containing 0) propagates through every operation here,
// min / max included, so it reaches the caller's outputs, which are then flagged NONFINITE.
#pragma once
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "common/hostdevice.h"
#include "model/activation.h"

namespace rs {

struct Interval {
  double lo, hi;
};

RS_HD Interval point(double x) { return {x, x}; }

// ---- the neighbours of a double (NaN stays NaN; next_down(-inf) = -inf, next_up(inf) = inf)
RS_HD int64_t bits_of(double x) {
#if defined(__CUDA_ARCH__)
  return __double_as_longlong(x);
#else
  int64_t b;
  memcpy(&b, &x, sizeof b);
  return b;
#endif
}

RS_HD double from_bits(int64_t b) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(b);
#else
  double x;
  memcpy(&x, &b, sizeof x);
  return x;
#endif
}

RS_HD double next_down(double x) {
  if (!(x > -INFINITY)) return x;                     // NaN, -inf
  if (x == 0.0) return -4.9406564584124654e-324;      // -denorm_min, from +0 and -0
  const int64_t b = bits_of(x);
  return from_bits(x > 0.0 ? b - 1 : b + 1);          // +inf -> DBL_MAX
}

RS_HD double next_up(double x) { return -next_down(-x); }

// NaN-propagating min and max (fmin / fmax drop a NaN; a silent drop would hide an overflow).
RS_HD double min_nan(double a, double b) { return (a < b || a != a) ? a : b; }
RS_HD double max_nan(double a, double b) { return (a > b || a != a) ? a : b; }

// ---- directed rounding of one operation
#if defined(__CUDA_ARCH__)
RS_HD double add_dn(double a, double b) { return __dadd_rd(a, b); }
RS_HD double add_up(double a, double b) { return __dadd_ru(a, b); }
RS_HD double mul_dn(double a, double b) { return __dmul_rd(a, b); }
RS_HD double mul_up(double a, double b) { return __dmul_ru(a, b); }
RS_HD double div_dn(double a, double b) { return __ddiv_rd(a, b); }
RS_HD double div_up(double a, double b) { return __ddiv_ru(a, b); }
#else
RS_HD double add_dn(double a, double b) { return next_down(a + b); }
RS_HD double add_up(double a, double b) { return next_up(a + b); }
RS_HD double mul_dn(double a, double b) { return next_down(a * b); }
RS_HD double mul_up(double a, double b) { return next_up(a * b); }
RS_HD double div_dn(double a, double b) { return next_down(a / b); }
RS_HD double div_up(double a, double b) { return next_up(a / b); }
#endif

// ---- arithmetic
RS_HD Interval operator+(Interval a, Interval b) {
  return {add_dn(a.lo, b.lo), add_up(a.hi, b.hi)};
}
RS_HD Interval operator-(Interval a) { return {-a.hi, -a.lo}; }
RS_HD Interval operator-(Interval a, Interval b) {
  return {add_dn(a.lo, -b.hi), add_up(a.hi, -b.lo)};
}
RS_HD Interval& operator+=(Interval& a, Interval b) { return a = a + b; }

RS_HD bool is_zero(Interval a) { return a.lo == 0.0 && a.hi == 0.0; }

// x a, x a point: the two end-point products (x > 0 keeps the order); a factor 0 gives [0, 0]
// exactly when the other is finite (so the structural zeros of the R-passes stay exact); NaN at
// both ends when an end product is NaN (0 inf, a NaN). The same bits as the four-product hull.
RS_HD Interval scale(Interval a, double x) {
  if ((x == 0.0 || is_zero(a)) && isfinite(x) && isfinite(a.lo) && isfinite(a.hi))
    return {0.0, 0.0};
  const double l = mul_dn(x < 0.0 ? a.hi : a.lo, x), h = mul_up(x < 0.0 ? a.lo : a.hi, x);
  if ((l != l) | (h != h)) return {NAN, NAN};
  return {l, h};
}

// a b: the hull of the four end-point products, or scale when a factor is a point.
RS_HD Interval operator*(Interval a, Interval b) {
  if (b.lo == b.hi) return scale(a, b.lo);
  if (a.lo == a.hi) return scale(b, a.lo);
#if defined(__CUDA_ARCH__)
  return {min_nan(min_nan(mul_dn(a.lo, b.lo), mul_dn(a.lo, b.hi)),
                  min_nan(mul_dn(a.hi, b.lo), mul_dn(a.hi, b.hi))),
          max_nan(max_nan(mul_up(a.lo, b.lo), mul_up(a.lo, b.hi)),
                  max_nan(mul_up(a.hi, b.lo), mul_up(a.hi, b.hi)))};
#else  // next_down is monotone: round the extreme round-to-nearest products once; a NaN product
       // (a NaN end, 0 inf) is caught once rather than by every min / max
  const double p1 = a.lo * b.lo, p2 = a.lo * b.hi, p3 = a.hi * b.lo, p4 = a.hi * b.hi;
  if ((p1 != p1) | (p2 != p2) | (p3 != p3) | (p4 != p4)) return {NAN, NAN};
  const auto lt = [](double u, double v) { return u < v ? u : v; };
  const auto gt = [](double u, double v) { return u > v ? u : v; };
  return {next_down(lt(lt(p1, p2), lt(p3, p4))), next_up(gt(gt(p1, p2), gt(p3, p4)))};
#endif
}
RS_HD Interval& operator*=(Interval& a, Interval b) { return a = a * b; }

// a / b for b not containing 0 (else NaN: the caller's outputs are flagged NONFINITE).
RS_HD Interval operator/(Interval a, Interval b) {
  if (!(b.lo > 0.0 || b.hi < 0.0)) return {NAN, NAN};
  return {min_nan(min_nan(div_dn(a.lo, b.lo), div_dn(a.lo, b.hi)),
                  min_nan(div_dn(a.hi, b.lo), div_dn(a.hi, b.hi))),
          max_nan(max_nan(div_up(a.lo, b.lo), div_up(a.lo, b.hi)),
                  max_nan(div_up(a.hi, b.lo), div_up(a.hi, b.hi)))};
}

// x^2 (tighter than x * x, which forgets that both factors are the same number).
RS_HD Interval sqr(Interval a) {
  if (a.lo >= 0.0) return {max_nan(mul_dn(a.lo, a.lo), 0.0), mul_up(a.hi, a.hi)};
  if (a.hi <= 0.0) return {max_nan(mul_dn(a.hi, a.hi), 0.0), mul_up(a.lo, a.lo)};
  if (a.lo != a.lo || a.hi != a.hi) return {NAN, NAN};
  return {0.0, max_nan(mul_up(a.lo, a.lo), mul_up(a.hi, a.hi))};
}

RS_HD Interval hull(Interval a, Interval b) {
  return {min_nan(a.lo, b.lo), max_nan(a.hi, b.hi)};
}

// a intersected with [lo, hi], a range the exact value is known to lie in (NaN stays NaN).
RS_HD Interval clamp(Interval a, double lo, double hi) {
  return {min_nan(max_nan(a.lo, lo), hi), max_nan(min_nan(a.hi, hi), lo)};
}

// ---- elementary functions (monotone increasing: libm at the ends, widened)
inline constexpr int kLibmUlps = 4;

RS_HD double down_ulps(double x) {
  for (int i = 0; i < kLibmUlps; ++i) x = next_down(x);
  return x;
}
RS_HD double up_ulps(double x) {
  for (int i = 0; i < kLibmUlps; ++i) x = next_up(x);
  return x;
}

// f (libm, monotone increasing) at the ends of a, widened by kLibmUlps; once at a point (the
// point passes of radius 0 and grad_at_centre).
template <typename F>
RS_HD Interval libm_ends(F f, Interval a) {
  const double l = f(a.lo), h = a.hi == a.lo ? l : f(a.hi);
  return {down_ulps(l), up_ulps(h)};
}

RS_HD Interval iv_exp(Interval a) {
  const Interval e = libm_ends([](double x) { return ::exp(x); }, a);
  return {max_nan(e.lo, 0.0), e.hi};
}
RS_HD Interval iv_log(Interval a) {  // NaN below 0, -inf at 0
  return libm_ends([](double x) { return ::log(x); }, a);
}
RS_HD Interval iv_log1p(Interval a) {
  return libm_ends([](double x) { return ::log1p(x); }, a);
}
RS_HD Interval iv_tanh(Interval a) {
  return clamp(libm_ends([](double x) { return ::tanh(x); }, a), -1.0, 1.0);
}
RS_HD Interval iv_erf(Interval a) {
  return clamp(libm_ends([](double x) { return ::erf(x); }, a), -1.0, 1.0);
}

// sigmoid(z) = 1 / (1 + e^-z): each operation monotone, z used once, so the enclosure is tight.
RS_HD Interval iv_sigmoid(Interval z) {
  return clamp(point(1.0) / (point(1.0) + iv_exp(-z)), 0.0, 1.0);
}

// sigmoid' = s (1 - s) = 1/4 - (s - 1/2)^2 of an enclosure s of sigmoid (s used once: tight).
RS_HD Interval iv_sigmoid_d1(Interval s) {
  return clamp(point(0.25) - sqr(s - point(0.5)), 0.0, 0.25);
}

// softplus(z) = log(1 + e^z) = max(z, 0) + log1p(e^-|z|), increasing: the two ends are enclosed
// on their own (the formula's |z| is not monotone).
RS_HD Interval softplus_at(double z) {
  return point(z > 0.0 ? z : 0.0) + iv_log1p(iv_exp(point(-fabs(z))));
}
RS_HD Interval iv_softplus(Interval z) {
  if (z.lo != z.lo || z.hi != z.hi) return {NAN, NAN};
  return {softplus_at(z.lo).lo, softplus_at(z.hi).hi};
}

// ---- activations: enclosures of sigma(z), sigma'(z), sigma''(z) over an interval z
struct ActEnclosure {
  Interval a, d1, d2;
  bool kink;  // relu / leaky_relu: z contains 0 (sigma is not differentiable there)
};

// Derivatives are natural interval extensions of their formulas (sound; wider than the exact
// range where a variable occurs twice). relu / leaky_relu with 0 in z: the hull of both pieces.
// softplus: the smooth log(1 + e^z); where z reaches past 20 the enclosures are also hulled with
// torch's thresholded softplus (z, 1, 0 above 20: activation.h), off by < 2.1e-9 there, so they
// contain both.
RS_HD ActEnclosure act_enclose(int32_t act, Interval z, double slope) {
  const Interval one = point(1.0), zero = point(0.0);
  switch (act) {
    case ACT_RELU:
    case ACT_LEAKY_RELU: {
      const Interval neg = act == ACT_RELU ? zero : point(slope);
      if (z.lo > 0.0) return {z, one, zero, false};
      if (z.hi < 0.0) return {neg * z, neg, zero, false};
      const Interval pos_part = {0.0, max_nan(z.hi, 0.0)};
      const Interval neg_part = neg * Interval{min_nan(z.lo, 0.0), 0.0};
      return {hull(pos_part, neg_part), hull(one, neg), zero, true};
    }
    case ACT_TANH: {
      const Interval t = iv_tanh(z), d1 = clamp(one - sqr(t), 0.0, 1.0);
      return {t, d1, point(-2.0) * t * d1, false};
    }
    case ACT_SIGMOID: {
      const Interval s = iv_sigmoid(z), d1 = iv_sigmoid_d1(s);
      return {s, d1, d1 * (one - point(2.0) * s), false};
    }
    case ACT_SOFTPLUS: {
      const Interval s = iv_sigmoid(z);
      ActEnclosure e{iv_softplus(z), s, iv_sigmoid_d1(s), false};
      if (z.hi > 20.0) {
        e.a = hull(e.a, {max_nan(z.lo, 20.0), z.hi});
        e.d1 = hull(e.d1, one);
        e.d2 = hull(e.d2, zero);
      }
      return e;
    }
    case ACT_ERF: {  // erf' = 2/sqrt(pi) e^{-z^2}, erf'' = -2 z erf'
      const Interval c = {next_down(1.1283791670955126), next_up(1.1283791670955126)};
      const Interval d1 = c * iv_exp(-sqr(z));
      return {iv_erf(z), d1, point(-2.0) * z * d1, false};
    }
    case ACT_QUADRATIC: return {sqr(z), point(2.0) * z, point(2.0), false};
    default: return {z, one, zero, false};  // identity
  }
}

}  // namespace rs
