// The value type of the per-element maths. The activations, the diagonal losses and the host's
// exp family are templates on a value type V: a scalar (float, double), which is what CUDA and
// the CPU's lane loops run, or, on the host, a 64- or 32-byte vector of one (common/host_vec.h),
// which is what the CPU's small-net path runs — one body for both, written with select_ instead
// of ?: so that it holds for a vector's lanes. scalar_of<V> is V's element type;
// ValueTraits<V>::Bits the unsigned integer of V's width (host_vec.h specialises both for its
// vectors).
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/hostdevice.h"

namespace rs {

template <typename V>
struct ValueTraits {
  using Scalar = V;
  using Bits = std::conditional_t<sizeof(V) == 8, uint64_t, uint32_t>;
};
template <typename V>
using scalar_of = typename ValueTraits<V>::Scalar;

// c ? a : b on one lane (both are evaluated; host_vec.h has the lane-wise form for vector masks).
template <typename A, typename B>
RS_HD auto select_(bool c, A a, B b) {
  return c ? a : b;
}

template <typename To, typename From>
RS_HD To bits_as(From x) {
  static_assert(sizeof(To) == sizeof(From), "size mismatch");
  To y;
  std::memcpy(&y, &x, sizeof(To));
  return y;
}

// The sign bit of V's element type, |x| and copysign(m, z) by it, for any value type.
template <typename V>
constexpr auto kSignBit = std::conditional_t<sizeof(scalar_of<V>) == 8, uint64_t, uint32_t>(1)
                          << (8 * sizeof(scalar_of<V>) - 1);

template <typename V>
inline V abs_bits(V x) {
  using Bits = typename ValueTraits<V>::Bits;
  return bits_as<V>(bits_as<Bits>(x) & ~kSignBit<V>);
}

template <typename V>
inline V copysign_bits(V m, V z) {
  using Bits = typename ValueTraits<V>::Bits;
  return bits_as<V>((bits_as<Bits>(m) & ~kSignBit<V>) | (bits_as<Bits>(z) & kSignBit<V>));
}

}  // namespace rs
