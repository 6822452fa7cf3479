// CPU launcher of the Hessian engine: threads over (network, data chunk) tasks; each task runs
// hess_tile on tiles of kCpuLanes samples (structure-of-arrays rows, loaded from the row-major
// inputs in place, so the lane loops vectorise) and folds each tile into one vector-wide
// accumulator per output slot, summed in a fixed order at the end of the task into its own slice
// of `part` — results are deterministic for any thread count.
// On x86-64 with GCC/Clang the task loop is also compiled for AVX2+FMA and for AVX-512, picked at
// run time (common/cpu_isa.h).
// Time O(B N (P + K P)); memory per thread: rows x kCpuLanes + len x kVec values.
#include <algorithm>
#include <vector>

#include "common/cpu_isa.h"
#include "common/parallel.h"
#include "common/tile_cpu.h"
#include "hessian/hessian.h"
#include "hessian/hessian_math.h"
#include "model/kink_math.h"

namespace rs {

namespace {


// Accumulator slots are one 64-byte vector wide: add() folds the tile's lanes into it in a fixed
// order (deterministic), so a slot costs one load and store per tile instead of kCpuLanes of each.
// Lanes past `valid` (the padding of a task's last tile) are left out by a select, not multiplied
// by their zero weight: an inf there would otherwise add NaN.
template <typename T>
constexpr int kVec = 64 / int(sizeof(T));

// store_input_grad writes the tile's valid lanes of input gradient k into dx (the tile's first
// sample's row of the (B, N, d_in) output).
template <typename T>
struct LaneAcc {
  T* p;
  int valid = kCpuLanes<T>;
  T* dx = nullptr;
  int d_in = 0;
  void store_input_grad(int k, const T* lanes) {
    for (int i = 0; i < valid; ++i) dx[int64_t(i) * d_in + k] = lanes[i];
  }
  // add() of the lanes a b (+ c d when two), without the values going through memory.
  void add_products(int64_t slot, const T* a, const T* b, const T* c, const T* d, bool two) {
    T* q = p + slot * kVec<T>;
    if (valid == kCpuLanes<T> && !two) {
      RS_SIMD for (int i = 0; i < kVec<T>; ++i) {
        T r = a[i] * b[i];
        for (int g = kVec<T>; g < kCpuLanes<T>; g += kVec<T>) r += a[g + i] * b[g + i];
        q[i] += r;
      }
    } else if (valid == kCpuLanes<T>) {
      RS_SIMD for (int i = 0; i < kVec<T>; ++i) {
        T r = a[i] * b[i];
        r += c[i] * d[i];
        for (int g = kVec<T>; g < kCpuLanes<T>; g += kVec<T>) {
          T v = a[g + i] * b[g + i];
          v += c[g + i] * d[g + i];
          r += v;
        }
        q[i] += r;
      }
    } else {
      T val[kCpuLanes<T>];
      RS_SIMD for (int i = 0; i < kCpuLanes<T>; ++i) {
        val[i] = a[i] * b[i];
        if (two) val[i] += c[i] * d[i];
      }
      add(slot, val);
    }
  }
  // add_products of four slots, s_jk <- a_j b_k (+ c_j d_k), each slot's sum in the same order
  // as add_products (the same bits), each row loaded once for two slots.
  void add_products_2x2(int64_t s00, int64_t s01, int64_t s10, int64_t s11, const T* a0,
                        const T* a1, const T* b0, const T* b1, const T* c0, const T* c1,
                        const T* d0, const T* d1, bool two) {
    if (valid != kCpuLanes<T>) {
      add_products(s00, a0, b0, c0, d0, two);
      add_products(s01, a0, b1, c0, d1, two);
      add_products(s10, a1, b0, c1, d0, two);
      add_products(s11, a1, b1, c1, d1, two);
      return;
    }
    T* q00 = p + s00 * kVec<T>;
    T* q01 = p + s01 * kVec<T>;
    T* q10 = p + s10 * kVec<T>;
    T* q11 = p + s11 * kVec<T>;
    if (!two) {
      RS_SIMD for (int i = 0; i < kVec<T>; ++i) {
        T r00 = a0[i] * b0[i], r01 = a0[i] * b1[i], r10 = a1[i] * b0[i], r11 = a1[i] * b1[i];
        for (int g = kVec<T>; g < kCpuLanes<T>; g += kVec<T>) {
          r00 += a0[g + i] * b0[g + i];
          r01 += a0[g + i] * b1[g + i];
          r10 += a1[g + i] * b0[g + i];
          r11 += a1[g + i] * b1[g + i];
        }
        q00[i] += r00; q01[i] += r01; q10[i] += r10; q11[i] += r11;
      }
    } else {
      RS_SIMD for (int i = 0; i < kVec<T>; ++i) {
        T r00 = a0[i] * b0[i], r01 = a0[i] * b1[i], r10 = a1[i] * b0[i], r11 = a1[i] * b1[i];
        r00 += c0[i] * d0[i];
        r01 += c0[i] * d1[i];
        r10 += c1[i] * d0[i];
        r11 += c1[i] * d1[i];
        for (int g = kVec<T>; g < kCpuLanes<T>; g += kVec<T>) {
          T v00 = a0[g + i] * b0[g + i], v01 = a0[g + i] * b1[g + i];
          T v10 = a1[g + i] * b0[g + i], v11 = a1[g + i] * b1[g + i];
          v00 += c0[g + i] * d0[g + i];
          v01 += c0[g + i] * d1[g + i];
          v10 += c1[g + i] * d0[g + i];
          v11 += c1[g + i] * d1[g + i];
          r00 += v00; r01 += v01; r10 += v10; r11 += v11;
        }
        q00[i] += r00; q01[i] += r01; q10[i] += r10; q11[i] += r11;
      }
    }
  }
  // One pass over the slot's vector: each lane i of it sums lanes i, i + kVec, ... in that order
  // in a register. (Folding into a local array first made GCC copy it with 16-byte moves and
  // reload it with 32-byte ones, a store-forwarding stall: 40 % of a full Hessian's time.)
  void add(int64_t slot, const T* lanes) {
    T* q = p + slot * kVec<T>;
    if (valid == kCpuLanes<T>) {
      RS_SIMD for (int i = 0; i < kVec<T>; ++i) {
        T r = lanes[i];
        for (int c = kVec<T>; c < kCpuLanes<T>; c += kVec<T>) r += lanes[c + i];
        q[i] += r;
      }
    } else {
      RS_SIMD for (int i = 0; i < kVec<T>; ++i) {
        T r = i < valid ? lanes[i] : T(0);
        for (int c = kVec<T>; c < kCpuLanes<T>; c += kVec<T>)
          r += c + i < valid ? lanes[c + i] : T(0);
        q[i] += r;
      }
    }
  }
};

// Tasks [begin, end) with scratch s (rows x kCpuLanes) and accumulators (len x kVec). xt, tt:
// the shared inputs and targets feature-major (d_in, N), (d_out, N), or null (then read in place).
template <bool UNIT, typename T>
inline void run_tasks(const HessArgs<T>& a, int64_t begin, int64_t end, T* s, T* acc_slots,
                      const T* xt, const T* tt) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, N = a.N, len = a.len();
  LaneAcc<T> acc{acc_slots};
  acc.d_in = net.d_in;
  for (int64_t task = begin; task < end && !stop_requested(); ++task) {
    const int64_t b = task / a.C, c = task % a.C;
    const int64_t n0 = N * c / a.C, n1 = N * (c + 1) / a.C;
    const T* x = a.x + (a.x_per_net ? b * a.D * net.d_in : 0);
    const T* t = a.t + (a.t_per_net ? b * a.D * net.d_out : 0);
    const int64_t* rows = a.rows ? a.rows + b * N : nullptr;
    // padding lanes repeat sample n0 (no row is read when the chunk holds no sample)
    const int64_t pad_row = rows && n1 > n0 ? rows[n0] : n0;
    const T* w = a.w + (a.w_per_net ? b * N : 0);
    const T* v = a.v ? a.v + (a.v_per_net ? b * a.K * P : 0) : nullptr;
    std::fill(acc_slots, acc_slots + len * kVec<T>, T(0));
    if (a.kinks)
      kink_row_max(net, a.theta + b * P, [&](int r) { return s + (a.lay.kink_max + r) * kL; });
    for (int64_t n = n0; n < n1 && !stop_requested(); n += kL) {
      // load the tile; padding lanes repeat sample n0 with weight 0
      load_lanes<kL>(s + a.lay.w_row * kL, w, n, n1, T(0));
      for (int j = 0; j < net.d_out; ++j) {
        T* dst = s + (a.lay.t_row + j) * kL;
        const T pad = t[pad_row * net.d_out + j];
        if (tt)
          load_lanes<kL>(dst, tt + j * N, n, n1, pad);
        else
          load_lanes_strided<kL>(dst, t + j, net.d_out, n, n1, pad, rows);
      }
      for (int k = 0; k < net.d_in; ++k) {
        T* dst = s + (a.lay.a[0] + k) * kL;
        const T pad = x[pad_row * net.d_in + k];
        if (xt)
          load_lanes<kL>(dst, xt + k * N, n, n1, pad);
        else
          load_lanes_strided<kL>(dst, x + k, net.d_in, n, n1, pad, rows);
      }
      acc.valid = int(std::min<int64_t>(kL, n1 - n));
      if (a.dx) acc.dx = a.dx + (b * N + n) * net.d_in;
      hess_tile<kL, kL, UNIT>(a, a.theta + b * P, v, s, kL, acc);
    }
    T* out = a.part + task * len;
    for (int64_t q = 0; q < len; ++q) {
      T sum = T(0);
      for (int i = 0; i < kVec<T>; ++i) sum += acc_slots[q * kVec<T> + i];
      out[q] = sum;
    }
  }
}

}  // namespace

// Inputs shared by all networks (and read in order, not through rows) are copied feature-major
// once per call, O(N (d_in + d_out)), so every task loads its tiles with contiguous vector loads
// instead of strided ones (~7 % of a [2,5,1] forward). Per-network inputs stay in place: there
// the copy would cost as much as the loads it saves; so do data over kMaxTransposed values, whose
// copy would add much memory for little.
constexpr int64_t kMaxTransposed = int64_t(1) << 24;

template <typename T>
void hess_cpu(const HessArgs<T>& a) {
  const CpuIsa isa = cpu_isa();
  std::vector<T> xt, tt;
  const bool shared =
      !a.rows && a.B > 1 && a.N * (a.net.d_in + a.net.d_out) <= kMaxTransposed;
  if (shared && !a.x_per_net && a.net.d_in > 1) transpose_rows(a.x, 1, a.N, a.net.d_in, xt);
  if (shared && !a.t_per_net && a.net.d_out > 1) transpose_rows(a.t, 1, a.N, a.net.d_out, tt);
  const int64_t tasks = a.B * a.C;
  const int64_t grain = std::max<int64_t>(1, tasks / (8 * int64_t(max_threads())));
  parallel_for(tasks, grain, [&](int64_t begin, int64_t end, int) {
    std::vector<T> scratch(size_t(a.lay.rows) * kCpuLanes<T>), acc(size_t(a.len()) * kVec<T>);
    const T* x = xt.empty() ? nullptr : xt.data();
    const T* t = tt.empty() ? nullptr : tt.data();
    // one function per kind of directions (each flattened into its own, ISA-specific code)
    if (a.unit_first >= 0)
      call_for_isa(isa, [&] { run_tasks<true>(a, begin, end, scratch.data(), acc.data(), x, t); });
    else
      call_for_isa(isa, [&] { run_tasks<false>(a, begin, end, scratch.data(), acc.data(), x, t); });
  });
}

template void hess_cpu<float>(const HessArgs<float>&);
template void hess_cpu<double>(const HessArgs<double>&);

}  // namespace rs
