// The geometry of a grid-stride CUDA launch, as plain host arithmetic (no CUDA headers), so the
// CPU tests check it through _core.grid_stride. `workers` threads each own one scratch slot
// (worker t uses slot t); item i goes to worker i % stride, where stride is the number of workers
// actually launched. Every item in [0, items) is then visited exactly once, whatever caps the grid.
#pragma once
#include <algorithm>
#include <cstdint>

namespace rs {

inline constexpr int64_t kMaxGridBlocks = int64_t(1) << 20;

struct GridStride {
  int64_t blocks = 1;  // grid size
  int block = 1;       // threads per block
  int64_t stride = 1;  // workers launched: threads t < stride work, t >= stride return at once
};

inline GridStride grid_stride(int64_t items, int64_t workers, int block,
                              int64_t max_blocks = kMaxGridBlocks) {
  const int64_t want = std::max<int64_t>(1, std::min(items, workers));
  GridStride g;
  g.block = block;
  g.blocks = std::clamp<int64_t>((want + block - 1) / block, 1, max_blocks);
  g.stride = std::min(want, g.blocks * block);
  return g;
}

}  // namespace rs
