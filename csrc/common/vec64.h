// 64-byte vectors of T (GCC and Clang vector extensions; the compilers lower them to the ISA at
// hand: one AVX-512 register, two AVX2 or four SSE2 ones) and of same-width integer lane masks,
// with unaligned loads and stores, and what makes them value types of the per-element maths
// (common/value.h): their ValueTraits and select_. Host code only.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/value.h"

namespace rs {

// (a vector_size on a dependent type is ignored, hence one specialisation per type)
template <typename T>
struct Vec64;
template <>
struct Vec64<double> {
  typedef double Vec __attribute__((vector_size(64)));
  typedef int64_t Mask __attribute__((vector_size(64)));
  typedef uint64_t Bits __attribute__((vector_size(64)));
};
template <>
struct Vec64<float> {
  typedef float Vec __attribute__((vector_size(64)));
  typedef int32_t Mask __attribute__((vector_size(64)));
  typedef uint32_t Bits __attribute__((vector_size(64)));
};

template <>
struct ValueTraits<Vec64<double>::Vec> {
  using Scalar = double;
  using Bits = Vec64<double>::Bits;
};
template <>
struct ValueTraits<Vec64<float>::Vec> {
  using Scalar = float;
  using Bits = Vec64<float>::Bits;
};

// The vector of T whose lane masks are M: the type of a comparison's result, which is a vector of
// long in GCC and of long long in Clang for doubles.
template <typename M>
struct VecOfMask {};
template <>
struct VecOfMask<decltype(Vec64<double>::Vec{} < 0.0)> {
  using Vec = Vec64<double>::Vec;
};
template <>
struct VecOfMask<decltype(Vec64<float>::Vec{} < 0.0f)> {
  using Vec = Vec64<float>::Vec;
};

template <typename V>
inline constexpr bool is_vec64 =
    std::is_same_v<V, Vec64<double>::Vec> || std::is_same_v<V, Vec64<float>::Vec>;

// Lane-wise c ? a : b for a lane mask c (a comparison's result); a, b vectors or scalars.
template <typename M, typename A, typename B, typename V = typename VecOfMask<M>::Vec>
inline V select_(M c, A a, B b) {
  const V va = a - V{}, vb = b - V{};  // x - 0 is x, -0 and NaN included
  return V((M(va) & c) | (M(vb) & ~c));
}

template <typename T>
inline typename Vec64<T>::Vec load_vec64(const T* p) {
  typename Vec64<T>::Vec v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T, typename V>
inline void store_vec64(T* p, V v) {
  static_assert(sizeof(V) == 64, "a 64-byte vector");
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace rs
