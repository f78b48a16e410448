// Spatial ops on NCHW images with PyTorch semantics: 2-D convolution (weight [C_out, C_in, kH,
// kW], symmetric stride and zero padding, no groups or dilation) and its two adjoints, average
// pooling (floor output size), and nearest-neighbour upsampling by an integer factor. Raw ops;
// the differentiable versions are in autograd/ops/conv.h.
#pragma once

#include "core/tensor.h"

namespace ebm::ops {

// Output shape of conv2d for these input and weight shapes; throws naming the op and both
// shapes when they do not fit (rank, channels, kernel larger than the padded input).
Shape conv2d_output_shape(const Shape& x, const Shape& w, int stride, int padding,
                          const char* op = "conv2d");

// y[n, co, i, j] = b[co] + sum_{ci, ki, kj} w[co, ci, ki, kj] x[n, ci, i*s - p + ki, j*s - p + kj]
// (x zero outside). x [N, C_in, H, W], w [C_out, C_in, kH, kW], b [C_out] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b = Tensor(), int stride = 1,
              int padding = 0);
// The adjoint of conv2d in x: the gradient w.r.t. an input of shape x_shape, given the output
// gradient [N, C_out, H_out, W_out]. Also the forward of a transposed convolution.
Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& x_shape,
                             int stride, int padding);
// The gradient w.r.t. a weight of shape w_shape: sum over the batch of grad_out ⊗ patches of x.
Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& w_shape,
                              int stride, int padding);
// The gradient w.r.t. the bias: grad_out [N, C_out, H_out, W_out] summed over N, H_out, W_out.
// (Autograd's conv2d node sums with the differentiable ebm::sum instead, which keeps the bias
// gradient differentiable for second-order use; this op is the fused single-pass form.)
Tensor conv2d_backward_bias(const Tensor& grad_out);

// Mean over kernel x kernel windows, output floor((H + 2p - k) / s) + 1. With count_include_pad
// the divisor counts the padding (but not past H + p, as in PyTorch); else only real pixels.
// padding must be at most kernel / 2.
Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding = 0,
                  bool count_include_pad = true);
Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, int kernel, int stride,
                           int padding = 0, bool count_include_pad = true);

// y[n, c, i, j] = x[n, c, i / scale, j / scale]: [N, C, H, W] -> [N, C, H*scale, W*scale].
Tensor upsample_nearest2d(const Tensor& x, int scale);
// Sums each scale x scale block of grad_out: [N, C, H*scale, W*scale] -> [N, C, H, W].
Tensor upsample_nearest2d_backward(const Tensor& grad_out, int scale);

}  // namespace ebm::ops
