// Reduction kernels: sum and max of the middle axis of an (outer, r, inner) array, deterministic
// (style.md practice 13: fixed-order block trees and two passes, never float atomics). The split
// into kernels and passes is kernels/reduce_plan.h; the arithmetic (identity, combine, the
// accumulator type) is core/ops/reduce.h, shared with the CPU.
//
// Accumulator: float32 sums accumulate in double, like the CPU. A sum over r elements in float
// would carry an error of up to ~r·2^-24·Σ|x| that depends on the order of the additions, so the
// GPU and CPU results would differ by ~1e-6·sqrt(r) relative in practice; in double that noise is
// ~2^-53 relative per addition and both backends round the same exact-to-double sum to float,
// which makes them agree to the last float bit almost always (see tests/cuda/test_reduce_cuda.cpp
// for the bound). The price is double adds, which a memory-bound reduction hides on data-centre
// GPUs (an H100 adds 1 double per 4 loaded bytes with FP64 throughput to spare); partial results
// of two-pass reductions are stored in double too. Kernels first, then the launchers.
#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/kernels/reduce_plan.h"
#include "cuda/reduce.h"

namespace ebm::cuda {

namespace k = kernels;

namespace {

constexpr int kWarp = 32;
constexpr int kWarpsPerBlock = static_cast<int>(k::kReduceBlock) / kWarp;
static_assert(k::kReduceBlock % kWarp == 0 && kWarpsPerBlock <= kWarp,
              "the block tree reduces one value per warp within a single warp");

// The value of thread 0 after folding all threads' values of the block in a fixed tree: within
// each warp by shuffles (lane l takes lane l + 16, + 8, ... ), then the warps' results by warp 0 in
// the same way. `shared` holds one value per warp; the trailing barrier lets the caller reuse it.
template <ReduceOp Op, class A>
__device__ A block_reduce(A v, A* shared) {
  for (int offset = kWarp / 2; offset > 0; offset /= 2)
    v = reduce_combine<Op>(v, __shfl_down_sync(0xffffffffu, v, offset));
  const int lane = threadIdx.x % kWarp, warp = threadIdx.x / kWarp;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < kWarpsPerBlock ? shared[lane] : reduce_identity<Op, A>();
    for (int offset = kWarp / 2; offset > 0; offset /= 2)
      v = reduce_combine<Op>(v, __shfl_down_sync(0xffffffffu, v, offset));
  }
  __syncthreads();
  return v;
}

// inner == 1: block b reduces outputs b, b + grid, ... of (rows, chunks); output o = (row, chunk)
// folds x[row, k] for k in the chunk, thread t taking k = k0 + t, k0 + t + 256, ... in order.
template <ReduceOp Op, class In, class A, class Out>
__global__ void __launch_bounds__(k::kReduceBlock)
    reduce_rows_kernel(const In* x, Out* y, int64_t rows, int64_t r, int64_t chunks,
                       int64_t chunk_len) {
  __shared__ A shared[kWarpsPerBlock];
  const int64_t outputs = rows * chunks;
  for (int64_t o = blockIdx.x; o < outputs; o += gridDim.x) {  // uniform over the block
    const int64_t row = o / chunks, c = o - row * chunks;
    const int64_t k0 = c * chunk_len;
    const int64_t k1 = k0 + chunk_len < r ? k0 + chunk_len : r;
    const In* base = x + row * r;
    A acc = reduce_identity<Op, A>();
    for (int64_t kk = k0 + threadIdx.x; kk < k1; kk += blockDim.x)
      acc = reduce_combine<Op>(acc, static_cast<A>(base[kk]));
    acc = block_reduce<Op>(acc, shared);
    if (threadIdx.x == 0) y[o] = static_cast<Out>(acc);
  }
}

// inner > 1: thread t reduces output t of (outer, chunks, inner), walking down its column of the
// chunk in order; neighbouring threads read neighbouring addresses.
template <ReduceOp Op, class In, class A, class Out>
__global__ void __launch_bounds__(k::kReduceBlock)
    reduce_cols_kernel(const In* x, Out* y, int64_t outer, int64_t r, int64_t inner, int64_t chunks,
                       int64_t chunk_len) {
  const int64_t outputs = outer * chunks * inner;
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < outputs;
       t += stride) {
    const int64_t oc = t / inner, i = t - oc * inner;
    const int64_t o = oc / chunks, c = oc - o * chunks;
    const int64_t k0 = c * chunk_len;
    const int64_t k1 = k0 + chunk_len < r ? k0 + chunk_len : r;
    const In* p = x + (o * r + k0) * inner + i;
    A acc = reduce_identity<Op, A>();
    for (int64_t kk = k0; kk < k1; ++kk, p += inner) acc = reduce_combine<Op>(acc, static_cast<A>(*p));
    y[t] = static_cast<Out>(acc);
  }
}

// ------------------------------------------------------------------------------------------------
// launchers

constexpr int64_t kWavesPerSm = 8;  // 8 blocks of 256 threads fill an SM of 2048 threads once

int64_t max_blocks() {
  if (device_count() == 0) check_device(0);  // DeviceError naming the reason
  return static_cast<int64_t>(multiprocessor_count(current_device())) * kWavesPerSm;
}

// One pass: x (outer, r, inner) -> y (outer, chunks, inner).
template <ReduceOp Op, class In, class A, class Out>
void launch_pass(const In* x, Out* y, int64_t outer, int64_t r, int64_t inner, int64_t chunks,
                 int64_t chunk_len, int64_t cap, StreamHandle stream) {
  if (inner == 1) {
    const int64_t blocks = outer * chunks < cap ? outer * chunks : cap;
    reduce_rows_kernel<Op, In, A, Out><<<static_cast<unsigned>(blocks), k::kReduceBlock, 0, stream>>>(
        x, y, outer, r, chunks, chunk_len);
  } else {
    int64_t blocks = ceil_div<int64_t>(outer * chunks * inner, k::kReduceBlock);
    if (blocks > cap) blocks = cap;
    reduce_cols_kernel<Op, In, A, Out><<<static_cast<unsigned>(blocks), k::kReduceBlock, 0, stream>>>(
        x, y, outer, r, inner, chunks, chunk_len);
  }
  EBM_CUDA_CHECK_LAUNCH();
}

template <ReduceOp Op, class T>
void reduce_impl(const T* x, T* y, int64_t outer, int64_t r, int64_t inner, void* workspace,
                 size_t workspace_bytes, StreamHandle stream) {
  using A = ReduceAcc<T, Op>;
  const char* name = Op == ReduceOp::Sum ? "sum" : "max";
  EBM_CHECK(outer >= 0 && r >= 0 && inner >= 0, ValueError, name, ": negative extent in (", outer,
            ", ", r, ", ", inner, ")");
  if (outer * inner == 0) return;
  EBM_CHECK(y != nullptr, ValueError, name, ": null output pointer");
  EBM_CHECK(reinterpret_cast<uintptr_t>(y) % alignof(T) == 0, ValueError, name,
            ": output pointer is not ", alignof(T), "-byte aligned");
  EBM_CHECK(r == 0 || x != nullptr, ValueError, name, ": null input pointer");
  EBM_CHECK(reinterpret_cast<uintptr_t>(x) % alignof(T) == 0, ValueError, name,
            ": input pointer is not ", alignof(T), "-byte aligned");
  const k::ReducePlan plan = k::plan_reduce(outer, r, inner);
  const int64_t cap = max_blocks();
  if (plan.chunks == 1) {
    launch_pass<Op, T, A, T>(x, y, outer, r, inner, 1, r, cap, stream);
    return;
  }
  const size_t need = static_cast<size_t>(plan.workspace_elems) * sizeof(A);
  EBM_CHECK(workspace != nullptr && workspace_bytes >= need, ValueError, name, ": reducing (",
            outer, ", ", r, ", ", inner, ") needs ", need, " bytes of workspace, got ",
            workspace_bytes);
  EBM_CHECK(reinterpret_cast<uintptr_t>(workspace) % alignof(A) == 0, ValueError, name,
            ": workspace is not ", alignof(A), "-byte aligned");
  A* partial = static_cast<A*>(workspace);
  launch_pass<Op, T, A, A>(x, partial, outer, r, inner, plan.chunks, plan.chunk_len, cap, stream);
  launch_pass<Op, A, A, T>(partial, y, outer, plan.chunks, inner, 1, plan.chunks, cap, stream);
}

template <class T>
void reduce_dispatch(ReduceOp op, const T* x, T* y, int64_t outer, int64_t r, int64_t inner,
                     void* workspace, size_t workspace_bytes, StreamHandle stream) {
  switch (op) {
    case ReduceOp::Sum:
      return reduce_impl<ReduceOp::Sum, T>(x, y, outer, r, inner, workspace, workspace_bytes, stream);
    case ReduceOp::Max:
      return reduce_impl<ReduceOp::Max, T>(x, y, outer, r, inner, workspace, workspace_bytes, stream);
  }
  EBM_THROW(ValueError, "reduce: unknown op ", static_cast<int>(op));
}

}  // namespace

size_t reduce_workspace_bytes(ReduceOp op, DType dtype, int64_t outer, int64_t r, int64_t inner) {
  const k::ReducePlan plan = k::plan_reduce(outer, r, inner);
  if (plan.chunks <= 1) return 0;
  size_t acc = element_size(dtype);
  if (op == ReduceOp::Sum && dtype == DType::Float32) acc = sizeof(double);
  return static_cast<size_t>(plan.workspace_elems) * acc;
}

void reduce_axis(ReduceOp op, const float* x, float* y, int64_t outer, int64_t r, int64_t inner,
                 void* workspace, size_t workspace_bytes, StreamHandle stream) {
  reduce_dispatch<float>(op, x, y, outer, r, inner, workspace, workspace_bytes, stream);
}

void reduce_axis(ReduceOp op, const double* x, double* y, int64_t outer, int64_t r, int64_t inner,
                 void* workspace, size_t workspace_bytes, StreamHandle stream) {
  reduce_dispatch<double>(op, x, y, outer, r, inner, workspace, workspace_bytes, stream);
}

}  // namespace ebm::cuda
