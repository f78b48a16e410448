// Per-thread bodies of the bilinear resize kernels (cuda/kernels/resize.cu): one output element
// per thread and turn of a grid-stride loop (the launch shape of the spatial kernels,
// pool_body.h), computed by the per-element functions of core/ops/resize.h that the CPU loops
// call too. Plain EBM_HD code, so tests/cpu/test_eval_ops.cpp runs them over the launch grid on
// the CPU (every output written once, values equal to the CPU op bit for bit).
#pragma once

#include <cstdint>

#include "core/ops/resize.h"
#include "cuda/kernels/pool_body.h"

namespace ebm::cuda::kernels {

// y [planes, Ho, Wo] from x [planes, H, W].
template <class T, class Out>
EBM_HD void resize_forward_body(const T* x, Out y, int64_t planes, int64_t H, int64_t W,
                                int64_t Ho, int64_t Wo, uint32_t block_idx, uint32_t thread_idx,
                                uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<int64_t> gs(block_idx, thread_idx, grid_dim, block_dim);
  const int64_t n = planes * Ho * Wo;
  for (int64_t i = gs.first; i < n; i += gs.step) {
    const int64_t ow = i % Wo, rest = i / Wo, oh = rest % Ho, pl = rest / Ho;
    y.put(i, resize_bilinear_at(x + pl * H * W, H, W, Ho, Wo, oh, ow));
  }
}

// dx [planes, H, W] from gy [planes, Ho, Wo], gathered per input pixel.
template <class T, class Out>
EBM_HD void resize_backward_body(const T* gy, Out dx, int64_t planes, int64_t H, int64_t W,
                                 int64_t Ho, int64_t Wo, uint32_t block_idx, uint32_t thread_idx,
                                 uint32_t grid_dim, uint32_t block_dim) {
  const GridStride<int64_t> gs(block_idx, thread_idx, grid_dim, block_dim);
  const int64_t n = planes * H * W;
  for (int64_t i = gs.first; i < n; i += gs.step) {
    const int64_t iw = i % W, rest = i / W, ih = rest % H, pl = rest / H;
    dx.put(i, resize_bilinear_input_grad(gy + pl * Ho * Wo, H, W, Ho, Wo, ih, iw));
  }
}

}  // namespace ebm::cuda::kernels
