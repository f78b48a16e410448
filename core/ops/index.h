// Indexing ops: concat / split along any dim, row selection by an int64 index (per-class gains
// and biases picked by labels) and its adjoint index_add, per-row gather by labels and its
// adjoint scatter, one_hot, and the fused, stable softmax cross-entropy with its backward.
// Raw ops (no autograd); the differentiable versions are in autograd/ops/index.h.
// Index and label tensors are int64 (DType::Int64); a value out of range is a ValueError that
// names the op, the value, its position and the valid range. Every op runs on the CPU and on cuda
// tensors (cuda/index.h), where index and label values are copied to the host for that check.
#pragma once

#include <vector>

#include "core/math.h"
#include "core/tensor.h"

namespace ebm {

// Cross-entropy of one row of C logits against label y, stably:
// logsumexp(x) - x[y] = log(sum_c exp(x_c - m)) - (x_y - m) with m = max_c x_c. Also returns
// lse = m + log(sum_c exp(x_c - m)), which the backward's softmax uses.
template <class T>
EBM_HD T cross_entropy_row(const T* x, int64_t C, int64_t y, T& lse) {
  T m = x[0];
  for (int64_t c = 1; c < C; ++c) m = math::max(m, x[c]);
  T s = 0;
  for (int64_t c = 0; c < C; ++c) s += math::exp(x[c] - m);
  T log_s = math::log(s);
  lse = m + log_s;
  return log_s - (x[y] - m);
}

// One element of the cross-entropy gradient: softmax(x)_c * s - (c == y) * s with s the scaled
// loss gradient, as exp(x_c - lse) * s, then minus s in the label's column: two roundings, never
// fused into an FMA (math::mul_add_rn), so the CPU loop and the CUDA kernel give the same bits
// for the same lse.
template <class T>
EBM_HD T cross_entropy_grad(T x, T lse, T s, bool is_label) {
  const T p = math::exp(x - lse);
  return is_label ? math::mul_add_rn(p, s, -s) : p * s;
}

namespace ops {

// Concatenates tensors along dim (negative counts from the end). All inputs: same dtype (any),
// device and rank; equal sizes on every other dim.
Tensor concat(const std::vector<Tensor>& xs, int dim = 0);
// Splits x along dim into pieces of the given sizes (which must add up to x's size there):
// the adjoint of concat. The pieces are fresh copies.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim = 0);

// out[k] = x[index[k]] along dim 0: x [R, ...] (any dtype), index int64 [K] -> [K, ...].
Tensor index_select(const Tensor& x, const Tensor& index);
// The adjoint of index_select: out = zeros [rows, ...] with out[index[k]] += src[k] (repeated
// indices accumulate, in index order). src float [K, ...], index int64 [K].
Tensor index_add(const Tensor& src, const Tensor& index, int64_t rows);

// out[i] = x[i, labels[i]]: x float [N, C], labels int64 [N] -> [N].
Tensor gather(const Tensor& x, const Tensor& labels);
// The adjoint of gather: out = zeros [N, C] with out[i, labels[i]] = src[i]. src float [N].
Tensor scatter(const Tensor& src, const Tensor& labels, int64_t num_classes);
// out[i, c] = (c == labels[i]), labels int64 [N] -> [N, num_classes] of a float dtype.
Tensor one_hot(const Tensor& labels, int64_t num_classes, DType dtype = DType::Float32);

// Mean over rows of logsumexp(logits_i) - logits_i[labels_i]: logits float [N, C] (N, C >= 1),
// labels int64 [N] -> a 0-dim tensor of logits' dtype. Row losses are summed in double.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);
// d loss / d logits = grad * (softmax(logits) - onehot(labels)) / N, with grad the 0-dim
// gradient of the loss. Fused: one pass per row, no intermediate [N, C] tensors.
Tensor cross_entropy_backward(const Tensor& logits, const Tensor& labels, const Tensor& grad);

// Checks labels: int64, shape [n], on device `like`'s device, every value in [0, num_classes);
// the error names op, the offending label, its position and num_classes. Labels on a cuda device
// are copied to the host for the check (which waits for the device's stream).
void check_labels(const Tensor& labels, int64_t n, int64_t num_classes, const Tensor& like,
                  const char* op, const char* arg = "labels");

}  // namespace ops
}  // namespace ebm
