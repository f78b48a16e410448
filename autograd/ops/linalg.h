// Differentiable matrix product and fully connected layer. Forward: core/ops/linalg.h;
// derivatives: autograd/functions/linalg.cpp (written with these same ops, so second-order
// gradients through them record too).
#pragma once

#include "core/ops/linalg.h"

namespace ebm {

// op(a) · op(b), op(m) = mᵀ when its flag is set; 2-D operands.
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);
// x [N, in], w [out, in], b [out] or undefined -> x wᵀ + b (torch.nn.functional.linear).
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace ebm
