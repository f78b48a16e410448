// Optimizer kernels (core/ops/optim.h): Adam (Torch or TF order, IGEBM clip), SGD, the EMA update,
// gradient scale / clamp, elementwise and grid-stride over the shared EBM_HD element functions
// (the CPU runs the same functions, and tests/cpu/test_optim.cpp runs these bodies over the
// launch grid); and the two-pass, fixed-split norm pieces of gradient clipping (lanes = threads,
// the pairwise lane tree in shared memory: the CPU's norm_tree order, so the same bits).
// Kernels first, then the launchers.
#include <cuda_runtime.h>

#include <cstdint>
#include <initializer_list>

#include "core/common.h"
#include "core/ops/optim.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/optim.h"

namespace ebm::cuda {

namespace {

template <AdamEpsilon E, class T>
__global__ void __launch_bounds__(kOptimBlock) adam_kernel(AdamArgs<T> a, AdamPtrs<T> q) {
  adam_body<E, T>(a, q, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

template <bool Momentum, class T>
__global__ void __launch_bounds__(kOptimBlock) sgd_kernel(SgdArgs<T> a, SgdPtrs<T> q) {
  sgd_body<Momentum, T>(a, q, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

template <EmaForm F, class T>
__global__ void __launch_bounds__(kOptimBlock) ema_kernel(EmaArgs<T> a, EmaPtrs<T> q) {
  ema_body<F, T>(a, q, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

template <GradMap M, class T>
__global__ void __launch_bounds__(kOptimBlock) grad_map_kernel(GradMapArgs<T> a, GradMapPtrs<T> q) {
  grad_map_body<M, T>(a, q, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

// lanes[0] after the pairwise tree of norm_tree (thread t is lane t; all threads take part).
template <NormKind K>
__device__ double block_tree(double v, double* lanes) {
  lanes[threadIdx.x] = v;
  __syncthreads();
  for (uint32_t s = kNormLanes / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) lanes[threadIdx.x] = norm_combine<K>(lanes[threadIdx.x], lanes[threadIdx.x + s]);
    __syncthreads();
  }
  return lanes[0];
}

// Pass 1: block b reduces chunks b, b + grid, ... of x into workspace[chunk].
template <NormKind K, class T>
__global__ void __launch_bounds__(kNormLanes) norm_chunks_kernel(const T* x, int64_t n, double* ws) {
  __shared__ double lanes[kNormLanes];
  const int64_t chunks = norm_chunks(n);
  for (int64_t c = blockIdx.x; c < chunks; c += gridDim.x) {  // uniform over the block
    const int64_t end = (c + 1) * kNormChunk < n ? (c + 1) * kNormChunk : n;
    double acc = norm_identity<K>();
    for (int64_t i = c * kNormChunk + threadIdx.x; i < end; i += kNormLanes) acc = norm_fold<K, T>(acc, x[i]);
    const double r = block_tree<K>(acc, lanes);
    if (threadIdx.x == 0) ws[c] = r;
    __syncthreads();  // lanes is reused by the next chunk
  }
}

// Pass 2: one block folds the chunks' results (lane l: chunks l, l + kNormLanes, ...) into *out.
template <NormKind K>
__global__ void __launch_bounds__(kNormLanes) norm_final_kernel(const double* ws, int64_t chunks, double* out) {
  __shared__ double lanes[kNormLanes];
  double acc = norm_identity<K>();
  for (int64_t c = threadIdx.x; c < chunks; c += kNormLanes) acc = norm_combine<K>(acc, ws[c]);
  const double r = block_tree<K>(acc, lanes);
  if (threadIdx.x == 0) *out = r;
}

// ------------------------------------------------------------------------------------------------
// launchers

constexpr int kWavesPerSm = 8;  // grid-stride: a few waves of resident blocks on every SM
constexpr int64_t kMaxNormBlocks = 1024;

void check_pointer(const void* p, size_t align, const char* name, const char* what) {
  EBM_CHECK(p != nullptr, ValueError, name, ": null ", what, " pointer");
  EBM_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0, ValueError, name, ": ", what, " pointer ",
            p, " is not ", align, "-byte aligned");
}

bool prepare(int64_t n, const char* name) {
  EBM_CHECK(n >= 0, ValueError, name, ": negative element count ", n);
  return n > 0;
}

template <class T>
void adam_launch(AdamEpsilon mode, const AdamArgs<T>& a, const AdamPtrs<T>& q, StreamHandle stream) {
  const char* name = "cuda::adam_step";
  if (!prepare(a.n, name)) return;
  for (const void* p : {static_cast<const void*>(q.param), static_cast<const void*>(q.grad),
                        static_cast<const void*>(q.exp_avg), static_cast<const void*>(q.exp_avg_sq),
                        static_cast<const void*>(q.param_out), static_cast<const void*>(q.exp_avg_out),
                        static_cast<const void*>(q.exp_avg_sq_out)})
    check_pointer(p, alignof(T), name, "tensor");
  const OptimLaunchDims d = optim_launch_dims_for(current_device(), a.n);
  if (mode == AdamEpsilon::Torch)
    adam_kernel<AdamEpsilon::Torch, T><<<d.grid, d.block, 0, stream>>>(a, q);
  else
    adam_kernel<AdamEpsilon::Tf, T><<<d.grid, d.block, 0, stream>>>(a, q);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void sgd_launch(bool momentum, const SgdArgs<T>& a, const SgdPtrs<T>& q, StreamHandle stream) {
  const char* name = "cuda::sgd_step";
  if (!prepare(a.n, name)) return;
  check_pointer(q.param, alignof(T), name, "param");
  check_pointer(q.grad, alignof(T), name, "grad");
  check_pointer(q.param_out, alignof(T), name, "param_out");
  if (momentum) {
    if (!a.first) check_pointer(q.buf, alignof(T), name, "momentum buffer");
    check_pointer(q.buf_out, alignof(T), name, "momentum buffer out");
  }
  const OptimLaunchDims d = optim_launch_dims_for(current_device(), a.n);
  if (momentum)
    sgd_kernel<true, T><<<d.grid, d.block, 0, stream>>>(a, q);
  else
    sgd_kernel<false, T><<<d.grid, d.block, 0, stream>>>(a, q);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void ema_launch(EmaForm form, const EmaArgs<T>& a, const EmaPtrs<T>& q, StreamHandle stream) {
  const char* name = "cuda::ema_update";
  if (!prepare(a.n, name)) return;
  check_pointer(q.shadow, alignof(T), name, "shadow");
  check_pointer(q.value, alignof(T), name, "value");
  check_pointer(q.shadow_out, alignof(T), name, "shadow_out");
  const OptimLaunchDims d = optim_launch_dims_for(current_device(), a.n);
  if (form == EmaForm::Tf)
    ema_kernel<EmaForm::Tf, T><<<d.grid, d.block, 0, stream>>>(a, q);
  else
    ema_kernel<EmaForm::Lerp, T><<<d.grid, d.block, 0, stream>>>(a, q);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void grad_map_launch(GradMap op, const GradMapArgs<T>& a, const GradMapPtrs<T>& q, StreamHandle stream) {
  const char* name = "cuda::grad_map";
  if (!prepare(a.n, name)) return;
  check_pointer(q.x, alignof(T), name, "x");
  check_pointer(q.out, alignof(T), name, "out");
  const OptimLaunchDims d = optim_launch_dims_for(current_device(), a.n);
  if (op == GradMap::Scale)
    grad_map_kernel<GradMap::Scale, T><<<d.grid, d.block, 0, stream>>>(a, q);
  else
    grad_map_kernel<GradMap::Clamp, T><<<d.grid, d.block, 0, stream>>>(a, q);
  EBM_CUDA_CHECK_LAUNCH();
}

template <NormKind K, class T>
void norm_launch(const T* x, int64_t n, double* ws, double* out, StreamHandle stream) {
  const int64_t chunks = norm_chunks(n);
  const uint32_t grid = static_cast<uint32_t>(chunks < kMaxNormBlocks ? chunks : kMaxNormBlocks);
  if (chunks > 0) {
    norm_chunks_kernel<K, T><<<grid, kNormLanes, 0, stream>>>(x, n, ws);
    EBM_CUDA_CHECK_LAUNCH();
  }
  norm_final_kernel<K><<<1, kNormLanes, 0, stream>>>(ws, chunks, out);  // chunks == 0: writes 0
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void norm_part_launch(NormKind kind, const T* x, int64_t n, double* ws, double* out, StreamHandle stream) {
  const char* name = "cuda::norm_part";
  EBM_CHECK(n >= 0, ValueError, name, ": negative element count ", n);
  check_pointer(out, alignof(double), name, "out");
  if (n > 0) {
    check_pointer(x, alignof(T), name, "x");
    check_pointer(ws, alignof(double), name, "workspace");
  }
  if (kind == NormKind::SumSquares)
    norm_launch<NormKind::SumSquares, T>(x, n, ws, out, stream);
  else
    norm_launch<NormKind::MaxAbs, T>(x, n, ws, out, stream);
}

}  // namespace

OptimLaunchDims optim_launch_dims_for(int device, int64_t n) {
  return optim_launch_dims(n, static_cast<int64_t>(multiprocessor_count(device)) * kWavesPerSm);
}

void adam_step(AdamEpsilon mode, const AdamArgs<float>& a, const AdamPtrs<float>& q, StreamHandle s) {
  adam_launch(mode, a, q, s);
}
void adam_step(AdamEpsilon mode, const AdamArgs<double>& a, const AdamPtrs<double>& q, StreamHandle s) {
  adam_launch(mode, a, q, s);
}
void sgd_step(bool momentum, const SgdArgs<float>& a, const SgdPtrs<float>& q, StreamHandle s) {
  sgd_launch(momentum, a, q, s);
}
void sgd_step(bool momentum, const SgdArgs<double>& a, const SgdPtrs<double>& q, StreamHandle s) {
  sgd_launch(momentum, a, q, s);
}
void ema_update(EmaForm form, const EmaArgs<float>& a, const EmaPtrs<float>& q, StreamHandle s) {
  ema_launch(form, a, q, s);
}
void ema_update(EmaForm form, const EmaArgs<double>& a, const EmaPtrs<double>& q, StreamHandle s) {
  ema_launch(form, a, q, s);
}
void grad_map(GradMap op, const GradMapArgs<float>& a, const GradMapPtrs<float>& q, StreamHandle s) {
  grad_map_launch(op, a, q, s);
}
void grad_map(GradMap op, const GradMapArgs<double>& a, const GradMapPtrs<double>& q, StreamHandle s) {
  grad_map_launch(op, a, q, s);
}
void norm_part(NormKind kind, const float* x, int64_t n, double* ws, double* out, StreamHandle s) {
  norm_part_launch(kind, x, n, ws, out, s);
}
void norm_part(NormKind kind, const double* x, int64_t n, double* ws, double* out, StreamHandle s) {
  norm_part_launch(kind, x, n, ws, out, s);
}

}  // namespace ebm::cuda
