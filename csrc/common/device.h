// Where a kernel runs, as seen by the launchers (no nanobind, no CUDA headers: usable everywhere).
#pragma once
#include <cstdint>

namespace rs {

struct DeviceContext {
  bool cuda = false;          // false: CPU (thread pool)
  int device_id = 0;          // CUDA device ordinal
  std::uintptr_t stream = 0;  // cudaStream_t handed in from Python (torch's current stream)
};

#if defined(RELUSCOPE_WITH_CUDA)
inline constexpr bool kWithCuda = true;
#else
inline constexpr bool kWithCuda = false;
#endif

}  // namespace rs
