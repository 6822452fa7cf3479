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

enum HypercubeWeightKind : int32_t { kUniformW = 0, kProductW = 1, kIsingW = 2, kTableW = 3 };

inline constexpr int kMaxChunkBits = 16;  // c <= 16: per-chunk buffers fit in cache

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
  T log_z = 0;                 // Ising: log normaliser (0 for the log-partition sweep itself)
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
