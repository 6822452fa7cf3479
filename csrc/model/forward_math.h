// Forward pass of one network on L samples at once (lanes), shared by the CPU launcher (L = tens
// of lanes) and the CUDA launcher (L = 1, one thread per sample).
// Input feature k of lane i at in[k * in_stride + i]; the layers ping-pong between two blocks of
// max_width rows in buf (row r, lane i at buf[r * stride + i]). Cost O(P L) multiply-adds.
#pragma once
#include <cstdint>

#include "common/hostdevice.h"
#include "model/lanes.h"
#include "model/net_spec.h"

namespace rs {

// Runs the network; returns the output rows (output j of lane i at ret[j * stride + i]).
// pre_act(l, j, z) sees each pre-activation row z of layer l before the activation is applied.
template <int L, typename T, typename PreAct>
RS_HD const T* forward_lanes(const NetSpec& net, const T* theta, const T* in, int64_t in_stride,
                             T* buf, int64_t stride, PreAct&& pre_act) {
  const T slope = T(net.slope);
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& Ly = net.layer[l];
    T* out = buf + int64_t(l % 2) * net.max_width * stride;
    dense_lanes<L>(Ly, theta, in, in_stride, out, stride,
                   [&](int j, T* z) {
                     pre_act(l, j, static_cast<const T*>(z));
                     act_value_lanes<L>(Ly.act, z, slope);
                   });
    in = out;
    in_stride = stride;
  }
  return in;
}

}  // namespace rs
