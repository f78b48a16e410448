// Differentiable view ops: the result shares storage with the input and carries its gradient.
#pragma once

#include "core/tensor.h"

namespace ebm {

Tensor reshape(const Tensor& x, const Shape& shape);
// Rows [begin, end) of dim 0.
Tensor slice(const Tensor& x, int64_t begin, int64_t end);
// Flattens dims [start, end] into one (like torch.flatten).
Tensor flatten(const Tensor& x, int start = 1, int end = -1);

}  // namespace ebm
