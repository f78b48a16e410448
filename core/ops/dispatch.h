// Backend selection for the op API. Until the CUDA backend implements an op (issue: CUDA
// backend), asking for it on a cuda tensor is a clear DeviceError naming the op.
#pragma once

#include "core/tensor.h"

namespace ebm {

inline void require_cpu(const Tensor& t, const char* op) {
  EBM_CHECK(t.device().is_cpu(), DeviceError, op, ": no CUDA implementation of this op yet (",
            t.description(), "); move the tensor to the cpu");
}

}  // namespace ebm
