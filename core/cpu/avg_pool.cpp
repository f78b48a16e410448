// avg_pool2d and upsample_nearest2d (and their backward ops), declared in core/ops/conv.h:
// argument checks, then the backend. CPU: one (n, c) plane per work item, with the window
// arithmetic of core/ops/pool_window.h (shared with the CUDA kernels) and a vectorisable fast
// path for the 2×2 stride-2 pool of IGEBM/DRL. CUDA (cuda tensors in a CUDA build): cuda/pool.h.
#include <algorithm>
#include <cstring>

#include "core/cpu/parallel.h"
#include "core/ops/conv.h"
#include "core/ops/dispatch.h"
#include "core/ops/pool_window.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/pool.h"
#include "cuda/stream.h"
#endif

namespace ebm::ops {

namespace {

// ---- pooling and upsampling: one (n, c) plane per work item. The window arithmetic (PoolGeom,
// pool_window) is core/ops/pool_window.h, shared with the CUDA kernels.

// The 2×2, stride-2, unpadded pool of even-sized planes (the IGEBM/DRL downsampling): the
// generic loops' arithmetic in the same order (((0 + x00) + x01) + x10) + x11, then / 4), with
// constant trip counts so the compiler vectorises it.
bool pool2x2(const PoolGeom& g) {
  return g.k == 2 && g.s == 2 && g.p == 0 && g.H % 2 == 0 && g.W % 2 == 0;
}

template <class T>
void avg_pool2x2_forward(const T* x, T* y, const PoolGeom& g) {
  cpu::parallel_for(g.planes, g.H * g.W, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl)
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        const T* r0 = x + (pl * g.H + 2 * oh) * g.W;
        const T* r1 = r0 + g.W;
        T* yr = y + (pl * g.Ho + oh) * g.Wo;
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          T acc = T(0);
          acc += r0[2 * ow];
          acc += r0[2 * ow + 1];
          acc += r1[2 * ow];
          acc += r1[2 * ow + 1];
          yr[ow] = acc / T(4);
        }
      }
  });
}

template <class T>
void avg_pool2x2_backward(const T* gy, T* dx, const PoolGeom& g) {
  cpu::parallel_for(g.planes, g.H * g.W, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl)
      for (int64_t oh = 0; oh < g.Ho; ++oh) {
        const T* gr = gy + (pl * g.Ho + oh) * g.Wo;
        T* r0 = dx + (pl * g.H + 2 * oh) * g.W;
        T* r1 = r0 + g.W;
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const T v = T(0) + gr[ow] / T(4);  // as the generic loop: a zeroed dx plus v
          r0[2 * ow] = v;
          r0[2 * ow + 1] = v;
          r1[2 * ow] = v;
          r1[2 * ow + 1] = v;
        }
      }
  });
}

template <class T>
void avg_pool_forward(const T* x, T* y, const PoolGeom& g) {
  if (pool2x2(g)) return avg_pool2x2_forward(x, y, g);
  cpu::parallel_for(g.planes, g.Ho * g.Wo * g.k * g.k, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      const T* xp = x + pl * g.H * g.W;
      T* yp = y + pl * g.Ho * g.Wo;
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const PoolWindow win = pool_window(g, oh, ow);
          T acc = 0;
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) acc += xp[ih * g.W + iw];
          yp[oh * g.Wo + ow] = acc / T(win.div);
        }
    }
  });
}

template <class T>
void avg_pool_backward(const T* gy, T* dx, const PoolGeom& g) {
  if (pool2x2(g)) return avg_pool2x2_backward(gy, dx, g);
  cpu::parallel_for(g.planes, g.Ho * g.Wo * g.k * g.k, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl) {
      T* dp = dx + pl * g.H * g.W;
      const T* gp = gy + pl * g.Ho * g.Wo;
      std::fill(dp, dp + g.H * g.W, T(0));
      for (int64_t oh = 0; oh < g.Ho; ++oh)
        for (int64_t ow = 0; ow < g.Wo; ++ow) {
          const PoolWindow win = pool_window(g, oh, ow);
          T v = gp[oh * g.Wo + ow] / T(win.div);
          for (int64_t ih = win.h0; ih < win.h1; ++ih)
            for (int64_t iw = win.w0; iw < win.w1; ++iw) dp[ih * g.W + iw] += v;
        }
    }
  });
}

template <class T>
void upsample_forward(const T* x, T* y, int64_t planes, int64_t H, int64_t W, int64_t s) {
  const int64_t Wo = W * s;
  cpu::parallel_for(planes, H * W * s * s, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl)
      for (int64_t i = 0; i < H; ++i) {
        const T* src = x + (pl * H + i) * W;
        T* row = y + (pl * H + i) * s * Wo;  // first of the s output rows of input row i
        for (int64_t j = 0; j < W; ++j)
          for (int64_t r = 0; r < s; ++r) row[j * s + r] = src[j];
        for (int64_t r = 1; r < s; ++r) std::memcpy(row + r * Wo, row, Wo * sizeof(T));
      }
  });
}

template <class T>
void upsample_backward(const T* gy, T* dx, int64_t planes, int64_t H, int64_t W, int64_t s) {
  const int64_t Wo = W * s;
  cpu::parallel_for(planes, H * W * s * s, [&](int64_t lo, int64_t hi) {
    for (int64_t pl = lo; pl < hi; ++pl)
      for (int64_t i = 0; i < H; ++i) {
        T* d = dx + (pl * H + i) * W;
        const T* rows = gy + (pl * H + i) * s * Wo;
        for (int64_t j = 0; j < W; ++j) {
          T acc = 0;
          for (int64_t r = 0; r < s; ++r)
            for (int64_t c = 0; c < s; ++c) acc += rows[r * Wo + j * s + c];
          d[j] = acc;
        }
      }
  });
}

PoolGeom pool_geom(const Shape& x, int kernel, int stride, int padding, bool include_pad,
                   const char* op) {
  EBM_CHECK(x.ndim() == 4, ShapeError, op, ": input must be 4-D [N, C, H, W], got ", x);
  EBM_CHECK(kernel >= 1 && stride >= 1, ValueError, op, ": kernel (", kernel, ") and stride (",
            stride, ") must be >= 1");
  EBM_CHECK(padding >= 0 && 2 * padding <= kernel, ValueError, op, ": padding ", padding,
            " must be between 0 and half the kernel size ", kernel);
  int64_t hp = x[2] + 2 * padding, wp = x[3] + 2 * padding;
  EBM_CHECK(hp >= kernel && wp >= kernel, ShapeError, op, ": kernel ", kernel,
            " is larger than the padded input ", x, " (padding ", padding, ")");
  return PoolGeom{x[0] * x[1], x[2], x[3], (hp - kernel) / stride + 1, (wp - kernel) / stride + 1,
                  kernel, stride, padding, include_pad};
}

}  // namespace

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding, bool count_include_pad) {
  const char* op = "avg_pool2d";
  check_defined(x, op, "x");
  check_float(x, op, "x");
  PoolGeom g = pool_geom(x.shape(), kernel, stride, padding, count_include_pad, op);
  Tensor y = Tensor::empty({x.size(0), x.size(1), g.Ho, g.Wo}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      cuda::avg_pool2d_forward<T>(static_cast<const T*>(x.data_ptr()),
                                  static_cast<T*>(y.data_ptr()), g, dev, cuda::current_stream(dev));
    });
    return y;
  }
#endif
  require_cpu(x, op);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] { avg_pool_forward<T>(x.data<T>(), y.data<T>(), g); });
  return y;
}

Tensor avg_pool2d_backward(const Tensor& grad_out, const Shape& x_shape, int kernel, int stride,
                           int padding, bool count_include_pad) {
  const char* op = "avg_pool2d_backward";
  check_defined(grad_out, op, "grad_out");
  check_float(grad_out, op, "grad_out");
  PoolGeom g = pool_geom(x_shape, kernel, stride, padding, count_include_pad, op);
  Shape ys{x_shape[0], x_shape[1], g.Ho, g.Wo};
  EBM_CHECK(grad_out.shape() == ys, ShapeError, op, ": grad_out ", grad_out.shape(),
            " does not match the pooled shape ", ys, " of x ", x_shape);
  Tensor dx = Tensor::empty(x_shape, grad_out.dtype(), grad_out.device());
  if (dx.numel() == 0) return dx;
#if defined(EBM_WITH_CUDA)
  if (grad_out.device().is_cuda()) {
    const int dev = grad_out.device().index;
    EBM_DISPATCH_FLOAT(grad_out.dtype(), op, [&] {
      cuda::avg_pool2d_backward<T>(static_cast<const T*>(grad_out.data_ptr()),
                                   static_cast<T*>(dx.data_ptr()), g, dev, cuda::current_stream(dev));
    });
    return dx;
  }
#endif
  require_cpu(grad_out, op);
  EBM_DISPATCH_FLOAT(grad_out.dtype(), op,
                     [&] { avg_pool_backward<T>(grad_out.data<T>(), dx.data<T>(), g); });
  return dx;
}

Tensor upsample_nearest2d(const Tensor& x, int scale) {
  const char* op = "upsample_nearest2d";
  check_defined(x, op, "x");
  check_float(x, op, "x");
  EBM_CHECK(x.dim() == 4, ShapeError, op, ": input must be 4-D [N, C, H, W], got ", x.description());
  EBM_CHECK(scale >= 1, ValueError, op, ": scale must be >= 1, got ", scale);
  const Shape& s = x.shape();
  Tensor y = Tensor::empty({s[0], s[1], s[2] * scale, s[3] * scale}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      cuda::upsample_nearest2d_forward<T>(static_cast<const T*>(x.data_ptr()),
                                          static_cast<T*>(y.data_ptr()), s[0] * s[1], s[2], s[3],
                                          scale, dev, cuda::current_stream(dev));
    });
    return y;
  }
#endif
  require_cpu(x, op);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    upsample_forward<T>(x.data<T>(), y.data<T>(), s[0] * s[1], s[2], s[3], scale);
  });
  return y;
}

Tensor upsample_nearest2d_backward(const Tensor& grad_out, int scale) {
  const char* op = "upsample_nearest2d_backward";
  check_defined(grad_out, op, "grad_out");
  check_float(grad_out, op, "grad_out");
  EBM_CHECK(scale >= 1, ValueError, op, ": scale must be >= 1, got ", scale);
  const Shape& s = grad_out.shape();
  EBM_CHECK(grad_out.dim() == 4 && s[2] % scale == 0 && s[3] % scale == 0, ShapeError, op,
            ": grad_out ", grad_out.description(), " must be 4-D with H and W divisible by scale ",
            scale);
  int64_t H = s[2] / scale, W = s[3] / scale;
  Tensor dx = Tensor::empty({s[0], s[1], H, W}, grad_out.dtype(), grad_out.device());
  if (dx.numel() == 0) return dx;
#if defined(EBM_WITH_CUDA)
  if (grad_out.device().is_cuda()) {
    const int dev = grad_out.device().index;
    EBM_DISPATCH_FLOAT(grad_out.dtype(), op, [&] {
      cuda::upsample_nearest2d_backward<T>(static_cast<const T*>(grad_out.data_ptr()),
                                           static_cast<T*>(dx.data_ptr()), s[0] * s[1], H, W,
                                           scale, dev, cuda::current_stream(dev));
    });
    return dx;
  }
#endif
  require_cpu(grad_out, op);
  EBM_DISPATCH_FLOAT(grad_out.dtype(), op, [&] {
    upsample_backward<T>(grad_out.data<T>(), dx.data<T>(), s[0] * s[1], H, W, scale);
  });
  return dx;
}

}  // namespace ebm::ops
