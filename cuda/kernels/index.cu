// Indexing kernels: row copies (concat, split, index_select) in the widest unit the addresses
// allow, index_add as a per-output gather (deterministic, no atomics), gather, scatter / one_hot,
// and the cross-entropy pair (a row pass over the shared cross_entropy_row functor, then a fixed
// one-block tree for the mean, or an element pass for the gradient). Each kernel but the mean only
// passes its coordinates to the per-thread body of index_body.h (shared with the CPU test).
// Kernels first, then the launchers.
#include <cuda_runtime.h>

#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/index.h"
#include "cuda/kernels/index_body.h"

namespace ebm::cuda {

namespace k = kernels;

namespace {

template <class U>
__global__ void __launch_bounds__(k::kIndexBlock) copy_rows_kernel(k::CopyRowsArgs<U> a) {
  k::copy_rows_body<U>(a, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(k::kIndexBlock)
    index_add_kernel(const T* src, const int64_t* offsets, const int64_t* order, T* out,
                     int64_t rows, int64_t row) {
  k::index_add_body<T>(src, offsets, order, out, rows, row, blockIdx.x, threadIdx.x, gridDim.x,
                       blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(k::kIndexBlock)
    gather_kernel(const T* x, const int64_t* labels, T* out, int64_t n, int64_t classes) {
  k::gather_body<T>(x, labels, out, n, classes, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(k::kIndexBlock)
    scatter_kernel(const T* src, const int64_t* labels, T* out, int64_t n, int64_t classes) {
  k::scatter_body<T>(src, labels, out, n, classes, blockIdx.x, threadIdx.x, gridDim.x,
                     blockDim.x);
}

template <class T>
__global__ void __launch_bounds__(k::kIndexBlock)
    cross_entropy_rows_kernel(const T* logits, const int64_t* labels, int64_t n, int64_t classes,
                              double* loss, T* lse) {
  k::cross_entropy_rows_body<T>(logits, labels, n, classes, loss, lse, blockIdx.x, threadIdx.x,
                                gridDim.x, blockDim.x);
}

// One block: thread t adds rows t, t + 256, ... in order (double), then a fixed halving tree in
// shared memory; the result depends only on n, never on timing. The mean is rounded to T once,
// as on the CPU. One SM reads n doubles: a few microseconds for any batch.
template <class T>
__global__ void __launch_bounds__(k::kIndexBlock)
    mean_loss_kernel(const double* loss, int64_t n, T* out) {
  __shared__ double part[k::kIndexBlock];
  double acc = 0.0;
  for (int64_t i = threadIdx.x; i < n; i += blockDim.x) acc += loss[i];
  part[threadIdx.x] = acc;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s /= 2) {
    if (threadIdx.x < s) part[threadIdx.x] += part[threadIdx.x + s];
    __syncthreads();
  }
  if (threadIdx.x == 0) *out = static_cast<T>(part[0] / static_cast<double>(n));
}

template <class T>
__global__ void __launch_bounds__(k::kIndexBlock)
    cross_entropy_grad_kernel(const T* logits, const int64_t* labels, const T* lse, const T* grad,
                              double grad_value, T* out, int64_t n, int64_t classes) {
  k::cross_entropy_grad_body<T>(logits, labels, lse, grad, grad_value, out, n, classes,
                                blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

// ------------------------------------------------------------------------------------------------
// launchers

static_assert((k::kIndexBlock & (k::kIndexBlock - 1)) == 0, "mean_loss_kernel halves the block");

// Resident blocks per SM the grid is capped at; the grid-stride loops do the rest.
constexpr int64_t kWavesPerSm = 8;

// The grid for `work` items on the current device; DeviceError with the reason when there is none.
k::IndexLaunchDims dims(int64_t work) {
  if (device_count() == 0) check_device(0);
  return k::index_launch_dims(
      work, static_cast<int64_t>(multiprocessor_count(current_device())) * kWavesPerSm);
}

void check_pointer(const char* op, const char* arg, const void* p, size_t align) {
  EBM_CHECK(p != nullptr, ValueError, op, ": null pointer '", arg, "'");
  EBM_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0, ValueError, op, ": pointer '", arg, "' (",
            p, ") is not ", align, "-byte aligned");
}

// n >= 0 and classes >= 1 (when n > 0); false when there is nothing to launch.
bool check_rows(const char* op, int64_t n, int64_t classes) {
  EBM_CHECK(n >= 0, ValueError, op, ": negative row count ", n);
  if (n == 0) return false;
  EBM_CHECK(classes >= 1, ValueError, op, ": need at least one class, got ", classes);
  return true;
}

template <class U>
void launch_copy_rows(void* dst, int64_t dst_stride, const void* src, int64_t src_stride,
                      int64_t row_bytes, int64_t outer, const int64_t* index, StreamHandle stream) {
  constexpr int64_t w = sizeof(U);
  k::CopyRowsArgs<U> a;
  a.dst = static_cast<U*>(dst);
  a.src = static_cast<const U*>(src);
  a.dst_stride = dst_stride / w;
  a.src_stride = src_stride / w;
  a.row = row_bytes / w;
  a.outer = outer;
  a.index = index;
  const k::IndexLaunchDims d = dims(outer * a.row);
  copy_rows_kernel<U><<<d.grid, d.block, 0, stream>>>(a);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void index_add_impl(const T* src, const int64_t* offsets, const int64_t* order, T* out,
                    int64_t rows, int64_t row, StreamHandle stream) {
  const char* op = "cuda::index_add";
  EBM_CHECK(rows >= 0 && row >= 0, ValueError, op, ": negative extent (rows ", rows, ", row ",
            row, ")");
  if (rows == 0 || row == 0) return;
  check_pointer(op, "offsets", offsets, alignof(int64_t));
  check_pointer(op, "out", out, alignof(T));
  // src and order may be null when no index entry exists (K == 0); the body then never reads them.
  if (src) check_pointer(op, "src", src, alignof(T));
  if (order) check_pointer(op, "order", order, alignof(int64_t));
  const k::IndexLaunchDims d = dims(rows * row);
  index_add_kernel<T><<<d.grid, d.block, 0, stream>>>(src, offsets, order, out, rows, row);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void gather_impl(const T* x, const int64_t* labels, T* out, int64_t n, int64_t classes,
                 StreamHandle stream) {
  const char* op = "cuda::gather";
  if (!check_rows(op, n, classes)) return;
  check_pointer(op, "x", x, alignof(T));
  check_pointer(op, "labels", labels, alignof(int64_t));
  check_pointer(op, "out", out, alignof(T));
  const k::IndexLaunchDims d = dims(n);
  gather_kernel<T><<<d.grid, d.block, 0, stream>>>(x, labels, out, n, classes);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void scatter_impl(const T* src, const int64_t* labels, T* out, int64_t n, int64_t classes,
                  StreamHandle stream) {
  const char* op = "cuda::scatter";
  if (!check_rows(op, n, classes)) return;
  if (src) check_pointer(op, "src", src, alignof(T));
  check_pointer(op, "labels", labels, alignof(int64_t));
  check_pointer(op, "out", out, alignof(T));
  const k::IndexLaunchDims d = dims(n * classes);
  scatter_kernel<T><<<d.grid, d.block, 0, stream>>>(src, labels, out, n, classes);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void check_cross_entropy(const char* op, const T* logits, const int64_t* labels, int64_t n,
                         int64_t classes) {
  EBM_CHECK(n >= 1 && classes >= 1, ValueError, op,
            ": need at least one row and one class, got ", n, " x ", classes);
  check_pointer(op, "logits", logits, alignof(T));
  check_pointer(op, "labels", labels, alignof(int64_t));
}

template <class T>
void cross_entropy_impl(const T* logits, const int64_t* labels, int64_t n, int64_t classes,
                        double* row_loss, T* out, StreamHandle stream) {
  const char* op = "cuda::cross_entropy";
  check_cross_entropy(op, logits, labels, n, classes);
  check_pointer(op, "row_loss", row_loss, alignof(double));
  check_pointer(op, "out", out, alignof(T));
  const k::IndexLaunchDims d = dims(n);
  cross_entropy_rows_kernel<T><<<d.grid, d.block, 0, stream>>>(logits, labels, n, classes,
                                                               row_loss, nullptr);
  EBM_CUDA_CHECK_LAUNCH();
  mean_loss_kernel<T><<<1, k::kIndexBlock, 0, stream>>>(row_loss, n, out);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void cross_entropy_backward_impl(const T* logits, const int64_t* labels, int64_t n,
                                 int64_t classes, const T* grad, double grad_value, T* lse,
                                 T* out, StreamHandle stream) {
  const char* op = "cuda::cross_entropy_backward";
  check_cross_entropy(op, logits, labels, n, classes);
  if (grad) check_pointer(op, "grad", grad, alignof(T));
  check_pointer(op, "lse", lse, alignof(T));
  check_pointer(op, "out", out, alignof(T));
  const k::IndexLaunchDims rows = dims(n);
  cross_entropy_rows_kernel<T><<<rows.grid, rows.block, 0, stream>>>(logits, labels, n, classes,
                                                                     nullptr, lse);
  EBM_CUDA_CHECK_LAUNCH();
  const k::IndexLaunchDims elems = dims(n * classes);
  cross_entropy_grad_kernel<T><<<elems.grid, elems.block, 0, stream>>>(
      logits, labels, lse, grad, grad_value, out, n, classes);
  EBM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void copy_rows(void* dst, int64_t dst_stride, const void* src, int64_t src_stride,
               int64_t row_bytes, int64_t outer, const int64_t* index, StreamHandle stream) {
  const char* op = "cuda::copy_rows";
  EBM_CHECK(row_bytes >= 0 && outer >= 0, ValueError, op, ": negative extent (row_bytes ",
            row_bytes, ", outer ", outer, ")");
  if (row_bytes == 0 || outer == 0) return;
  EBM_CHECK(dst_stride >= 0 && src_stride >= 0, ValueError, op, ": negative stride (dst ",
            dst_stride, ", src ", src_stride, ")");
  check_pointer(op, "dst", dst, 1);
  check_pointer(op, "src", src, 1);
  if (index) check_pointer(op, "index", index, alignof(int64_t));
  switch (k::copy_unit_bytes(dst, src, dst_stride, src_stride, row_bytes)) {
    case 16:
      return launch_copy_rows<uint4>(dst, dst_stride, src, src_stride, row_bytes, outer, index,
                                     stream);
    case 8:
      return launch_copy_rows<uint2>(dst, dst_stride, src, src_stride, row_bytes, outer, index,
                                     stream);
    case 4:
      return launch_copy_rows<uint32_t>(dst, dst_stride, src, src_stride, row_bytes, outer, index,
                                        stream);
    case 2:
      return launch_copy_rows<uint16_t>(dst, dst_stride, src, src_stride, row_bytes, outer, index,
                                        stream);
    default:
      return launch_copy_rows<uint8_t>(dst, dst_stride, src, src_stride, row_bytes, outer, index,
                                       stream);
  }
}

void index_add(const float* src, const int64_t* offsets, const int64_t* order, float* out,
               int64_t rows, int64_t row, StreamHandle stream) {
  index_add_impl<float>(src, offsets, order, out, rows, row, stream);
}
void index_add(const double* src, const int64_t* offsets, const int64_t* order, double* out,
               int64_t rows, int64_t row, StreamHandle stream) {
  index_add_impl<double>(src, offsets, order, out, rows, row, stream);
}

void gather(const float* x, const int64_t* labels, float* out, int64_t n, int64_t classes,
            StreamHandle stream) {
  gather_impl<float>(x, labels, out, n, classes, stream);
}
void gather(const double* x, const int64_t* labels, double* out, int64_t n, int64_t classes,
            StreamHandle stream) {
  gather_impl<double>(x, labels, out, n, classes, stream);
}

void scatter(const float* src, const int64_t* labels, float* out, int64_t n, int64_t classes,
             StreamHandle stream) {
  scatter_impl<float>(src, labels, out, n, classes, stream);
}
void scatter(const double* src, const int64_t* labels, double* out, int64_t n, int64_t classes,
             StreamHandle stream) {
  scatter_impl<double>(src, labels, out, n, classes, stream);
}

void cross_entropy(const float* logits, const int64_t* labels, int64_t n, int64_t classes,
                   double* row_loss, float* out, StreamHandle stream) {
  cross_entropy_impl<float>(logits, labels, n, classes, row_loss, out, stream);
}
void cross_entropy(const double* logits, const int64_t* labels, int64_t n, int64_t classes,
                   double* row_loss, double* out, StreamHandle stream) {
  cross_entropy_impl<double>(logits, labels, n, classes, row_loss, out, stream);
}

void cross_entropy_backward(const float* logits, const int64_t* labels, int64_t n, int64_t classes,
                            const float* grad, double grad_value, float* lse, float* out,
                            StreamHandle stream) {
  cross_entropy_backward_impl<float>(logits, labels, n, classes, grad, grad_value, lse, out,
                                     stream);
}
void cross_entropy_backward(const double* logits, const int64_t* labels, int64_t n,
                            int64_t classes, const double* grad, double grad_value, double* lse,
                            double* out, StreamHandle stream) {
  cross_entropy_backward_impl<double>(logits, labels, n, classes, grad, grad_value, lse, out,
                                      stream);
}

}  // namespace ebm::cuda
