// Dense linear algebra of the op API: 2-D matrix products with optional transposes (GEMM) and
// the fully connected layer y = x wᵀ + b in PyTorch's layout (w is [out, in]). Raw ops (no
// autograd); the differentiable versions are ebm::matmul / ebm::linear in autograd/ops/linalg.h.
#pragma once

#include "core/tensor.h"

namespace ebm::ops {

// op(a) · op(b) where op(m) = mᵀ when its flag is set. a, b: 2-D, same float dtype and device.
// Shapes: op(a) [M, K], op(b) [K, N] -> [M, N].
Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a = false, bool trans_b = false);

// x [N, in], w [out, in], b [out] or undefined -> x wᵀ + b, [N, out].
Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b = Tensor());

}  // namespace ebm::ops
