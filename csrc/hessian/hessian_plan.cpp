// hess_plan: chunking, output layout and workspace of a Hessian-engine call (host code, read by
// reluscope.hessian through _core.hess_plan before it allocates).
#include <algorithm>

#include "common/error.h"
#include "hessian/hessian.h"
#include "hessian/hessian_flops.h"
#include "hessian/loss_math.h"

namespace rs {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Data chunks per model: on CUDA enough (model, chunk) blocks to fill the grid and no more; on the
// CPU at least kHessCpuTasks (model, chunk) tasks when B alone does not give them, chunks of >= 64
// samples, and one for a call that runs on the calling thread (hess_cpu_inline). Never from the
// thread count: the chunks fix the order of the sums, so results are the same bits for any
// number of threads.
int64_t chunks_for(int64_t B, int64_t N, bool cuda, bool cpu_inline) {
  if (B == 0 || (!cuda && cpu_inline)) return 1;
  if (cuda)
    return std::max<int64_t>(1, std::min(ceil_div(N, kHessCudaSamplesPerChunk),
                                         ceil_div(2 * kHessCudaMaxBlocks, B)));
  if (B >= kHessCpuTasks) return 1;
  return std::max<int64_t>(1, std::min(ceil_div(kHessCpuTasks, B), N / 64));
}

}  // namespace

std::vector<int32_t> hess_param_layers(const NetSpec& net) {
  const int64_t P = net.n_params;
  std::vector<int32_t> layer(size_t(P), -1), readers(size_t(P), 0);
  auto mark = [&](int64_t p, int l) {
    if (p >= 0 && p < P) { layer[size_t(p)] = l; ++readers[size_t(p)]; }
  };
  for (int l = 0; l < net.n_layers; ++l) {
    const LayerSpec& L = net.layer[l];
    for (int j = 0; j < L.out; ++j) {
      for (int k = 0; k < L.in; ++k) mark(layer_weight_index(L, j, k), l);
      if (L.b_off >= 0) mark(L.b_off + j, l);
    }
  }
  for (int64_t p = 0; p < P; ++p)
    if (readers[size_t(p)] != 1) layer[size_t(p)] = -1;
  return layer;
}

HessPlan hess_plan(const NetSpec& net, int64_t B, int64_t N, int64_t K, int32_t mode, bool cuda,
                   int64_t elem_size, int64_t max_workspace_bytes, int32_t loss, bool dx) {
  RS_CHECK(valid_hess_mode(mode), "unknown mode ", mode);
  RS_CHECK(B >= 0 && N >= 0 && K >= 0, "negative sizes B=", B, " N=", N, " K=", K);
  RS_CHECK(elem_size == 4 || elem_size == 8, "elem_size must be 4 or 8, got ", elem_size);
  const int64_t P = net.n_params;
  HessPlan p;
  p.chunks = chunks_for(B, N, cuda, hess_cpu_inline(net, B, N, HessMode(mode), K));
  p.partials = p.chunks * (cuda ? kHessCudaWarps : 1);
  p.products_offset = kHessHeaderSlots + (mode == HESS_GRAD ? P : 0);
  p.length = p.products_offset + K * P;
  p.max_directions =
      std::max<int64_t>(1, kHessPartBudget / std::max<int64_t>(1, B * p.partials * P));
  p.kinks_float64 =
      elem_size == 8 || (!cuda && !dx && valid_loss(loss) && hess_cpu_small_path(net, loss));
  if (cuda) {
    const int64_t rows = make_hess_layout(net).rows;
    const int64_t budget = max_workspace_bytes < 0 ? kHessCudaWorkspaceBytes : max_workspace_bytes;
    const int64_t fit = budget / (kHessCudaBlock * rows * elem_size);
    const int64_t blocks = std::max<int64_t>(1, std::min({B * p.chunks, kHessCudaMaxBlocks, fit}));
    p.workspace = blocks * kHessCudaBlock * rows;
  }
  return p;
}

}  // namespace rs
