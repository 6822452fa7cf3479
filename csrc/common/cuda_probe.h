// What cuda_probe (cuda_probe.cu, CUDA builds only) reports.
#pragma once
#include <string>

namespace rs {

struct CudaProbe {
  int driver_version = 0;   // cudaDriverGetVersion: 13000 = 13.0
  int runtime_version = 0;  // cudaRuntimeGetVersion of the runtime linked into the extension
  std::string device_name;
  int compute_capability = 0;  // 90 = sm_90
  bool kernel_ok = false;      // a one-thread kernel ran and its result came back
};

CudaProbe cuda_probe(int device);

}  // namespace rs
