// max_pool2d and its backward (core/ops/max_pool.h): argument checks, then the backend. CPU: one
// (n, c) plane per work item, calling the shared EBM_HD arithmetic (max_pool_argmax,
// max_pool_input_grad) per element. CUDA (cuda tensors in a CUDA build): cuda/pool.h, whose
// kernels call the same functions, so both backends give the same bits.
#include "core/ops/max_pool.h"

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/pool.h"
#endif

namespace ebm::ops {

namespace {

PoolGeom max_pool_geom(const Shape& x, int kernel, int stride, int padding, const char* op) {
  EBM_CHECK(x.ndim() == 4, ShapeError, op, ": input must be 4-D [N, C, H, W], got ", x);
  EBM_CHECK(kernel >= 1 && stride >= 1, ValueError, op, ": kernel (", kernel, ") and stride (",
            stride, ") must be >= 1");
  EBM_CHECK(padding >= 0 && 2 * padding <= kernel, ValueError, op, ": padding ", padding,
            " must be between 0 and half the kernel size ", kernel);
  const int64_t hp = x[2] + 2 * padding, wp = x[3] + 2 * padding;
  EBM_CHECK(hp >= kernel && wp >= kernel, ShapeError, op, ": kernel ", kernel,
            " is larger than the padded input ", x, " (padding ", padding, ")");
  return PoolGeom{x[0] * x[1], x[2], x[3], (hp - kernel) / stride + 1, (wp - kernel) / stride + 1,
                  kernel, stride, padding, false};
}

template <class T>
void max_pool_forward(const T* x, T* y, const PoolGeom& g) {
  cpu::parallel_for(g.planes, g.Ho * g.Wo * g.k * g.k, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) max_pool_argmax(g, xp, oh, ow, yp[oh * g.Wo + ow]);
    }
  });
}

template <class T>
void max_pool_backward(const T* gy, const T* x, T* dx, const PoolGeom& g) {
  // Each input pixel re-derives the argmax of the <= ceil(k/s)^2 windows covering it.
  const int64_t cover = (g.k + g.s - 1) / g.s;
  cpu::parallel_for(g.planes, g.H * g.W * cover * cover * g.k * g.k, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      const T* xp = x + pl * g.H * g.W;
      const T* gp = gy + pl * g.Ho * g.Wo;
      T* dp = dx + pl * g.H * g.W;
      for (int64_t ih = 0; ih < g.H; ++ih)
        for (int64_t iw = 0; iw < g.W; ++iw)
          dp[ih * g.W + iw] = max_pool_input_grad(g, xp, gp, ih, iw);
    }
  });
}

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  const char* op = "max_pool2d";
  check_defined(x, op, "x");
  check_float(x, op, "x");
  const PoolGeom g = max_pool_geom(x.shape(), kernel, stride, padding, op);
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.Ho, g.Wo}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      cuda::max_pool2d_forward<T>(static_cast<const T*>(x.data_ptr()),
                                  static_cast<T*>(y.data_ptr()), g, dev, cuda::current_stream(dev));
    });
    return y;
  }
#endif
  require_cpu(x, op);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] { max_pool_forward<T>(x.data<T>(), y.data<T>(), g); });
  return y;
}

Tensor max_pool2d_backward(const Tensor& grad_out, const Tensor& x, int kernel, int stride,
                           int padding) {
  const char* op = "max_pool2d_backward";
  check_defined(grad_out, op, "grad_out");
  check_defined(x, op, "x");
  check_float(x, op, "x");
  check_same_dtype(grad_out, x, op);
  check_same_device(grad_out, x, op);
  const PoolGeom g = max_pool_geom(x.shape(), kernel, stride, padding, op);
  const Shape ys{x.size(0), x.size(1), g.Ho, g.Wo};
  EBM_CHECK(grad_out.shape() == ys, ShapeError, op, ": grad_out ", grad_out.shape(),
            " does not match the pooled shape ", ys, " of x ", x.shape());
  Tensor dx = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (dx.numel() == 0) return dx;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      cuda::max_pool2d_backward<T>(static_cast<const T*>(grad_out.data_ptr()),
                                   static_cast<const T*>(x.data_ptr()),
                                   static_cast<T*>(dx.data_ptr()), g, dev,
                                   cuda::current_stream(dev));
    });
    return dx;
  }
#endif
  require_cpu(x, op);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    max_pool_backward<T>(grad_out.data<T>(), x.data<T>(), dx.data<T>(), g);
  });
  return dx;
}

}  // namespace ebm::ops
