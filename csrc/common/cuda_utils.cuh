// CUDA launch helpers: error checks that raise (never abort), a device guard, the stream.
#pragma once
#include <cuda_runtime.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#define RS_CUDA_CHECK(expr)                                                               \
  do {                                                                                    \
    cudaError_t rs_err_ = (expr);                                                         \
    if (rs_err_ != cudaSuccess)                                                           \
      throw std::runtime_error(std::string("CUDA error in ") + #expr + ": " +            \
                               cudaGetErrorString(rs_err_) + " (" + __FILE__ + ":" +     \
                               std::to_string(__LINE__) + ")");                          \
  } while (0)

// Check the launch that just happened on this thread (bad configuration, missing kernel image).
#define RS_CUDA_CHECK_LAUNCH() RS_CUDA_CHECK(cudaGetLastError())

namespace rs {

inline cudaStream_t as_stream(std::uintptr_t handle) {
  return reinterpret_cast<cudaStream_t>(handle);
}

// Makes `device` current for the scope of the guard (tensors may live on any visible GPU).
class CudaDeviceGuard {
 public:
  explicit CudaDeviceGuard(int device) {
    RS_CUDA_CHECK(cudaGetDevice(&previous_));
    if (previous_ != device) RS_CUDA_CHECK(cudaSetDevice(device));
  }
  ~CudaDeviceGuard() { cudaSetDevice(previous_); }
  CudaDeviceGuard(const CudaDeviceGuard&) = delete;
  CudaDeviceGuard& operator=(const CudaDeviceGuard&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace rs
