// Launchers of the reduction kernels (kernels/reduce.cu): the CUDA backend of ops::sum and
// ops::max (mean, logsumexp and sum_to are built from these and the elementwise ops in
// core/cpu/reduce.cpp, so they run on cuda tensors too). Plain C++ (no CUDA headers), like
// cuda/elementwise.h: core/cpu/reduce.cpp calls in with raw pointers and current_stream().
//
// One call reduces the middle axis of a contiguous (outer, r, inner) array into the contiguous
// (outer, inner) array y, exactly the problem of the CPU's reduce_axis, with the same arithmetic
// (reduce_combine of core/ops/reduce.h): float32 sums accumulate in double and round once, so a
// result differs from the CPU's by at most the final rounding plus double-precision noise. The
// order of the additions is fixed by the shape alone (kernels/reduce_plan.h): deterministic, the
// same bits on every run and GPU. No atomics.
//
// Large r with few outputs runs in two passes through a device workspace of
// reduce_workspace_bytes(...) bytes (8-byte aligned), which the caller provides; null is fine
// when that is 0. Asynchronous on `stream`; nothing is launched when outer * inner == 0.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/dtype.h"
#include "core/ops/reduce.h"
#include "cuda/stream.h"

namespace ebm::cuda {

// Workspace bytes reduce_axis needs for this problem (0 when it runs in one pass).
size_t reduce_workspace_bytes(ReduceOp op, DType dtype, int64_t outer, int64_t r, int64_t inner);

// y[o, i] = reduction over k < r of x[o, k, i]. r == 0 gives 0 for Sum and -inf for Max.
void reduce_axis(ReduceOp op, const float* x, float* y, int64_t outer, int64_t r, int64_t inner,
                 void* workspace, size_t workspace_bytes, StreamHandle stream);
void reduce_axis(ReduceOp op, const double* x, double* y, int64_t outer, int64_t r, int64_t inner,
                 void* workspace, size_t workspace_bytes, StreamHandle stream);

}  // namespace ebm::cuda
