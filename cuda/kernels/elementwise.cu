// Elementwise kernels: unary maps, broadcasting binary ops (also in place), axpy and fills. Each
// kernel only passes its coordinates to the per-thread body of elementwise_body.h (shared with the
// CPU test); the op is a template argument, chosen by one switch per launcher (style.md practice
// 11), so every instantiation is a straight-line loop. Kernels first, then the launchers.
#include <cstdint>

#include "core/common.h"
#include "cuda/check.h"
#include "cuda/device.h"
#include "cuda/elementwise.h"
#include "cuda/kernels/elementwise_body.h"

namespace ebm::cuda {

namespace k = kernels;

namespace {

template <class T, UnaryOp Op, bool Vec>
__global__ void __launch_bounds__(k::kElementwiseBlock)
    unary_kernel(const T* x, T* y, int64_t n, T a, T b) {
  k::unary_body<T, Op, Vec>(k::RawMem{}, x, y, n, a, b, blockIdx.x, threadIdx.x, gridDim.x,
                            blockDim.x);
}

template <class T, BinaryOp Op, bool Vec>
__global__ void __launch_bounds__(k::kElementwiseBlock)
    binary_flat_kernel(const T* x, int64_t sx, const T* y, int64_t sy, T* z, int64_t n) {
  k::binary_flat_body<T, Op, Vec>(k::RawMem{}, x, sx, y, sy, z, n, blockIdx.x, threadIdx.x,
                                  gridDim.x, blockDim.x);
}

template <class T, BinaryOp Op, bool Vec>
__global__ void __launch_bounds__(k::kElementwiseBlock)
    binary_rows_kernel(BroadcastPlan plan, const T* x, const T* y, T* z) {
  k::binary_rows_body<T, Op, Vec>(k::RawMem{}, plan, x, y, z, blockIdx.x, threadIdx.x, gridDim.x,
                                  blockDim.x);
}

template <class T, bool Vec>
__global__ void __launch_bounds__(k::kElementwiseBlock)
    axpy_kernel(T* x, T alpha, const T* y, int64_t n) {
  k::axpy_body<T, Vec>(k::RawMem{}, x, alpha, y, n, blockIdx.x, threadIdx.x, gridDim.x,
                       blockDim.x);
}

template <class U, bool Vec>
__global__ void __launch_bounds__(k::kElementwiseBlock) fill_kernel(U* out, U value, int64_t n) {
  k::fill_body<U, Vec>(k::RawMem{}, out, value, n, blockIdx.x, threadIdx.x, gridDim.x, blockDim.x);
}

// ------------------------------------------------------------------------------------------------
// launchers

// Resident blocks per SM that the grid is capped at (8 x 256 threads fill an SM of 2048 threads
// once); the grid-stride loops do the rest, so huge tensors launch a bounded grid.
constexpr int64_t kWavesPerSm = 8;

// The grid cap on the current device; DeviceError with the reason when there is none.
int64_t max_blocks() {
  if (device_count() == 0) check_device(0);
  return static_cast<int64_t>(multiprocessor_count(current_device())) * kWavesPerSm;
}

void check_pointer(const char* op, const char* arg, const void* p, size_t align, int64_t n) {
  EBM_CHECK(p != nullptr, ValueError, op, ": null pointer '", arg, "' for ", n, " elements");
  EBM_CHECK(reinterpret_cast<uintptr_t>(p) % align == 0, ValueError, op, ": pointer '", arg, "' (",
            p, ") is not ", align, "-byte aligned");
}

// Checks the element count; false when there is nothing to launch.
bool check_count(const char* op, int64_t n) {
  EBM_CHECK(n >= 0, ValueError, op, ": negative element count ", n);
  return n > 0;
}

template <class T, UnaryOp Op>
void launch_unary(const T* x, T* y, int64_t n, T a, T b, StreamHandle stream) {
  const k::ElementwiseLaunch l =
      k::plan_contiguous<T>(n, k::is_aligned16(x) && k::is_aligned16(y), max_blocks());
  if (l.vec)
    unary_kernel<T, Op, true><<<l.grid, l.block, 0, stream>>>(x, y, n, a, b);
  else
    unary_kernel<T, Op, false><<<l.grid, l.block, 0, stream>>>(x, y, n, a, b);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void unary_impl(UnaryOp op, const T* x, T* y, int64_t n, T a, T b, StreamHandle stream) {
  const char* name = unary_op_name(op);
  if (!check_count(name, n)) return;
  check_pointer(name, "x", x, alignof(T), n);
  check_pointer(name, "y", y, alignof(T), n);
  switch (op) {
#define EBM_CASE(O) case UnaryOp::O: return launch_unary<T, UnaryOp::O>(x, y, n, a, b, stream);
    EBM_CASE(Neg) EBM_CASE(Exp) EBM_CASE(Log) EBM_CASE(Sqrt) EBM_CASE(Abs) EBM_CASE(Sign)
    EBM_CASE(Square) EBM_CASE(Reciprocal) EBM_CASE(Relu) EBM_CASE(Step) EBM_CASE(LeakyRelu)
    EBM_CASE(LeakyReluGrad) EBM_CASE(Silu) EBM_CASE(SiluGrad) EBM_CASE(Softplus) EBM_CASE(Tanh)
    EBM_CASE(Sigmoid) EBM_CASE(Pow) EBM_CASE(Clamp) EBM_CASE(ClampMask) EBM_CASE(Affine)
#undef EBM_CASE
  }
  EBM_THROW(ValueError, "unary: unknown op ", static_cast<int>(op));
}

template <class T, BinaryOp Op>
void launch_binary(const BroadcastPlan& p, const T* x, const T* y, T* z, StreamHandle stream) {
  const k::ElementwiseLaunch l = k::plan_binary<T>(p, x, y, z, max_blocks());
  if (l.flat) {
    const int64_t n = p.shape[0];
    if (l.vec)
      binary_flat_kernel<T, Op, true><<<l.grid, l.block, 0, stream>>>(x, p.sx[0], y, p.sy[0], z, n);
    else
      binary_flat_kernel<T, Op, false><<<l.grid, l.block, 0, stream>>>(x, p.sx[0], y, p.sy[0], z, n);
  } else {
    if (l.vec)
      binary_rows_kernel<T, Op, true><<<l.grid, l.block, 0, stream>>>(p, x, y, z);
    else
      binary_rows_kernel<T, Op, false><<<l.grid, l.block, 0, stream>>>(p, x, y, z);
  }
  EBM_CUDA_CHECK_LAUNCH();
}

template <class T>
void binary_impl(BinaryOp op, const BroadcastPlan& p, const T* x, const T* y, T* z,
                 StreamHandle stream) {
  const char* name = binary_op_name(op);
  EBM_CHECK(p.ndim >= 1 && p.ndim <= kMaxDims, ValueError, name, ": broadcast plan has ", p.ndim,
            " dims (expected 1..", kMaxDims, ")");
  for (int i = 0; i < p.ndim; ++i)
    EBM_CHECK(p.shape[i] >= 0, ValueError, name, ": broadcast plan has negative extent ",
              p.shape[i]);
  const int64_t n = p.numel();
  if (!check_count(name, n)) return;
  check_pointer(name, "x", x, alignof(T), n);
  check_pointer(name, "y", y, alignof(T), n);
  check_pointer(name, "z", z, alignof(T), n);
  switch (op) {
#define EBM_CASE(O) case BinaryOp::O: return launch_binary<T, BinaryOp::O>(p, x, y, z, stream);
    EBM_CASE(Add) EBM_CASE(Sub) EBM_CASE(Mul) EBM_CASE(Div) EBM_CASE(Maximum) EBM_CASE(Minimum)
    EBM_CASE(GreaterMask)
#undef EBM_CASE
  }
  EBM_THROW(ValueError, "binary: unknown op ", static_cast<int>(op));
}

template <class T>
void axpy_impl(T* x, T alpha, const T* y, int64_t n, StreamHandle stream) {
  if (!check_count("axpy_", n)) return;
  check_pointer("axpy_", "x", x, alignof(T), n);
  check_pointer("axpy_", "y", y, alignof(T), n);
  const k::ElementwiseLaunch l =
      k::plan_contiguous<T>(n, k::is_aligned16(x) && k::is_aligned16(y), max_blocks());
  if (l.vec)
    axpy_kernel<T, true><<<l.grid, l.block, 0, stream>>>(x, alpha, y, n);
  else
    axpy_kernel<T, false><<<l.grid, l.block, 0, stream>>>(x, alpha, y, n);
  EBM_CUDA_CHECK_LAUNCH();
}

template <class U>
void fill_impl(void* out, int64_t n, uint64_t pattern, StreamHandle stream) {
  U* p = static_cast<U*>(out);
  const U value = static_cast<U>(pattern);
  const k::ElementwiseLaunch l = k::plan_contiguous<U>(n, k::is_aligned16(p), max_blocks());
  if (l.vec)
    fill_kernel<U, true><<<l.grid, l.block, 0, stream>>>(p, value, n);
  else
    fill_kernel<U, false><<<l.grid, l.block, 0, stream>>>(p, value, n);
  EBM_CUDA_CHECK_LAUNCH();
}

}  // namespace

void unary(UnaryOp op, const float* x, float* y, int64_t n, float a, float b, StreamHandle stream) {
  unary_impl<float>(op, x, y, n, a, b, stream);
}
void unary(UnaryOp op, const double* x, double* y, int64_t n, double a, double b,
           StreamHandle stream) {
  unary_impl<double>(op, x, y, n, a, b, stream);
}

void binary(BinaryOp op, const BroadcastPlan& plan, const float* x, const float* y, float* z,
            StreamHandle stream) {
  binary_impl<float>(op, plan, x, y, z, stream);
}
void binary(BinaryOp op, const BroadcastPlan& plan, const double* x, const double* y, double* z,
            StreamHandle stream) {
  binary_impl<double>(op, plan, x, y, z, stream);
}

void axpy(float* x, float alpha, const float* y, int64_t n, StreamHandle stream) {
  axpy_impl<float>(x, alpha, y, n, stream);
}
void axpy(double* x, double alpha, const double* y, int64_t n, StreamHandle stream) {
  axpy_impl<double>(x, alpha, y, n, stream);
}

void fill(void* out, int64_t n, int element_size, uint64_t pattern, StreamHandle stream) {
  EBM_CHECK(element_size == 2 || element_size == 4 || element_size == 8, ValueError,
            "fill: element size ", element_size, " (expected 2, 4 or 8 bytes)");
  if (!check_count("fill", n)) return;
  check_pointer("fill", "out", out, static_cast<size_t>(element_size), n);
  switch (element_size) {
    case 2: return fill_impl<uint16_t>(out, n, pattern, stream);
    case 4: return fill_impl<uint32_t>(out, n, pattern, stream);
    default: return fill_impl<uint64_t>(out, n, pattern, stream);
  }
}

}  // namespace ebm::cuda
