// Differentiable spatial ops on NCHW images: conv2d, its transpose, average and max pooling,
// nearest upsampling and bilinear resizing. Forward: core/ops/conv.h, core/ops/max_pool.h,
// core/ops/resize.h; derivatives: autograd/functions/conv.cpp, max_pool.cpp, resize.cpp.
// Backwards are themselves differentiable (conv's two adjoints are each other's derivatives), so
// a gradient penalty on ∇ₓE can be back-propagated (create_graph) — except max pooling's.
#pragma once

#include "core/ops/conv.h"
#include "core/ops/max_pool.h"
#include "core/ops/resize.h"

namespace ebm {

// x [N, C_in, H, W], w [C_out, C_in, kH, kW], b [C_out] or undefined (torch F.conv2d).
// Backward computes only the wanted gradients: with frozen weights (the Langevin sampler's
// ∇ₓE) no weight or bias gradient is formed.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
              int padding = 0);
// Transposed convolution (torch F.conv_transpose2d): x [N, C_in, H, W], w [C_in, C_out, kH, kW],
// b [C_out] or undefined; output side (H - 1)·stride - 2·padding + kH + output_padding, with
// output_padding < stride. It is the adjoint of conv2d with the same w.
Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(),
                        int stride = 1, int padding = 0, int output_padding = 0);
// stride -1 means stride = kernel (the PyTorch default).
Tensor avg_pool2d(const Tensor& x, int kernel, int stride = -1, int padding = 0,
                  bool count_include_pad = true);
Tensor upsample_nearest2d(const Tensor& x, int scale = 2);
// torch F.max_pool2d (no dilation, no ceil mode); stride -1 means stride = kernel. The gradient
// goes to each window's first maximum. Its backward is not differentiable again: a second-order
// gradient through max pooling throws ValueError.
Tensor max_pool2d(const Tensor& x, int kernel, int stride = -1, int padding = 0);
// torch F.interpolate(x, size=(out_h, out_w), mode='bilinear', align_corners=False) without
// antialiasing. Linear; its backward is differentiable (its derivative is the resize).
Tensor resize_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w);

}  // namespace ebm
