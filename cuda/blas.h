// cuBLAS behind the op API's matmul and linear: row-major GEMM on device pointers, float32 and
// float64. Plain C++ (no CUDA headers), so core/cpu/linalg.cpp can call it; the stream is the
// opaque StreamHandle of cuda/stream.h (pass current_stream(device)).
//
// Row-major onto column-major: a row-major [r, c] matrix is the column-major [c, r] matrix with
// the same memory, i.e. its transpose. So C = op(A)·op(B) (row-major) is computed as the
// column-major product Cᵀ = op(B)ᵀ·op(A)ᵀ: cuBLAS gets B first, then A, with m = N, n = M and
// each operand's transpose flag unchanged; no data is moved.
//
// One cuBLAS handle per device, created on first use and kept for the process; each call sets
// the handle's stream and math mode (host-side calls, no synchronisation) under a per-device
// lock. cuBLAS keeps its own per-stream workspace. TF32: with allow_tf32 the handle runs in
// CUBLAS_TF32_TENSOR_OP_MATH (float32 inputs rounded to TF32 on tensor cores, float32
// accumulation); without it in CUBLAS_DEFAULT_MATH, which never lowers float32 precision.
// float64 is unaffected.
#pragma once

#include <cstdint>

#include "cuda/stream.h"

namespace ebm::cuda {

// c [m, n] = op(a) · op(b), all row-major and contiguous on `device`: a is stored [a_rows,
// a_cols] (op(a) = aᵀ when trans_a, so then a_rows = k), b is stored [b_rows, b_cols]. c is
// overwritten (beta = 0: never read, so it may hold NaN poison). k == 0 gives zeros. Sizes are
// 64-bit (cuBLAS's _64 entry points). Asynchronous on `stream`.
void gemm(const float* a, int64_t a_rows, int64_t a_cols, bool trans_a, const float* b,
          int64_t b_rows, int64_t b_cols, bool trans_b, float* c, int64_t m, int64_t n,
          bool allow_tf32, int device, StreamHandle stream);
void gemm(const double* a, int64_t a_rows, int64_t a_cols, bool trans_a, const double* b,
          int64_t b_rows, int64_t b_cols, bool trans_b, double* c, int64_t m, int64_t n,
          bool allow_tf32, int device, StreamHandle stream);

// y [n, out] = x [n, in] · w [out, in]ᵀ (+ b [out] on every row when b is not null): one GEMM,
// then the bias as a broadcast add kernel (add_channel_bias in cuda/pool.h). Why not cuBLASLt's
// BIAS epilogue: it would save one pass over y, which is [batch, out] and small next to the
// convolutions in every network here (linear layers are the heads), while the kernel covers
// float32 and float64 alike, runs the same CPU-tested body as the conv bias, and needs no
// per-shape heuristic query; revisit with the epilogue if a profile shows linear layers.
void linear(const float* x, const float* w, const float* b, float* y, int64_t n, int64_t in,
            int64_t out, bool allow_tf32, int device, StreamHandle stream);
void linear(const double* x, const double* w, const double* b, double* y, int64_t n, int64_t in,
            int64_t out, bool allow_tf32, int device, StreamHandle stream);

}  // namespace ebm::cuda
