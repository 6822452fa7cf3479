// Limits and chunking of the hypercube sweeps (host code, read by reluscope.hypercube through
// _core.hc_limits and _core.hc_brute_plan before it builds tables and allocates partials).
#include <algorithm>

#include "common/error.h"
#include "hypercube/hypercube.h"

namespace rs {

HcLimits hc_limits(bool cuda) {
  HcLimits l;
  l.brute_max_n = cuda ? 32 : 34;
  l.brute_max_work = cuda ? int64_t(1) << 44 : int64_t(1) << 38;
  l.mitm_max_n = cuda ? 0 : 52;
  return l;
}

HcBrutePlan hc_brute_plan(int32_t n, int64_t B, bool cuda, int64_t values_per_w) {
  RS_CHECK(n >= 1 && n <= 62, "hypercube dimension n=", n, " is out of range");
  RS_CHECK(B >= 0 && values_per_w >= 1, "bad batch B=", B, " or values_per_w=", values_per_w);
  HcBrutePlan p;
  if (cuda) {
    p.chunk_bits = std::max(0, n - 1 - kHcCudaChunksLog2);
    p.groups = int64_t(1) << (n - 1 - p.chunk_bits);
  } else {
    p.chunk_bits = std::min(n - 1, kHcCpuChunkBits);
    p.groups = std::min<int64_t>(int64_t(1) << (n - 1 - p.chunk_bits), kHcCpuGroups);
  }
  // per w: the H and L tables (float64 at most) and the float64 partials
  const int64_t per_w =
      ((int64_t(1) << p.chunk_bits) + (int64_t(1) << (n - 1 - p.chunk_bits)) +
       p.groups * values_per_w) * 8;
  p.batch = std::max<int64_t>(1, std::min(std::max<int64_t>(B, 1), kHcBatchBytes / per_w));
  return p;
}

int64_t hc_mitm_thread_bytes(int32_t n, bool f) {
  RS_CHECK(n >= 2 && n <= 62, "hypercube dimension n=", n, " is out of range");
  // Each half's sorted sums with their sentinels, value (8, float64 at most) + vertex (4) bytes,
  // and the ping-pong buffer of half the larger list (mitm_cpu.cpp); f adds two rank (4) bytes and
  // one cumulative probability (8) per entry, and its coordinate tables.
  const int64_t hA = n / 2, hB = n - hA, nA = int64_t(1) << hA, nB = int64_t(1) << hB;
  int64_t bytes = (nA + 2 + nB + 2 + nB / 2 + 2) * 12;
  if (f) bytes += (nA + nB) * 8 + (nA + 1 + nB + 1) * 8 + (int64_t(2) << ((hB + 1) / 2)) * 8;
  return bytes;
}

}  // namespace rs
