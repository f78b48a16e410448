// Differentiable indexing ops and the softmax cross-entropy. Forward math: core/ops/index.h;
// derivatives: autograd/functions/index.cpp. Each op's backward is written with the op's
// adjoint (concat <-> split, index_select <-> index_add, gather <-> scatter), which is itself
// differentiable, so create_graph backwards (second-order gradients) go through them.
#pragma once

#include "core/ops/index.h"

namespace ebm {

// Concatenation along dim; the gradient is split back into the inputs' pieces.
Tensor concat(const std::vector<Tensor>& xs, int dim = 0);
// Pieces of x along dim with the given sizes (copies); the gradient is their concatenation,
// with zeros for pieces that received none.
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim = 0);

// Rows index[k] of x along dim 0 (e.g. per-class gains picked by labels); the gradient
// scatter-adds into x's rows, repeated indices accumulating.
Tensor index_select(const Tensor& x, const Tensor& index);
// zeros [rows, ...] with out[index[k]] += src[k]; the gradient is index_select.
Tensor index_add(const Tensor& src, const Tensor& index, int64_t rows);

// out[i] = x[i, labels[i]] for x [N, C]; the gradient is scattered into [N, C].
Tensor gather(const Tensor& x, const Tensor& labels);
// zeros [N, num_classes] with out[i, labels[i]] = src[i]; the gradient is gather.
Tensor scatter(const Tensor& src, const Tensor& labels, int64_t num_classes);

// Mean over the batch of logsumexp(logits_i) - logits_i[labels_i] (torch's F.cross_entropy
// with mean reduction), a 0-dim tensor. Backward: the fused (softmax - onehot) * g / N; under
// create_graph the same expression is built from differentiable ops instead.
Tensor cross_entropy(const Tensor& logits, const Tensor& labels);

}  // namespace ebm
