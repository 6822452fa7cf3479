// The CPU launcher's task loop, shared by the Hessian engine's two tile kernels
// (hessian_launcher.h: hess_tile for every network; small_net_launcher.h: small_net_tile for the
// students' shape; each in a translation unit per dtype so that they compile in parallel).
// Threads run (network, data chunk) tasks; each task loads tiles of kCpuLanes samples
// (structure-of-arrays rows, from the row-major inputs in place, so the lane loops vectorise) and
// folds each tile into one vector-wide accumulator per output slot, summed in a fixed order at
// the end of the task into its own slice of `part` — results are deterministic for any thread
// count. On x86-64 with GCC/Clang the task loop is also compiled for AVX2+FMA and for AVX-512,
// picked at run time (common/cpu_isa.h).
// Memory per thread: rows x kCpuLanes + len x (kVec + 1) + 2 kCpuLanes x max_width values.
#pragma once
#include <algorithm>
#include <cstdint>
#include <vector>

#include "common/cpu_isa.h"
#include "common/parallel.h"
#include "common/square_transpose.h"
#include "common/tile_cpu.h"
#include "common/vector_registers.h"
#include "hessian/hessian.h"
#include "hessian/hessian_flops.h"
#include "model/kink_math.h"

namespace rs {

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
  // The outer products of a layer's weight slots: slot slot0 + j sj + k (j < nj, k < nk) gets
  // the lane sum of a_j b_k (+ c_j d_k when two), row r of a at a + r * stride, likewise b, c, d.
  // A register block of kOuterJ x outer_k slots runs the lanes as the inner dimension of a small
  // matrix product: per lane, kOuterJ broadcasts of a_j (c_j) times outer_k / kVec vector loads
  // of b (d), which lie lane-major in bt (dt), copied once per call. Its sums go to the plain
  // accumulator `outer` (one value per slot); the slots outside the blocks use add_products.
  // Each slot sums its lanes in lane order, then adds into its accumulator: the same bits for
  // any thread count and block shape. O(nj nk L) multiply-adds (twice when two), O(nk L) copies.
  // outer_k: 2 kVec where the launch's ISA has 32 vector registers (vector_registers(); AVX-512:
  // the block's sums take 8 of them), kVec elsewhere (under AVX2 the wide block's 16 registers
  // of sums, all 16 there, spilled on every step).
  static constexpr int kOuterJ = 4;
  static constexpr int kOuterKWide = 2 * kVec<T>;
  T* outer = nullptr;
  T* bt = nullptr;  // kCpuLanes x max width: lane-major copies of b ...
  T* dt = nullptr;  // ... and of d
  void add_outer(int64_t slot0, int64_t sj, int nj, int nk, const T* a, const T* b, const T* c,
                 const T* d, int64_t stride, bool two) {
    const int n = valid, outer_k = vector_registers() >= 32 ? kOuterKWide : kVec<T>;
    const int nj_blocked = nj - nj % kOuterJ;  // no blocks (and no copies) below kOuterJ rows
    const int nk_blocked = nj_blocked > 0 ? nk - nk % outer_k : 0;
    lane_major(b, bt, n, nk, nk_blocked, stride);
    if (two) lane_major(d, dt, n, nk, nk_blocked, stride);
    for (int j0 = 0; j0 < nj_blocked; j0 += kOuterJ)
      for (int k0 = 0; k0 < nk_blocked; k0 += outer_k) {
        const int64_t slot = slot0 + j0 * sj + k0;
        const T *aj = a + j0 * stride, *cj = two ? c + j0 * stride : aj;
        if (outer_k == kOuterKWide && two)
          outer_block<true, kOuterKWide>(slot, sj, aj, cj, k0, nk, stride, n);
        else if (outer_k == kOuterKWide)
          outer_block<false, kOuterKWide>(slot, sj, aj, cj, k0, nk, stride, n);
        else if (two)
          outer_block<true, kVec<T>>(slot, sj, aj, cj, k0, nk, stride, n);
        else
          outer_block<false, kVec<T>>(slot, sj, aj, cj, k0, nk, stride, n);
      }
    for (int j = 0; j < nj; ++j)  // the slots outside the blocks
      for (int k = j < nj_blocked ? nk_blocked : 0; k < nk; ++k)
        add_products(slot0 + j * sj + k, a + j * stride, b + k * stride, two ? c + j * stride : a,
                     two ? d + k * stride : b, two);
  }
  // dst[i nk + k] = src[k stride + i] for lanes i < n, rows k < nk_blocked (a multiple of
  // kVec), in kVec x kVec squares of vector shuffles.
  static void lane_major(const T* src, T* dst, int n, int nk, int nk_blocked, int64_t stride) {
    constexpr int V = kVec<T>;
    const int n_sq = n - n % V;
    for (int i0 = 0; i0 < n_sq; i0 += V)
      for (int k0 = 0; k0 < nk_blocked; k0 += V)
        SquareTranspose<T>::run(src + k0 * stride + i0, stride, dst + int64_t(i0) * nk + k0, nk);
    for (int i = n_sq; i < n; ++i)
      for (int k = 0; k < nk_blocked; ++k) dst[int64_t(i) * nk + k] = src[k * stride + i];
  }
  template <bool TWO, int KB>
  void outer_block(int64_t slot, int64_t sj, const T* a, const T* c, int k0, int nk,
                   int64_t stride, int n) {
    T r[kOuterJ][KB];
    for (int jj = 0; jj < kOuterJ; ++jj) {
      RS_SIMD for (int q = 0; q < KB; ++q) r[jj][q] = T(0);
    }
    for (int i = 0; i < n; ++i) {
      const T* x = bt + int64_t(i) * nk + k0;
      for (int jj = 0; jj < kOuterJ; ++jj) {
        const T aj = a[jj * stride + i];
        RS_SIMD for (int q = 0; q < KB; ++q) r[jj][q] += aj * x[q];
      }
      if (TWO) {
        const T* y = dt + int64_t(i) * nk + k0;
        for (int jj = 0; jj < kOuterJ; ++jj) {
          const T cj = c[jj * stride + i];
          RS_SIMD for (int q = 0; q < KB; ++q) r[jj][q] += cj * y[q];
        }
      }
    }
    for (int jj = 0; jj < kOuterJ; ++jj) {
      T* o = outer + slot + jj * sj;
      RS_SIMD for (int q = 0; q < KB; ++q) o[q] += r[jj][q];
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

// Tasks [begin, end) with scratch s (rows x kCpuLanes) and the accumulators of acc (acc.p: len
// x kVec, acc.outer: len). xt, tt: the shared inputs and targets feature-major (d_in, N),
// (d_out, N), or null (then read in place). tiles.task(theta, v, s) starts a task of the network
// with parameters theta (P,) and directions v (K, P), the kink_max rows of s filled;
// tiles.tile(s, acc) runs one tile loaded into s, or, when Tiles::kRows > 0, tiles.tile(row, acc)
// one whose rows are at row[0..] (see the loop).
template <typename T, typename Tiles>
inline void run_tasks(const HessArgs<T>& a, int64_t begin, int64_t end, T* s, LaneAcc<T>& acc,
                      const T* xt, const T* tt, Tiles& tiles) {
  constexpr int kL = kCpuLanes<T>;
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, N = a.N, len = a.len();
  T* acc_slots = acc.p;
  acc.d_in = net.d_in;
  StopPoll<> stopped;
  for (int64_t task = begin; task < end && !stopped(); ++task) {
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
    std::fill(acc.outer, acc.outer + len, T(0));
    if (a.kinks)
      kink_row_max(net, a.theta + b * P, [&](int r) { return s + (a.lay.kink_max + r) * kL; });
    tiles.task(a.theta + b * P, v, s);
    // Where a target's or an input's row lies contiguous in the caller's arrays (its sample 0;
    // null: nowhere, so each tile loads it); the sample weights always do.
    auto t_place = [&](int j) -> const T* {
      return tt ? tt + j * N : net.d_out == 1 && !rows ? t : nullptr;
    };
    auto x_place = [&](int k) -> const T* {
      return xt ? xt + k * N : net.d_in == 1 && !rows ? x : nullptr;
    };
    int64_t n = n0;
    if constexpr (Tiles::kRows > 0) {
      // Tiles that read rows through pointers, when every row lies in place (shared or
      // one-column data, no minibatch rows): Tiles::kSpan whole tiles per call, with pointers
      // advanced by kSpan kL, none of the per-tile checks and loads of the loop below (which
      // then runs the last tiles one by one).
      const int n_rows = 1 + net.d_out + net.d_in;
      const T* row[Tiles::kRows];
      row[0] = w + n0;
      bool in_place = true;
      for (int j = 0; j < net.d_out; ++j) in_place &= (row[1 + j] = t_place(j)) != nullptr;
      for (int k = 0; k < net.d_in; ++k)
        in_place &= (row[1 + net.d_out + k] = x_place(k)) != nullptr;
      if (in_place) {
        for (int r = 1; r < n_rows; ++r) row[r] += n0;
        constexpr int kStep = Tiles::kSpan * kL;
        acc.valid = kStep;
        for (; n + kStep <= n1 && !stopped(); n += kStep) {
          if (a.dx) acc.dx = a.dx + (b * N + n) * net.d_in;
          tiles.tile(row, acc);
          for (int r = 0; r < n_rows; ++r) row[r] += kStep;
        }
      }
    }
    for (; n < n1 && !stopped(); n += kL) {
      // The tile's rows: row r (0: the sample weights, 1 + j: target j, 1 + d_out + k: input k)
      // into its scratch row dst, padding lanes repeating sample n0 with weight 0; or, for Tiles
      // that read rows through pointers (Tiles::kRows of them at most), a full tile's row in place
      // where its lanes are contiguous in the caller's arrays (`contiguous`, else null).
      const bool whole = n + kL <= n1;
      const T* row[Tiles::kRows > 0 ? Tiles::kRows : 1];
      auto tile_row = [&](int r, int dst, const T* contiguous, auto&& load) {
        if constexpr (Tiles::kRows > 0) {
          if (whole && contiguous) {
            row[r] = contiguous;
            return;
          }
          row[r] = s + dst * kL;
        }
        load(s + dst * kL);
      };
      tile_row(0, a.lay.w_row, w + n, [&](T* dst) { load_lanes<kL>(dst, w, n, n1, T(0)); });
      for (int j = 0; j < net.d_out; ++j) {
        const T pad = t[pad_row * net.d_out + j];
        const T* place = t_place(j);
        tile_row(1 + j, a.lay.t_row + j, place ? place + n : nullptr, [&](T* dst) {
          if (tt)
            load_lanes<kL>(dst, tt + j * N, n, n1, pad);
          else
            load_lanes_strided<kL>(dst, t + j, net.d_out, n, n1, pad, rows);
        });
      }
      for (int k = 0; k < net.d_in; ++k) {
        const T pad = x[pad_row * net.d_in + k];
        const T* place = x_place(k);
        tile_row(1 + net.d_out + k, a.lay.a[0] + k, place ? place + n : nullptr, [&](T* dst) {
          if (xt)
            load_lanes<kL>(dst, xt + k * N, n, n1, pad);
          else
            load_lanes_strided<kL>(dst, x + k, net.d_in, n, n1, pad, rows);
        });
      }
      acc.valid = int(std::min<int64_t>(kL, n1 - n));
      if (a.dx) acc.dx = a.dx + (b * N + n) * net.d_in;
      if constexpr (Tiles::kRows > 0)
        tiles.tile(row, acc);
      else
        tiles.tile(s, acc);
    }
    // Each slot's kVec partial sums, added in lane order from 0: whole squares of kVec slots
    // transposed (square_transpose.h), so the adds run over kVec slots at once, the same adds in
    // the same order as the scalar loop the rest take (its chains of dependent adds took ~5 % of
    // a float32 students' gradient).
    T* out = a.part + task * len;
    int64_t q = 0;
    for (; q + kVec<T> <= len; q += kVec<T>) {
      T lanes[kVec<T> * kVec<T>], sum[kVec<T>] = {};
      SquareTranspose<T>::run(acc_slots + q * kVec<T>, kVec<T>, lanes, kVec<T>);
      for (int i = 0; i < kVec<T>; ++i) {
        RS_SIMD for (int r = 0; r < kVec<T>; ++r) sum[r] += lanes[i * kVec<T> + r];
      }
      RS_SIMD for (int r = 0; r < kVec<T>; ++r) out[q + r] = sum[r] + acc.outer[q + r];
    }
    for (; q < len; ++q) {
      T sum = T(0);
      for (int i = 0; i < kVec<T>; ++i) sum += acc_slots[q * kVec<T> + i];
      out[q] = sum + acc.outer[q];
    }
  }
}

// Inputs shared by all networks (and read in order, not through rows) are copied feature-major
// once per call, O(N (d_in + d_out)), so every task loads its tiles with contiguous vector loads
// instead of strided ones (~7 % of a [2,5,1] forward). Per-network inputs stay in place: there
// the copy would cost as much as the loads it saves; so do data over kMaxTransposed values, whose
// copy would add much memory for little.
constexpr int64_t kMaxTransposed = int64_t(1) << 24;

// Every task of a's call, with a Tiles (run_tasks) made per thread by make_tiles(), compiled
// for every vector ISA, or when Tiles::kOneIsa for Tiles::kIsa alone (call_for_one_isa).
template <typename T, typename MakeTiles>
void hess_cpu_tasks(const HessArgs<T>& a, MakeTiles&& make_tiles) {
  const CpuIsa isa = cpu_isa();
  std::vector<T> xt, tt;
  const bool shared =
      !a.rows && a.B > 1 && a.N * (a.net.d_in + a.net.d_out) <= kMaxTransposed;
  if (shared && !a.x_per_net && a.net.d_in > 1) transpose_rows(a.x, 1, a.N, a.net.d_in, xt);
  if (shared && !a.t_per_net && a.net.d_out > 1) transpose_rows(a.t, 1, a.N, a.net.d_out, tt);
  const int64_t tasks = a.B * a.C;
  const int64_t grain = hess_cpu_inline(a.net, a.B, a.N, HessMode(a.mode), a.K)
                            ? tasks
                            : std::max<int64_t>(1, tasks / (8 * int64_t(max_threads())));
  parallel_for(tasks, grain, [&](int64_t begin, int64_t end, int) {
    const size_t lanes = kCpuLanes<T>, width = size_t(a.net.max_width), len = size_t(a.len());
    std::vector<T> scratch(size_t(a.lay.rows) * lanes), slots(len * kVec<T>), outer(len),
        transposed(2 * lanes * width);
    LaneAcc<T> acc{slots.data()};
    acc.outer = outer.data();
    acc.bt = transposed.data();
    acc.dt = acc.bt + lanes * width;
    const T* x = xt.empty() ? nullptr : xt.data();
    const T* t = tt.empty() ? nullptr : tt.data();
    auto tiles = make_tiles();
    auto run = [&] { run_tasks(a, begin, end, scratch.data(), acc, x, t, tiles); };
    using Tiles = decltype(tiles);
    if constexpr (Tiles::kOneIsa)
      call_for_one_isa<Tiles::kIsa>(run);
    else
      call_for_isa(isa, run);
  });
}

}  // namespace rs
