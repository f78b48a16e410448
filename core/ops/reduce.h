// Reductions over axes: sum, mean, max, stable logsumexp, and sum_to (the adjoint of
// broadcasting, used by gradients). Raw ops; differentiable versions in autograd/ops.h.
// An empty axis list means all axes. Negative axes count from the end.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace ebm::ops {

Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// log(sum(exp(x))) over axes, computed as m + log(sum(exp(x - m))) with m the max.
Tensor logsumexp(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Sums x down to `shape`, which must broadcast to x.shape() (the gradient of a broadcast).
Tensor sum_to(const Tensor& x, const Shape& shape);

// Normalised, sorted, de-duplicated axes (all axes when `axes` is empty); throws naming op.
std::vector<int> resolve_axes(const Shape& s, const std::vector<int>& axes, const char* op);
// Shape after reducing `axes` (sorted), keeping size-1 dims when keepdim.
Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim);

}  // namespace ebm::ops
