// RS_HD marks arithmetic that is compiled for both launchers: the OpenMP CPU loops (host compiler)
// and the CUDA kernels (nvcc). Kernel math lives in headers as RS_HD inline templates, once.
#pragma once

#if defined(__CUDACC__)
#define RS_HD __host__ __device__ __forceinline__
#else
#define RS_HD inline
#endif
