// cuda_probe: the driver and runtime versions and one tiny kernel launched through this
// extension's own (statically linked) CUDA runtime, so a GPU check fails first, and clearly, on a
// driver too old for the runtime. Host code plus a one-thread kernel; no effect on other state.
#include <cuda_runtime.h>

#include <string>

#include "common/cuda_probe.h"
#include "common/cuda_utils.cuh"

namespace rs {

namespace {
__global__ void probe_kernel(int* out) { *out = 42; }
}  // namespace

CudaProbe cuda_probe(int device) {
  CudaProbe p;
  RS_CUDA_CHECK(cudaDriverGetVersion(&p.driver_version));
  RS_CUDA_CHECK(cudaRuntimeGetVersion(&p.runtime_version));
  CudaDeviceGuard guard(device);
  cudaDeviceProp prop;
  RS_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  p.device_name = prop.name;
  p.compute_capability = prop.major * 10 + prop.minor;
  int* d = nullptr;
  RS_CUDA_CHECK(cudaMalloc(&d, sizeof(int)));
  probe_kernel<<<1, 1>>>(d);
  const cudaError_t launch = cudaGetLastError();
  int value = 0;
  const cudaError_t copy = cudaMemcpy(&value, d, sizeof(int), cudaMemcpyDeviceToHost);
  cudaFree(d);
  RS_CUDA_CHECK(launch);
  RS_CUDA_CHECK(copy);
  p.kernel_ok = value == 42;
  return p;
}

}  // namespace rs
