// Differentiable random ops: inverted dropout (Srivastava et al., JMLR 2014, as PyTorch applies
// it). Forward mask: core/ops/random.h; derivative: autograd/functions/random.cpp.
#pragma once

#include "core/ops/random.h"

namespace ebm {

// Training: x * mask with mask = dropout_mask(x.shape(), p, gen.seed(), gen.reserve(numel)),
// i.e. each element zeroed with probability p and the kept ones scaled by 1/(1-p). The gradient
// is g * mask. Returns x itself when !training or p == 0 (no draw is made, gen is unchanged).
Tensor dropout(const Tensor& x, double p, bool training, Generator& gen);

}  // namespace ebm
