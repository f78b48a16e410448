// Max pooling on NCHW images with torch.nn.functional.max_pool2d's semantics (square kernel,
// stride, zero-size padding that never wins, floor output size, no dilation, no ceil mode): raw
// ops; the differentiable version is ebm::max_pool2d (autograd/ops/conv.h). The window
// arithmetic is pool_window (core/ops/pool_window.h, shared with avg_pool2d); the argmax below is
// the one piece of per-element arithmetic, written once for the CPU loop (core/cpu/pool.cpp) and
// the CUDA kernels (cuda/kernels/pool_body.h).
//
// Ties and NaN as PyTorch's kernels: the first maximum in row-major window order wins, and a NaN
// wins over any number (so NaN propagates). The backward routes each output gradient to its
// window's argmax, recomputed from x (no index tensor is kept), gathering per input pixel in
// (oh, ow) order, so it is deterministic and needs no atomics.
#pragma once

#include <limits>

#include "core/ops/pool_window.h"
#include "core/tensor.h"

namespace ebm {

// The maximum of output (oh, ow)'s window over plane xp [H, W] and its flat index ih·W + iw.
template <class T>
EBM_HD int64_t max_pool_argmax(const PoolGeom& g, const T* xp, int64_t oh, int64_t ow, T& value) {
  const PoolWindow win = pool_window(g, oh, ow);
  int64_t best = win.h0 * g.W + win.w0;
  T m = -std::numeric_limits<T>::infinity();
  for (int64_t ih = win.h0; ih < win.h1; ++ih)
    for (int64_t iw = win.w0; iw < win.w1; ++iw) {
      const T v = xp[ih * g.W + iw];
      if (v > m || v != v) {  // v != v: NaN
        m = v;
        best = ih * g.W + iw;
        if (v != v) {
          value = v;
          return best;
        }
      }
    }
  value = m;
  return best;
}

// d x[pl, ih, iw]: the sum of gy over the outputs (in (oh, ow) order) whose argmax is (ih, iw).
template <class T>
EBM_HD T max_pool_input_grad(const PoolGeom& g, const T* xp, const T* gp, int64_t ih,
                             int64_t iw) {
  int64_t oh0, oh1, ow0, ow1;
  pool_outputs_covering<int64_t>(ih, g.k, g.s, g.p, g.Ho, oh0, oh1);
  pool_outputs_covering<int64_t>(iw, g.k, g.s, g.p, g.Wo, ow0, ow1);
  const int64_t me = ih * g.W + iw;
  T acc = 0;
  for (int64_t oh = oh0; oh < oh1; ++oh)
    for (int64_t ow = ow0; ow < ow1; ++ow) {
      T unused;
      if (max_pool_argmax(g, xp, oh, ow, unused) == me) acc += gp[oh * g.Wo + ow];
    }
  return acc;
}

namespace ops {

// y[n, c, i, j] = max of x[n, c] over rows [i·s − p, i·s − p + k) and the same columns, cut to
// the image; output floor((H + 2p − k) / s) + 1. x float [N, C, H, W]; 0 <= p <= k / 2.
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding = 0);
// dx [N, C, H, W]: grad_out [N, C, Ho, Wo] routed to each window's argmax in x.
Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& x, int kernel, int stride,
                           int padding = 0);

}  // namespace ops
}  // namespace ebm
