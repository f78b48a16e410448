// Bilinear resizing of NCHW images as torch.nn.functional.interpolate(x, size=(Ho, Wo),
// mode='bilinear', align_corners=False) without antialiasing — the resize pytorch-fid applies
// before its Inception (any size -> 299x299). Raw ops; the differentiable version is
// ebm::resize_bilinear2d (autograd/ops/conv.h).
//
// Per output index o of an axis of `in` -> `out` samples (ATen's area_pixel_compute_scale and
// area_pixel_compute_source_index):
//   scale = in / out,  src = max(0, scale·(o + 0.5) − 0.5),  i0 = floor(src),
//   i1 = i0 + 1 (i0 when i0 = in − 1),  λ1 = src − i0,  λ0 = 1 − λ1,
// with src and λ1 computed in float64 and the weights then rounded to the tensor's type. In
// float32 that is more precise than PyTorch's CUDA kernel (float coordinates: λ off by up to an
// ulp of src, ~2e-6 at 32 -> 299) and than its CPU kernel (~4e-7 at 32 -> 299, measured against
// float64); a float32 resize here is within ~1e-7 of the float64 one.
// and y = λ0h·(λ0w·x[i0h, i0w] + λ1w·x[i0h, i1w]) + λ1h·(λ0w·x[i1h, i0w] + λ1w·x[i1h, i1w]).
// The backward gathers per input pixel over the outputs that read it (the i0 of an axis is
// monotone in o, so they are a range found by bisection): deterministic, no atomics. This
// arithmetic is written once for the CPU loops (core/cpu/resize.cpp) and the CUDA kernels
// (cuda/kernels/resize.cu); products and sums use math::mul_add_rn, never contracted, so both
// give the same bits.
#pragma once

#include "core/math.h"
#include "core/tensor.h"

namespace ebm {

template <class T>
struct LinearTap {
  int64_t i0, i1;
  T l0, l1;
};

// The two source samples and weights of output o on an axis of in -> out samples.
template <class T>
EBM_HD LinearTap<T> linear_tap(int64_t o, int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  double src = math::mul_add_rn(scale, static_cast<double>(o) + 0.5, -0.5);
  if (src < 0.0) src = 0.0;
  LinearTap<T> t;
  t.i0 = static_cast<int64_t>(src);
  t.i1 = t.i0 < in - 1 ? t.i0 + 1 : t.i0;
  t.l1 = static_cast<T>(src - static_cast<double>(t.i0));
  t.l0 = T(1) - t.l1;
  return t;
}

// The weight with which output o reads input i on one axis (0 when it does not).
template <class T>
EBM_HD T linear_tap_weight(const LinearTap<T>& t, int64_t i) {
  T w = 0;
  if (t.i0 == i) w = t.l0;
  if (t.i1 == i) w = w + t.l1;
  return w;
}

// The outputs [lo, hi) whose taps on an axis of in -> out samples include input i: those with
// i0 in {i − 1, i}, a range because i0 does not decrease with o.
template <class T>
EBM_HD void linear_outputs_reading(int64_t i, int64_t in, int64_t out, int64_t& lo, int64_t& hi) {
  int64_t a = 0, b = out;  // first o with i0(o) >= i - 1
  while (a < b) {
    const int64_t m = a + (b - a) / 2;
    if (linear_tap<T>(m, in, out).i0 < i - 1) a = m + 1;
    else b = m;
  }
  lo = a;
  b = out;  // first o with i0(o) > i
  while (a < b) {
    const int64_t m = a + (b - a) / 2;
    if (linear_tap<T>(m, in, out).i0 <= i) a = m + 1;
    else b = m;
  }
  hi = a;
}

// One output pixel (oh, ow) of plane xp [H, W] resized to [Ho, Wo].
template <class T>
EBM_HD T resize_bilinear_at(const T* xp, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int64_t oh,
                            int64_t ow) {
  const LinearTap<T> th = linear_tap<T>(oh, H, Ho), tw = linear_tap<T>(ow, W, Wo);
  const T* r0 = xp + th.i0 * W;
  const T* r1 = xp + th.i1 * W;
  const T top = math::mul_add_rn(tw.l0, r0[tw.i0], tw.l1 * r0[tw.i1]);
  const T bottom = math::mul_add_rn(tw.l0, r1[tw.i0], tw.l1 * r1[tw.i1]);
  return math::mul_add_rn(th.l0, top, th.l1 * bottom);
}

// The gradient of input pixel (ih, iw) of plane [H, W] from gp [Ho, Wo]: rows oh in order, each
// row's columns in order.
template <class T>
EBM_HD T resize_bilinear_input_grad(const T* gp, int64_t H, int64_t W, int64_t Ho, int64_t Wo,
                                    int64_t ih, int64_t iw) {
  int64_t oh0, oh1, ow0, ow1;
  linear_outputs_reading<T>(ih, H, Ho, oh0, oh1);
  linear_outputs_reading<T>(iw, W, Wo, ow0, ow1);
  T acc = 0;
  for (int64_t oh = oh0; oh < oh1; ++oh) {
    const T wh = linear_tap_weight(linear_tap<T>(oh, H, Ho), ih);
    T row = 0;
    for (int64_t ow = ow0; ow < ow1; ++ow)
      row = math::mul_add_rn(linear_tap_weight(linear_tap<T>(ow, W, Wo), iw), gp[oh * Wo + ow], row);
    acc = math::mul_add_rn(wh, row, acc);
  }
  return acc;
}

namespace ops {

// x float [N, C, H, W] -> [N, C, out_h, out_w] (all sizes >= 1).
Tensor resize_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w);
// The adjoint: grad_out [N, C, out_h, out_w] -> [N, C, H, W] of x_shape.
Tensor resize_bilinear2d_backward(const Tensor& grad_out, const Shape& x_shape);

}  // namespace ops
}  // namespace ebm
