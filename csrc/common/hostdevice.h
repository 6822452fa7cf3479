// RS_HD marks arithmetic that is compiled for both launchers: the CPU loops (host compiler) and
// the CUDA kernels (nvcc). Kernel math lives in headers as RS_HD inline templates, once.
#pragma once

#if defined(__CUDACC__)
#define RS_HD __host__ __device__ __forceinline__
#else
#define RS_HD inline
#endif

// Marks a lane loop as free of loop-carried dependences and aliasing so the host compiler
// vectorises it (instead of unrolling it into scalar code); empty under nvcc (one lane there).
#if defined(__CUDACC__)
#define RS_SIMD
#elif defined(RELUSCOPE_OPENMP_SIMD)
#define RS_SIMD _Pragma("omp simd")
#elif defined(__GNUC__)
#define RS_SIMD _Pragma("GCC ivdep")
#else
#define RS_SIMD
#endif
