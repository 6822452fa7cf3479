// 64-byte vectors of T (GCC and Clang vector extensions; the compilers lower them to the ISA at
// hand: one AVX-512 register, two AVX2 or four SSE2 ones) and of same-width integer lane masks,
// with unaligned loads and stores. Host code only.
#pragma once
#include <cstdint>
#include <cstring>

namespace rs {

// (a vector_size on a dependent type is ignored, hence one specialisation per type)
template <typename T>
struct Vec64;
template <>
struct Vec64<double> {
  typedef double Vec __attribute__((vector_size(64)));
  typedef int64_t Mask __attribute__((vector_size(64)));
};
template <>
struct Vec64<float> {
  typedef float Vec __attribute__((vector_size(64)));
  typedef int32_t Mask __attribute__((vector_size(64)));
};

// GCC warns that passing 64-byte vectors by value differs between ISAs; these helpers are inlined
// into each ISA's own code (common/cpu_isa.h), never called across that boundary.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpsabi"
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
#pragma GCC diagnostic pop

}  // namespace rs
