// Lane loops: the building blocks that run the same per-sample arithmetic over L samples at once
// (structure of arrays: value of row r for lane i at row_ptr[i]). The CPU launchers use L = tens
// of lanes so the loops vectorise; CUDA kernels use L = 1 (one thread per sample).
#pragma once
#include <cstdint>
#include <type_traits>

#include "common/hostdevice.h"
#include "common/vector_registers.h"
#include "model/activation.h"
#include "model/net_spec.h"

namespace rs {

template <int32_t A>
struct ActTag {
  static constexpr int32_t value = A;
};

// Calls f(ActTag<act>{}) so lane loops can take the activation as a compile-time constant (the
// switch inside act_value & co. then folds away and the loop vectorises).
template <typename F>
RS_HD void with_activation(int32_t act, F&& f) {
  switch (act) {
    case ACT_RELU: f(ActTag<ACT_RELU>{}); break;
    case ACT_LEAKY_RELU: f(ActTag<ACT_LEAKY_RELU>{}); break;
    case ACT_TANH: f(ActTag<ACT_TANH>{}); break;
    case ACT_SIGMOID: f(ActTag<ACT_SIGMOID>{}); break;
    case ACT_SOFTPLUS: f(ActTag<ACT_SOFTPLUS>{}); break;
    case ACT_ERF: f(ActTag<ACT_ERF>{}); break;
    case ACT_QUADRATIC: f(ActTag<ACT_QUADRATIC>{}); break;
    default: f(ActTag<ACT_IDENTITY>{}); break;
  }
}

// z row <- act(z row), in place over L lanes.
template <int L, typename T>
RS_HD void act_value_lanes(int32_t act, T* z, T slope) {
  with_activation(act, [&](auto tag) {
    RS_SIMD for (int i = 0; i < L; ++i) z[i] = act_value(decltype(tag)::value, z[i], slope);
  });
}

// Sums of rows over L lanes, in register blocks: for each output q < n_out,
//   val[i] = init(q) + scale (sum_{m < n_sum} c1(q, m) r1(m)[i] (+ c2(q, m) r2(m)[i] when two)),
// then done(q, val). scale is a layer's w_scale (its coefficients are theta's entries): applied
// once per output, not to every coefficient (a scalar product and broadcast per coefficient cost
// the [16,64,64,1] HVP ~7 %); when it is 1 the sum starts at init(q) and is not multiplied.
// Outputs go in blocks of JB (lane_block: 4 on a CPU with 32 vector registers, AVX-512; 2 with
// 16, AVX2; 1 on CUDA's single lane) so each source row is loaded once per block and the block's
// sums stay in registers. The matrix-vector shapes of a layer (forward, backward, R-forward,
// R-backward) are all this loop.
// O(n_out * n_sum * L) multiply-adds (twice that when `two`).
template <int JB, bool TWO, int L, typename T, typename Init, typename C1, typename R1,
          typename C2, typename R2, typename Done>
RS_HD void lane_sums_block(int q0, int n_sum, T scale, Init& init, C1& c1, R1& r1, C2& c2,
                           R2& r2, Done& done) {
  const bool scaled = scale != T(1);
  T val[JB][L];
  for (int b = 0; b < JB; ++b) {
    const T c = scaled ? T(0) : init(q0 + b);
    RS_SIMD for (int i = 0; i < L; ++i) val[b][i] = c;
  }
  for (int m = 0; m < n_sum; ++m) {
    const T* x = r1(m);
    for (int b = 0; b < JB; ++b) {
      const T c = c1(q0 + b, m);
      RS_SIMD for (int i = 0; i < L; ++i) val[b][i] += c * x[i];
    }
    if (TWO) {
      const T* y = r2(m);
      for (int b = 0; b < JB; ++b) {
        const T c = c2(q0 + b, m);
        RS_SIMD for (int i = 0; i < L; ++i) val[b][i] += c * y[i];
      }
    }
  }
  // done() gets a copy: were val's own address passed on, clang (unlike GCC) would store the
  // accumulators to memory on every step of the loop above (f64 forward 4x slower).
  for (int b = 0; b < JB; ++b) {
    T out[L];
    if (scaled) {
      const T c = init(q0 + b);
      RS_SIMD for (int i = 0; i < L; ++i) out[i] = c + scale * val[b][i];
    } else {
      RS_SIMD for (int i = 0; i < L; ++i) out[i] = val[b][i];
    }
    done(q0 + b, static_cast<const T*>(out));
  }
}

// Sums over fewer source rows than this go one output at a time: the block gains little there,
// and the [2,5,1] benchmark nets (sums of 2 and 5 rows) keep their unblocked code.
inline constexpr int kMinBlockedSum = 8;

// The outputs per block of lane_sums over L lanes on this thread: 4 with 32 vector registers
// (AVX-512: the block's sums take 16 of them in either dtype), 2 with 16 (AVX2: 16 of them, a few
// spilled, still faster than 1 or 4), 1 on CUDA's single lane.
template <int L>
RS_HD int lane_block() {
#if defined(__CUDA_ARCH__)
  return 1;
#else
  return L == 1 ? 1 : vector_registers() >= 32 ? 4 : 2;
#endif
}

template <int L, typename T, typename Init, typename C1, typename R1, typename C2, typename R2,
          typename Done>
RS_HD void lane_sums(int n_out, int n_sum, bool two, T scale, Init&& init, C1&& c1, R1&& r1,
                     C2&& c2, R2&& r2, Done&& done) {
  auto run = [&](auto two_tag) {
    constexpr bool kTwo = decltype(two_tag)::value;
    const int jb = n_sum >= kMinBlockedSum ? lane_block<L>() : 1;
    int q = 0;
    if constexpr (L > 1) {
      if (jb == 4)
        for (; q + 4 <= n_out; q += 4)
          lane_sums_block<4, kTwo, L, T>(q, n_sum, scale, init, c1, r1, c2, r2, done);
      if (jb == 2)
        for (; q + 2 <= n_out; q += 2)
          lane_sums_block<2, kTwo, L, T>(q, n_sum, scale, init, c1, r1, c2, r2, done);
    }
    for (; q < n_out; ++q)
      lane_sums_block<1, kTwo, L, T>(q, n_sum, scale, init, c1, r1, c2, r2, done);
  };
  if (two)
    run(std::true_type{});
  else
    run(std::false_type{});
}

// The affine part of one dense layer over L lanes, then finish(j, z) on each output row z:
// z[i] = b_j + sum_k W(j, k) in[k * in_stride + i], z = out + j * out_stride. O(in * out * L).
template <int L, typename T, typename Finish>
RS_HD void dense_lanes(const LayerSpec& Ly, const T* theta, const T* in, int64_t in_stride, T* out,
                       int64_t out_stride, Finish&& finish) {
  auto bias = [&](int j) { return Ly.b_off >= 0 ? theta[Ly.b_off + j] : T(0); };
  auto w = [&](int j, int k) { return layer_theta(Ly, theta, j, k); };
  auto row = [&](int k) { return in + k * in_stride; };
  lane_sums<L, T>(Ly.out, Ly.in, false, T(Ly.w_scale), bias, w, row, w, row,
                  [&](int j, const T* val) {
    T* z = out + j * out_stride;
    RS_SIMD for (int i = 0; i < L; ++i) z[i] = val[i];
    finish(j, z);
  });
}

}  // namespace rs
