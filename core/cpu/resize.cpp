// resize_bilinear2d and its backward (core/ops/resize.h): argument checks, then the backend. CPU:
// one (n, c) plane per work item, calling the shared EBM_HD arithmetic (resize_bilinear_at,
// resize_bilinear_input_grad) per element. CUDA (cuda tensors in a CUDA build): cuda/resize.h,
// whose kernels call the same functions, so both backends give the same bits.
#include "core/ops/resize.h"

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/resize.h"
#endif

namespace ebm::ops {

namespace {

void check_resize(const Shape& x, int64_t out_h, int64_t out_w, const char* op) {
  EBM_CHECK(x.ndim() == 4, ShapeError, op, ": input must be 4-D [N, C, H, W], got ", x);
  EBM_CHECK(x[2] >= 1 && x[3] >= 1, ShapeError, op, ": input ", x, " has an empty image");
  EBM_CHECK(out_h >= 1 && out_w >= 1, ValueError, op, ": output size must be >= 1, got ", out_h,
            "x", out_w);
}

template <class T>
void resize_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                    int64_t Wo) {
  cpu::parallel_for(planes, Ho * Wo * 8, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      const T* xp = x + pl * H * W;
      T* yp = y + pl * Ho * Wo;
      for (int64_t oh = 0; oh < Ho; ++oh)
        for (int64_t ow = 0; ow < Wo; ++ow)
          yp[oh * Wo + ow] = resize_bilinear_at(xp, H, W, Ho, Wo, oh, ow);
    }
  });
}

template <class T>
void resize_backward(const T* gy, T* dx, int64_t planes, int64_t H, int64_t W, int64_t Ho,
                     int64_t Wo) {
  const int64_t per_pixel = (Ho / H + 2) * (Wo / W + 2) + 16;  // outputs read, plus the bisection
  cpu::parallel_for(planes, H * W * per_pixel, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      const T* gp = gy + pl * Ho * Wo;
      T* dp = dx + pl * H * W;
      for (int64_t ih = 0; ih < H; ++ih)
        for (int64_t iw = 0; iw < W; ++iw)
          dp[ih * W + iw] = resize_bilinear_input_grad(gp, H, W, Ho, Wo, ih, iw);
    }
  });
}

}  // namespace

Tensor resize_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  const char* op = "resize_bilinear2d";
  check_defined(x, op, "x");
  check_float(x, op, "x");
  check_resize(x.shape(), out_h, out_w, op);
  const Shape& s = x.shape();
  Tensor y = Tensor::empty({s[0], s[1], out_h, out_w}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      cuda::resize_bilinear2d_forward<T>(static_cast<const T*>(x.data_ptr()),
                                         static_cast<T*>(y.data_ptr()), s[0] * s[1], s[2], s[3],
                                         out_h, out_w, dev, cuda::current_stream(dev));
    });
    return y;
  }
#endif
  require_cpu(x, op);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    resize_forward<T>(x.data<T>(), y.data<T>(), s[0] * s[1], s[2], s[3], out_h, out_w);
  });
  return y;
}

Tensor resize_bilinear2d_backward(const Tensor& grad_out, const Shape& x_shape) {
  const char* op = "resize_bilinear2d_backward";
  check_defined(grad_out, op, "grad_out");
  check_float(grad_out, op, "grad_out");
  EBM_CHECK(grad_out.dim() == 4, ShapeError, op, ": grad_out must be 4-D, got ",
            grad_out.description());
  check_resize(x_shape, grad_out.size(2), grad_out.size(3), op);
  EBM_CHECK(grad_out.size(0) == x_shape[0] && grad_out.size(1) == x_shape[1], ShapeError, op,
            ": grad_out ", grad_out.shape(), " does not match the batch and channels of x ",
            x_shape);
  const int64_t Ho = grad_out.size(2), Wo = grad_out.size(3);
  Tensor dx = Tensor::empty(x_shape, grad_out.dtype(), grad_out.device());
  if (dx.numel() == 0) return dx;
#if defined(EBM_WITH_CUDA)
  if (grad_out.device().is_cuda()) {
    const int dev = grad_out.device().index;
    EBM_DISPATCH_FLOAT(grad_out.dtype(), op, [&] {
      cuda::resize_bilinear2d_backward<T>(static_cast<const T*>(grad_out.data_ptr()),
                                          static_cast<T*>(dx.data_ptr()), x_shape[0] * x_shape[1],
                                          x_shape[2], x_shape[3], Ho, Wo, dev,
                                          cuda::current_stream(dev));
    });
    return dx;
  }
#endif
  require_cpu(grad_out, op);
  EBM_DISPATCH_FLOAT(grad_out.dtype(), op, [&] {
    resize_backward<T>(grad_out.data<T>(), dx.data<T>(), x_shape[0] * x_shape[1], x_shape[2],
                       x_shape[3], Ho, Wo);
  });
  return dx;
}

}  // namespace ebm::ops
