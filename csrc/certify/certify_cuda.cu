// CUDA launcher of reluscope.certify's enclosures (the math of certify_math.h, one thread per
// (network, data chunk) task): each thread sums cert_sample over its chunk's samples in sample
// order into its own partial sums in the workspace; a second kernel ORs the chunks' flags per
// network, a third reduces each output slot over the chunks in chunk order (cert_reduce_slot) and
// flags non-finite ones. No atomics on values: a call gives the same bits every time.
// Workspace (certify_plan): [tasks x len partial intervals | tasks flags | tasks x (rows + 2P)
// scratch intervals]. Time O(B N P^2) interval operations spread over B x chunks threads.
// Compile-checked only so far: never run on a GPU.
#include "certify/certify.h"
#include "certify/certify_math.h"
#include "common/cuda_utils.cuh"
#include "common/error.h"

namespace rs {

namespace {

struct Workspace {
  Interval* part;
  double* flags;
  Interval* scratch;
};

__host__ __device__ inline Workspace split(const CertArgs& a) {
  const int64_t tasks = a.B * a.C, len = a.len();
  Workspace w;
  w.part = reinterpret_cast<Interval*>(a.workspace);
  w.flags = a.workspace + tasks * 2 * len;
  w.scratch = reinterpret_cast<Interval*>(a.workspace + tasks * (2 * len + 1));
  return w;
}

__global__ void cert_tasks_kernel(CertArgs a) {
  const int64_t task = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (task >= a.B * a.C) return;
  const NetSpec& net = a.net;
  const int64_t P = net.n_params, len = a.len(), b = task / a.C, c = task % a.C;
  const int64_t n0 = a.N * c / a.C, n1 = a.N * (c + 1) / a.C;
  const Workspace ws = split(a);
  Interval* s = ws.scratch + task * (a.lay.rows + 2 * P);
  Interval* th = s + a.lay.rows;
  Interval* acc = ws.part + task * len;
  const double* x = a.x + (a.x_per_net ? b * a.N * net.d_in : 0);
  const double* t = a.t + (a.t_per_net ? b * a.N * net.d_out : 0);
  const double* w = a.w + (a.w_per_net ? b * a.N : 0);
  const Interval* tc = cert_box(a, b, th);
  for (int64_t q = 0; q < len; ++q) acc[q] = point(0.0);
  int32_t flags = 0;
  for (int64_t n = n0; n < n1; ++n)
    if (w[n] != 0.0)
      flags |= cert_sample(a, th, tc, x + n * net.d_in, t + n * net.d_out, w[n], s, acc);
  ws.flags[task] = double(flags);
}

__global__ void cert_flags_kernel(CertArgs a) {
  const int64_t b = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b >= a.B) return;
  const Workspace ws = split(a);
  int32_t flags = 0;
  for (int64_t c = 0; c < a.C; ++c) flags |= int32_t(ws.flags[b * a.C + c]);
  a.out_flags[b] = flags;
}

__global__ void cert_reduce_kernel(CertArgs a) {
  const int64_t len = a.len(), i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= a.B * len) return;
  const int64_t b = i / len, q = i % len;
  const Workspace ws = split(a);
  const Interval v = cert_reduce_slot(ws.part + b * a.C * len, a.C, len, a.net.n_params, q);
  const int32_t f = cert_store_slot(a, b, q, v);
  if (f) atomicOr(a.out_flags + b, f);
}

unsigned blocks_for(int64_t items, int block) {
  return static_cast<unsigned>((items + block - 1) / block);
}

}  // namespace

void certify_cuda(const CertArgs& a, const DeviceContext& ctx) {
  RS_CHECK(blocks_for(a.B * a.len(), kCertCudaBlock) < (1u << 31),
           "too many outputs for one certify call: split the networks");
  CudaDeviceGuard guard(ctx.device_id);
  const cudaStream_t stream = as_stream(ctx.stream);
  cert_tasks_kernel<<<blocks_for(a.B * a.C, kCertCudaBlock), kCertCudaBlock, 0, stream>>>(a);
  RS_CUDA_CHECK_LAUNCH();
  cert_flags_kernel<<<blocks_for(a.B, kCertCudaBlock), kCertCudaBlock, 0, stream>>>(a);
  RS_CUDA_CHECK_LAUNCH();
  cert_reduce_kernel<<<blocks_for(a.B * a.len(), kCertCudaBlock), kCertCudaBlock, 0, stream>>>(a);
  RS_CUDA_CHECK_LAUNCH();
}

}  // namespace rs
