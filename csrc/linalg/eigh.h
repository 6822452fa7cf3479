// Batched symmetric eigendecomposition of many small matrices (the finder's dense steps, the
// Hessian spectra): A (B, n, n) -> eigenvalues (B, n) ascending and, optionally, eigenvectors
// (B, n, n) as columns, as torch.linalg.eigh (which reads the lower triangle). One matrix per CPU
// thread or CUDA thread; the arithmetic is eigh_math.h's. O(B n^3) time.
#pragma once
#include <cstdint>

#include "common/device.h"

namespace rs {

// The largest n the kernel takes: one matrix of 1024 takes ~0.4 s on one core, the longest
// stretch between two Ctrl-C checks (between matrices); beyond ~128 LAPACK's blocked solver is
// faster anyway (reluscope.hessian.spectrum picks).
inline constexpr int64_t kEighMaxN = 1024;

template <typename T>
struct EighArgs {
  const T* A = nullptr;   // (B, n, n), lower triangle read
  T* values = nullptr;    // (B, n)
  T* vectors = nullptr;   // (B, n, n) or nullptr (values only)
  int64_t B = 0;
  int n = 0;
  T* workspace = nullptr;  // CUDA only: eigh_workspace values
};

// Scratch values a call needs: 0 on the CPU (per-thread buffers); on CUDA n per matrix, plus n^2
// per matrix when no vectors are asked for (the reduction's scratch matrix).
int64_t eigh_workspace(int64_t B, int64_t n, bool vectors, bool cuda);

template <typename T>
void eigh_cpu(const EighArgs<T>& a);

template <typename T>
void eigh_cuda(const EighArgs<T>& a, const DeviceContext& ctx);

}  // namespace rs
