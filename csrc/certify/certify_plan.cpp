// certify_plan: data chunks and CUDA workspace of a certify_enclose call (host code).
#include <algorithm>

#include "certify/certify.h"
#include "common/error.h"

namespace rs {

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

// Chunks per network: enough (network, chunk) tasks to spread over the CPU threads or the CUDA
// grid, never from the thread count (the chunks fix the order of the sums: the same bits for any
// number of threads). CUDA: the tasks' partial sums must fit kCertCudaPartBytes.
CertPlan certify_plan(const NetSpec& net, int64_t B, int64_t N, bool cuda) {
  RS_CHECK(B >= 0 && N >= 0, "negative sizes B=", B, " N=", N);
  const int64_t P = net.n_params, len = 1 + P + P * P;
  CertPlan p;
  if (B == 0) return p;
  if (!cuda) {
    p.chunks = std::max<int64_t>(1, std::min(ceil_div(kCertCpuTasks, B), N / kCertCpuMinChunk));
    return p;
  }
  const int64_t per_chunk = 2 * len + 1;  // doubles: the interval sums and the flags
  const int64_t fit = kCertCudaPartBytes / int64_t(sizeof(double)) / (B * per_chunk);
  p.chunks = std::max<int64_t>(1, std::min({ceil_div(kCertCudaTasks, B), N, fit}));
  const int64_t tasks = B * p.chunks;
  p.workspace = tasks * per_chunk + tasks * 2 * (make_cert_layout(net).rows + 2 * P);
  return p;
}

}  // namespace rs
