// 64- and 32-byte vectors of T (GCC and Clang vector extensions; the compilers lower them to the
// ISA at hand) and same-width integer lane masks, with unaligned loads and stores, and what makes
// them value types of the per-element maths (common/value.h): their ValueTraits and select_.
// Code compiled for AVX2 uses the 32-byte ones where it compares lanes: GCC lowers a 64-byte
// vector's comparisons there lane by lane through scalar registers (the small-net path ran 13x
// slower under AVX2 than under AVX-512 with 64-byte vectors). Host code only.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/value.h"

namespace rs {

template <typename T, int Bytes>
struct HostVec;
template <typename T>
using Vec64 = HostVec<T, 64>;

// The vector of T whose lane masks are M: the type of a comparison's result, which is a vector of
// long in GCC and of long long in Clang for doubles.
template <typename M>
struct VecOfMask {};

template <typename V>
inline constexpr bool is_host_vec = false;

// One specialisation of each per element type and width (a vector_size on a dependent type is
// ignored): the vector, its mask and bits types, its ValueTraits and VecOfMask.
#define RS_HOST_VEC(T, I, B)                                                \
  template <>                                                               \
  struct HostVec<T, B> {                                                    \
    typedef T Vec __attribute__((vector_size(B)));                          \
    typedef I Mask __attribute__((vector_size(B)));                         \
    typedef std::make_unsigned_t<I> Bits __attribute__((vector_size(B)));   \
  };                                                                        \
  template <>                                                               \
  struct ValueTraits<HostVec<T, B>::Vec> {                                  \
    using Scalar = T;                                                       \
    using Bits = HostVec<T, B>::Bits;                                       \
  };                                                                        \
  template <>                                                               \
  struct VecOfMask<decltype(HostVec<T, B>::Vec{} < T(0))> {                 \
    using Vec = HostVec<T, B>::Vec;                                         \
  };                                                                        \
  template <>                                                               \
  inline constexpr bool is_host_vec<HostVec<T, B>::Vec> = true;
RS_HOST_VEC(double, int64_t, 64)
RS_HOST_VEC(float, int32_t, 64)
RS_HOST_VEC(double, int64_t, 32)
RS_HOST_VEC(float, int32_t, 32)
#undef RS_HOST_VEC

// Lane-wise c ? a : b for a lane mask c (a comparison's result); a, b vectors or scalars.
template <typename M, typename A, typename B, typename V = typename VecOfMask<M>::Vec>
inline V select_(M c, A a, B b) {
  const V va = a - V{}, vb = b - V{};  // x - 0 is x, -0 and NaN included
  return V((M(va) & c) | (M(vb) & ~c));
}

template <typename V, typename T>
inline V load_vec(const T* p) {
  static_assert(is_host_vec<V> && std::is_same_v<scalar_of<V>, T>, "a host vector of T");
  V v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T, typename V>
inline void store_vec(T* p, V v) {
  static_assert(is_host_vec<V> && std::is_same_v<scalar_of<V>, T>, "a host vector of T");
  std::memcpy(p, &v, sizeof(v));
}

}  // namespace rs
