// Launchers of the indexing kernels (kernels/index.cu; per-thread bodies in kernels/index_body.h):
// the CUDA backend of ops::concat, split, index_select, index_add, gather, scatter, one_hot,
// cross_entropy and cross_entropy_backward (core/ops/index.h). Plain C++ (no CUDA headers), like
// cuda/elementwise.h: core/cpu/index.cpp calls in with raw device pointers and current_stream().
//
// Index and label values are validated by the caller (on the host) before a launch; the kernels
// trust them. Contract of every launcher: device memory of the current device, pointers aligned
// to their element type (checked; null is refused unless there is nothing to do), outputs not
// overlapping inputs. Asynchronous on `stream`; nothing is launched when there is no work. Throws
// ValueError for bad arguments, DeviceError without a usable device, CudaError for a failed launch.
// Results equal the CPU backend's bit for bit, except the cross-entropy pair, whose float log and
// double exp are different libm implementations on the two sides (a few ulp).
#pragma once

#include <cstdint>
#include <vector>

#include "cuda/stream.h"

namespace ebm::cuda {

// The row-grouped index that index_add takes, built on the host from index values in [0, rows):
// offsets [rows + 1] (offsets[r] = entries pointing below row r), then order [K]: the positions k
// with index[k] == r, in increasing k, at [offsets[r], offsets[r + 1]) (a stable counting sort).
inline std::vector<int64_t> index_add_plan(const int64_t* index, int64_t K, int64_t rows) {
  std::vector<int64_t> plan(static_cast<size_t>(rows + 1 + K), 0);
  int64_t* offsets = plan.data();
  int64_t* order = offsets + rows + 1;
  for (int64_t k = 0; k < K; ++k) ++offsets[index[k] + 1];
  for (int64_t r = 0; r < rows; ++r) offsets[r + 1] += offsets[r];
  std::vector<int64_t> next(offsets, offsets + rows);
  for (int64_t k = 0; k < K; ++k) order[next[static_cast<size_t>(index[k])]++] = k;
  return plan;
}

// For o < outer: the `row_bytes` bytes at src + r * src_stride, r = index[o] (or o when index is
// null; index is int64 device memory), copied to dst + o * dst_stride (strides in bytes). Moves
// 16, 8, 4, 2 or 1 bytes per access, the widest unit dividing both pointers, both strides and
// row_bytes. One piece of a concat or split (index null) or an index_select.
void copy_rows(void* dst, int64_t dst_stride, const void* src, int64_t src_stride,
               int64_t row_bytes, int64_t outer, const int64_t* index, StreamHandle stream);

// out [rows, row] = index_add of src [K, row] through the row-grouped index of
// kernels::index_add_body: offsets [rows + 1] (offsets[0] = 0, offsets[rows] = K) and order [K],
// int64 device memory. Every output is written (0 where no index entry points).
void index_add(const float* src, const int64_t* offsets, const int64_t* order, float* out,
               int64_t rows, int64_t row, StreamHandle stream);
void index_add(const double* src, const int64_t* offsets, const int64_t* order, double* out,
               int64_t rows, int64_t row, StreamHandle stream);

// out[i] = x[i, labels[i]], x [n, classes].
void gather(const float* x, const int64_t* labels, float* out, int64_t n, int64_t classes,
            StreamHandle stream);
void gather(const double* x, const int64_t* labels, double* out, int64_t n, int64_t classes,
            StreamHandle stream);

// All of out [n, classes]: src[i] at (i, labels[i]), 0 elsewhere; src == nullptr writes 1 there
// (one_hot).
void scatter(const float* src, const int64_t* labels, float* out, int64_t n, int64_t classes,
             StreamHandle stream);
void scatter(const double* src, const int64_t* labels, double* out, int64_t n, int64_t classes,
             StreamHandle stream);

// *out = mean over rows of the cross-entropy of logits [n, classes] (n, classes >= 1) against
// labels: row losses in double into row_loss (n doubles of device workspace), then summed in
// double in a fixed order (one block, a fixed tree: deterministic) and divided by n.
void cross_entropy(const float* logits, const int64_t* labels, int64_t n, int64_t classes,
                   double* row_loss, float* out, StreamHandle stream);
void cross_entropy(const double* logits, const int64_t* labels, int64_t n, int64_t classes,
                   double* row_loss, double* out, StreamHandle stream);

// out [n, classes] = d loss / d logits for the loss gradient *grad (device memory) or, when grad
// is null, grad_value; lse is n elements of device workspace (each row's logsumexp).
void cross_entropy_backward(const float* logits, const int64_t* labels, int64_t n, int64_t classes,
                            const float* grad, double grad_value, float* lse, float* out,
                            StreamHandle stream);
void cross_entropy_backward(const double* logits, const int64_t* labels, int64_t n,
                            int64_t classes, const double* grad, double grad_value, double* lse,
                            double* out, StreamHandle stream);

}  // namespace ebm::cuda
