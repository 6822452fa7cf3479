// The transpose of a kVec x kVec square of lane rows with vector shuffles (GCC and Clang vector
// extensions; the compilers lower them to the ISA at hand): log2(kVec) stages, stage b swapping
// the off-diagonal b x b blocks of every 2b x 2b block. Compilers leave the plain loop of scalar
// moves unvectorised (it reads with a stride).
// O(kVec log kVec) shuffles per kVec^2 values.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#include "common/host_vec.h"

namespace rs {

template <typename T>
struct SquareTranspose {
  static constexpr int N = 64 / int(sizeof(T));
  using Vec = typename Vec64<T>::Vec;
  using Mask = typename Vec64<T>::Mask;
  using Index = std::conditional_t<sizeof(T) == 8, int64_t, int32_t>;
  // rows i and i + b, i without bit b: A'[e] = e has bit b ? B[e - b] : A[e], and
  // B'[e] = e has bit b ? B[e] : A[e + b] (shuffle indices >= N pick from B)
  static constexpr Index lo(int b, int e) { return (e & b) ? Index(N + e - b) : Index(e); }
  static constexpr Index hi(int b, int e) { return (e & b) ? Index(N + e) : Index(e + b); }
  template <int B, size_t... E>
  static void stage(Vec* r, std::index_sequence<E...>) {
    for (int i = 0; i < N; ++i) {
      if (i & B) continue;
      const Vec a = r[i], c = r[i + B];
#if defined(__clang__)
      r[i] = __builtin_shufflevector(a, c, lo(B, E)...);
      r[i + B] = __builtin_shufflevector(a, c, hi(B, E)...);
#else
      r[i] = __builtin_shuffle(a, c, Mask{lo(B, E)...});
      r[i + B] = __builtin_shuffle(a, c, Mask{hi(B, E)...});
#endif
    }
  }
  template <int B>
  static void stages(Vec* r) {
    if constexpr (B < N) {
      stage<B>(r, std::make_index_sequence<N>{});
      stages<2 * B>(r);
    }
  }
  // dst[i * dst_stride + k] = src[k * src_stride + i] for i, k < N
  static void run(const T* src, int64_t src_stride, T* dst, int64_t dst_stride) {
    Vec r[N];
    for (int k = 0; k < N; ++k) std::memcpy(&r[k], src + k * src_stride, sizeof(Vec));
    stages<1>(r);
    for (int i = 0; i < N; ++i) std::memcpy(dst + i * dst_stride, &r[i], sizeof(Vec));
  }
};

}  // namespace rs
