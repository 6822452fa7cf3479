// The per-sample arithmetic of the layer-moment kernel, shared by the CPU (L lanes) and CUDA (one
// lane) launchers: the network runs on x and on y layer by layer (dense_lanes, the forward
// engine's loops); before each activation, row j of both pre-activations adds its six products
// (moments.h) to per-lane sums, handed to done(l, sums) after layer l. Cost per pair: two forward
// passes, O(P), plus O(sum of widths) for the moments; scratch 4 max_width rows.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/lanes.h"
#include "model/moments.h"
#include "model/net_spec.h"

namespace rs {

// x, y: input rows (feature k of lane i at x[k * in_stride + i]); buf: 4 max_width rows of
// `stride` (x's and y's ping-pong blocks).
template <int L, typename T, typename Done>
RS_HD void moment_lanes(const NetSpec& net, const T* theta, const T* x, const T* y,
                        int64_t in_stride, T* buf, int64_t stride, Done&& done) {
  const T slope = T(net.slope);
  const int64_t block = int64_t(net.max_width) * stride;
  int64_t sx = in_stride;
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& Ly = net.layer[l];
    T* zx = buf + (l % 2) * block;
    T* zy = buf + (2 + l % 2) * block;
    T sums[kMoments][L];
    for (int k = 0; k < kMoments; ++k) {
      RS_SIMD for (int i = 0; i < L; ++i) sums[k][i] = T(0);
    }
    dense_lanes<L>(Ly, theta, x, sx, zx, stride, [](int, T*) {});
    dense_lanes<L>(Ly, theta, y, sx, zy, stride, [&](int j, T* b) {
      T* a = zx + j * stride;
      RS_SIMD for (int i = 0; i < L; ++i) {
        const T a2 = a[i] * a[i], b2 = b[i] * b[i];
        sums[0][i] += a2;
        sums[1][i] += b2;
        sums[2][i] += a[i] * b[i];
        sums[3][i] += a2 * a2;
        sums[4][i] += b2 * b2;
        sums[5][i] += a2 * b2;
      }
      act_value_lanes<L>(Ly.act, a, slope);
      act_value_lanes<L>(Ly.act, b, slope);
    });
    done(l, sums);
    x = zx;
    y = zy;
    sx = stride;
  }
}

}  // namespace rs
