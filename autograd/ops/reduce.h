// Differentiable reductions. Forward: core/ops/reduce.h; derivatives: functions/reduce.cpp.
#pragma once

#include "core/ops/reduce.h"

namespace ebm {

Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Gradient goes to the maximal elements, split evenly between ties (like torch.amax).
Tensor max(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor logsumexp(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Differentiable adjoint of broadcasting.
Tensor sum_to(const Tensor& x, const Shape& shape);

}  // namespace ebm
