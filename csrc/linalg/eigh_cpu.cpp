// CPU launcher of the batched eigensolver: matrices spread over the pool's threads in chunks of
// at least ~32k flops, one matrix at a time per thread (eigh_matrix, compiled for the widest
// vector ISA the CPU has: the rotations and reflector sweeps are contiguous row loops). O(n^3)
// per matrix; scratch per chunk: n (+ n^2 without vectors). Stops between matrices on Ctrl-C.
#include <algorithm>
#include <vector>

#include "common/cpu_isa.h"
#include "common/parallel.h"
#include "linalg/eigh.h"
#include "linalg/eigh_math.h"

namespace rs {

template <typename T>
void eigh_cpu(const EighArgs<T>& a) {
  const int n = a.n;
  const int64_t nn = int64_t(n) * n;
  const CpuIsa isa = cpu_isa();
  const int64_t grain = std::max<int64_t>(1, 32768 / (nn * n));  // >= ~32k flops per chunk
  parallel_for(a.B, grain, [&](int64_t b0, int64_t b1, int) {
    std::vector<T> scratch(size_t(n + (a.vectors ? 0 : nn)));
    T* e = scratch.data();
    call_for_isa(isa, [&] {
      for (int64_t b = b0; b < b1 && !stop_requested(); ++b) {
        if (a.vectors)
          eigh_matrix<true>(a.A + b * nn, a.vectors + b * nn, a.values + b * n, e, n);
        else
          eigh_matrix<false>(a.A + b * nn, e + n, a.values + b * n, e, n);
      }
    });
  });
}

template void eigh_cpu<float>(const EighArgs<float>&);
template void eigh_cpu<double>(const EighArgs<double>&);

}  // namespace rs
