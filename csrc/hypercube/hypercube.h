// Hypercube sums over {-1,+1}^n: argument structs and launcher declarations.
//
// Vertex k in [0, 2^n) <-> x with x_i = +1 iff bit i of k is set. The brute-force sweep visits
// vertices in complementary pairs {x, -x}: pair index u in [0, 2^(n-1)) is the vertex with bit n-1
// clear (x_{n-1} = -1); its partner is u ^ (2^n - 1). Everything about a pair (the sum <w,x>, the
// Ising quadratic energy) is computed once and negated exactly for the partner, which makes
// f(-w) = -f(w) hold to the last bit for symmetric weights. u = (kh << c) | kl: the chunk kh holds
// the high bits, kl in [0, 2^c) the low bits.
#pragma once
#include <cstdint>

#include "common/device.h"

namespace rs {

// The weight families, exported to Python as reluscope._core.WeightKind.
enum HypercubeWeightKind : int32_t { kUniformW = 0, kProductW = 1, kIsingW = 2, kTableW = 3 };

inline constexpr int kMaxChunkBits = 16;  // c <= 16: per-chunk buffers fit in cache

// Launch contract (host code in hypercube_plan.cpp, read by reluscope.hypercube through
// _core.hc_limits and _core.hc_brute_plan).
inline constexpr int kHcCpuChunkBits = 12;     // pairs per chunk of the CPU sweep: 2^12 (in L1/L2)
inline constexpr int64_t kHcCpuGroups = 64;    // fixed partials per w: no dependence on threads
inline constexpr int kHcCudaChunksLog2 = 16;   // the CUDA sweep runs 2^16 chunks per w
inline constexpr int64_t kHcBatchBytes = int64_t(256) << 20;  // tables + partials per call

// What the compiled sweeps handle on one device: beyond it a call would take over about a minute
// (brute force visits B 2^n vertex-w pairs) or too much memory (meet in the middle keeps
// ~60 bytes 2^(n/2) per thread for f at even n).
struct HcLimits {
  int32_t brute_max_n = 0;
  int64_t brute_max_work = 0;  // most B 2^n
  int32_t mitm_max_n = 0;      // 0: no compiled meet in the middle on this device
};
HcLimits hc_limits(bool cuda);

// The chunking of one brute-force sweep over 2^n vertices for B weight vectors.
struct HcBrutePlan {
  int32_t chunk_bits = 0;  // c: low bits per chunk; H tables over the n-1-c high bits
  int64_t groups = 1;      // partial results per w (summed by the caller in a fixed order)
  int64_t batch = 1;       // w per kernel call: the half-sum tables and partials of a call stay
                           // within kHcBatchBytes (at least one w)
};
HcBrutePlan hc_brute_plan(int32_t n, int64_t B, bool cuda, int64_t values_per_w);

// Bytes one thread of the CPU meet in the middle holds at the peak for dimension n, for f (else
// delta): the sorted half sums, their vertices, ranks and probabilities. The Python layer refuses
// calls whose threads would need more than the memory available.
int64_t hc_mitm_thread_bytes(int32_t n, bool f);

// A weight family p(x) as the sweep reads it (tables are built by the Python layer).
template <typename T>
struct HcWeights {
  int32_t kind = kUniformW;
  int32_t n = 0;
  int32_t c = 0;               // low bits per chunk
  T uniform = 0;               // Uniform: 2^-n
  const T* lo = nullptr;       // Product: P(low bits = kl) (2^c); Ising: quadratic energy of the low spins (2^c)
  const T* lo_lin = nullptr;   // Ising: h_lo . x_lo (2^c)
  const T* hi = nullptr;       // Product: P(bits c..n-1 = k) over n-c bits (2^(n-c))
  const T* J = nullptr;        // Ising: (n, n) symmetric, zero diagonal
  const T* h = nullptr;        // Ising: (n,)
  T energy_shift = 0;          // Ising: log Z = energy_shift + log_sum, energy_shift the largest
  T log_sum = 0;               // energy (exact in T), so p = exp((E - energy_shift) - log_sum)
                               // keeps its bits when the energies are huge (0, 0 for log Z itself)
  const T* table = nullptr;    // Table: (2^n) normalised probabilities
};

// Brute force over all pairs, for a batch of B weight vectors w. The partial sums s(x) = <w,x> are
// read from two tables: s = H[b, kh] + L[b, kl] (H over the high bits with x_{n-1} = -1 included,
// L over the c low bits), so the per-vertex cost is one addition and there is no drift.
template <typename T>
struct HcBruteArgs {
  HcWeights<T> W;
  const T* H = nullptr;    // (B, 2^(n-1-c))
  const T* L = nullptr;    // (B, 2^c)
  const T* tol = nullptr;  // (B,) tie tolerance: |s| <= tol counts as a tie
  T tie = 1;               // indicator value at a tie: 1 include, 0 exclude, 1/2 half
  int64_t B = 0;
  int64_t groups = 0;      // partial results per w (groups of consecutive chunks)
  double* out = nullptr;   // f: (groups, B, n+1) partial [f_0..f_{n-1}, mass]
  T* out_val = nullptr;    // delta: (groups, B) min |s|
  int64_t* out_idx = nullptr;  // delta: (groups, B) pair index of the minimiser
};

template <typename T> void hc_brute_f_cpu(const HcBruteArgs<T>& a);
template <typename T> void hc_brute_delta_cpu(const HcBruteArgs<T>& a);
template <typename T> void hc_log_partition_cpu(const HcBruteArgs<T>& a);
template <typename T> void hc_brute_f_cuda(const HcBruteArgs<T>& a, const DeviceContext& ctx);
template <typename T> void hc_brute_delta_cuda(const HcBruteArgs<T>& a, const DeviceContext& ctx);
template <typename T> void hc_log_partition_cuda(const HcBruteArgs<T>& a, const DeviceContext& ctx);

// Meet in the middle for product weights p(x) = prod_i q_i^[x_i=1] (1-q_i)^[x_i=-1], split into
// A = bits [0, hA) and B = the rest.
template <typename T>
struct HcMitmArgs {
  const T* w = nullptr;    // (B, n)
  const T* qA = nullptr;   // (n,) q_i = P(x_i = +1) of the product weights (f only)
  const T* tol = nullptr;  // (B,)
  T tie = 1;
  int32_t n = 0, hA = 0;
  int64_t B = 0;
  double* out = nullptr;       // f: (B, n+1) [f_0..f_{n-1}, mass]
  T* out_val = nullptr;        // delta: (B,)
  int64_t* out_idx = nullptr;  // delta: (B,) vertex index of the minimiser
};

template <typename T> void hc_mitm_f_cpu(const HcMitmArgs<T>& a);
template <typename T> void hc_mitm_delta_cpu(const HcMitmArgs<T>& a);

}  // namespace rs
