// Launchers of the elementwise kernels (kernels/elementwise.cu; per-thread bodies in
// kernels/elementwise_body.h): the CUDA backend of ops::unary, ops::binary, ops::binary_,
// ops::axpy_ and Tensor::fill_. Plain C++ (no CUDA headers): raw device pointers, sizes, the
// broadcast plan of core/ops/broadcast.h and the stream as an opaque CUstream_st*
// (cuda::current_stream() of cuda/stream.h), so core/cpu/elementwise.cpp calls in directly.
//
// Contract of every launcher: device memory of the current device, pointers aligned to their
// element type (checked; null is refused unless there is nothing to do); outputs either identical
// to an input that has the output's shape (in place) or not overlapping any input. Packed 16-byte
// accesses are used when the pointers allow (same results either way). Asynchronous on `stream`;
// nothing is launched for zero elements. Throws DeviceError (with the reason) without a usable
// device, CudaError for a failed launch.
#pragma once

#include <cstdint>

#include "core/ops/broadcast.h"
#include "core/ops/elementwise.h"
#include "cuda/stream.h"

namespace ebm::cuda {

// y[i] = op(x[i]; a, b) for i < n (apply_unary).
void unary(UnaryOp op, const float* x, float* y, int64_t n, float a, float b, StreamHandle stream);
void unary(UnaryOp op, const double* x, double* y, int64_t n, double a, double b,
           StreamHandle stream);

// z = op(x, y) over `plan` (plan_broadcast of the output and operand shapes); z contiguous with
// plan.numel() elements. z == x gives ops::binary_.
void binary(BinaryOp op, const BroadcastPlan& plan, const float* x, const float* y, float* z,
            StreamHandle stream);
void binary(BinaryOp op, const BroadcastPlan& plan, const double* x, const double* y, double* z,
            StreamHandle stream);

// x[i] += alpha * y[i] for i < n (two roundings, as on the CPU).
void axpy(float* x, float alpha, const float* y, int64_t n, StreamHandle stream);
void axpy(double* x, double alpha, const double* y, int64_t n, StreamHandle stream);

// Writes the low `element_size` bytes of `pattern` (2, 4 or 8: a value's bits in the tensor's
// dtype) to each of the n elements at out.
void fill(void* out, int64_t n, int element_size, uint64_t pattern, StreamHandle stream);

}  // namespace ebm::cuda
