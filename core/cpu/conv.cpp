// The spatial ops: argument checks, then the backend.
// CPU: float32 stride-1 conv2d forward and backward-input (and backward-weight for 3×3) run the
// direct SIMD loops of core/cpu/conv_direct.h (no column matrix). Otherwise conv2d and its adjoints are
// im2col / col2im plus one Eigen GEMM per image:
// y_n [C_out, HW_out] = W [C_out, K] · col_n [K, HW_out] with K = C_in·kH·kW. A 1x1, stride-1,
// unpadded conv skips im2col (x_n is its own column matrix). Batches of at least one image per
// thread run images in parallel with per-thread column buffers (Eigen then runs single-threaded);
// smaller batches go image by image with Eigen threading the GEMM.
// CUDA (cuda tensors in a CUDA build): conv2d and its adjoints through cuDNN (cuda/cudnn_conv.h,
// TF32 per ebm::allow_tf32()) and biases through cuda/pool.h. Pooling and upsampling: pool.cpp.
#include "core/ops/conv.h"

#include "core/cpu/eigen_maps.h"

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "core/cpu/conv_direct.h"
#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"
#include "core/settings.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/cudnn_conv.h"
#include "cuda/pool.h"
#endif

namespace ebm::ops {

namespace {

using cpu::RowMat;
using cpu::CMap;
using cpu::MMap;
using cpu::CVec;

int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

// A growable buffer per thread, per element type and per slot, kept across calls so that a
// training step does not allocate column matrices again and again.
template <class T, int Slot>
T* scratch(size_t n) {
  thread_local std::vector<T> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}

struct Geom {
  int64_t N, C, H, W;    // input
  int64_t Co, kh, kw;    // weight [Co, C, kh, kw]
  int64_t Ho, Wo;        // output
  int64_t s, p;          // stride, padding (same for both dims)
  int64_t K() const { return C * kh * kw; }
  int64_t HW() const { return H * W; }
  int64_t HWo() const { return Ho * Wo; }
  // x_n itself is the column matrix [C, H*W].
  bool direct() const { return kh == 1 && kw == 1 && s == 1 && p == 0; }
  // Multiply-adds of one image's GEMM, to decide whether threads pay.
  int64_t flops_per_image() const { return Co * K() * HWo(); }
  // float32 stride-1 convs with a real kernel go to the direct SIMD loops (conv_direct.h), which
  // need padding < kernel size (the backward-input correlation pads by k - 1 - p).
  template <class T>
  bool use_direct() const {
    return std::is_same_v<T, float> && s == 1 && !direct() && p < kh && p < kw &&
           cpu::direct_conv_available();
  }
};

Geom make_geom(const Shape& x, const Shape& w, const Shape& y, int stride, int padding) {
  return Geom{x[0], x[1], x[2], x[3], w[0], w[2], w[3], y[2], y[3], stride, padding};
}

// The output columns [lo, hi) whose input column ow*s + off lies inside [0, W).
inline void valid_range(int64_t off, int64_t s, int64_t W, int64_t Wo, int64_t& lo, int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
  hi = std::min(hi, Wo);
  lo = std::min(lo, hi);
}

// Rows [c0·kh·kw, c1·kh·kw) of the column matrix of one image: col[(c, ki, kj), (oh, ow)] =
// x[c, oh*s - p + ki, ow*s - p + kj], zero in the padding. Index arithmetic is hoisted out of the
// inner loop, which is a plain copy for stride 1.
template <class T>
void im2col(const T* x, const Geom& g, T* col, int64_t c0, int64_t c1) {
  const int64_t HWo = g.HWo();
  for (int64_t c = c0; c < c1; ++c) {
    const T* xc = x + c * g.HW();
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        T* dst = col + ((c * g.kh + ki) * g.kw + kj) * HWo;
        const int64_t off = kj - g.p;
        int64_t lo, hi;
        valid_range(off, g.s, g.W, g.Wo, lo, hi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          T* d = dst + oh * g.Wo;
          const int64_t ih = oh * g.s - g.p + ki;
          if (ih < 0 || ih >= g.H) {
            std::fill(d, d + g.Wo, T(0));
            continue;
          }
          const T* src = xc + ih * g.W;  // d[ow] = src[ow*s + off] for ow in [lo, hi)
          std::fill(d, d + lo, T(0));
          if (g.s == 1) {
            std::memcpy(d + lo, src + lo + off, (hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo, iw = lo * g.s + off; ow < hi; ++ow, iw += g.s) d[ow] = src[iw];
          }
          std::fill(d + hi, d + g.Wo, T(0));
        }
      }
  }
}

// The adjoint of im2col for channels [c0, c1): adds each column entry back into dx (which the
// caller zeroed). Different channels touch disjoint planes, so channel ranges may run in parallel.
template <class T>
void col2im(const T* col, const Geom& g, T* dx, int64_t c0, int64_t c1) {
  const int64_t HWo = g.HWo();
  for (int64_t c = c0; c < c1; ++c) {
    T* xc = dx + c * g.HW();
    for (int64_t ki = 0; ki < g.kh; ++ki)
      for (int64_t kj = 0; kj < g.kw; ++kj) {
        const T* srcrow = col + ((c * g.kh + ki) * g.kw + kj) * HWo;
        const int64_t off = kj - g.p;
        int64_t lo, hi;
        valid_range(off, g.s, g.W, g.Wo, lo, hi);
        for (int64_t oh = 0; oh < g.Ho; ++oh) {
          const int64_t ih = oh * g.s - g.p + ki;
          if (ih < 0 || ih >= g.H) continue;
          const T* s = srcrow + oh * g.Wo;
          T* d = xc + ih * g.W;  // d[ow*s + off] += s[ow] for ow in [lo, hi)
          if (g.s == 1) {
            T* dd = d + lo + off;
            const T* ss = s + lo;
#pragma omp simd
            for (int64_t i = 0; i < hi - lo; ++i) dd[i] += ss[i];
          } else {
            for (int64_t ow = lo, iw = lo * g.s + off; ow < hi; ++ow, iw += g.s) d[iw] += s[ow];
          }
        }
      }
  }
}

// Whether to run images on separate threads (else one by one, with threads inside each image).
bool batch_parallel(const Geom& g) {
  int nt = max_threads();
  return nt > 1 && g.N >= nt && g.N * g.flops_per_image() >= cpu::kParallelGrain;
}

// Calls body(tid, lo, hi) on each OpenMP thread with a balanced contiguous range of images.
template <class F>
void for_image_ranges(int64_t n, F&& body) {
#if defined(_OPENMP)
#pragma omp parallel
  {
    int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    body(tid, nt, tid * n / nt, (tid + 1) * n / nt);
  }
#else
  body(int64_t(0), int64_t(1), int64_t(0), n);
#endif
}

// im2col of one image, over channels in parallel when the caller is not already threaded.
template <class T>
void im2col_image(const T* x, const Geom& g, T* col) {
  cpu::parallel_for(g.C, g.kh * g.kw * g.HWo(),
                    [&](int64_t c0, int64_t c1) { im2col(x, g, col, c0, c1); });
}

// Runs image(n, col) for every image n with a per-thread column buffer (K x HWo, none for a
// direct 1x1 conv): images in parallel when the batch allows, else one after another (each then
// threads inside, see batch_parallel).
template <class T, class F>
void for_each_image(const Geom& g, F&& image) {
  size_t col_size = g.direct() ? 0 : static_cast<size_t>(g.K() * g.HWo());
  if (batch_parallel(g)) {
    for_image_ranges(g.N, [&](int64_t, int64_t, int64_t lo, int64_t hi) {
      T* col = scratch<T, 0>(col_size);
      for (int64_t n = lo; n < hi; ++n) image(n, col);
    });
  } else {
    T* col = scratch<T, 0>(col_size);
    for (int64_t n = 0; n < g.N; ++n) image(n, col);
  }
}

template <class T>
void conv_forward(const T* x, const T* w, const T* b, T* y, const Geom& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (g.use_direct<T>())
      return cpu::direct_conv2d_forward(x, w, b, y, g.N, g.C, g.H, g.W, g.Co, g.kh, g.kw, g.p);
  }
  const int64_t K = g.K(), HWo = g.HWo();
  CMap<T> Wm(w, g.Co, K);
  auto image = [&](int64_t n, T* col) {
    const T* xn = x + n * g.C * g.HW();
    if (!g.direct()) im2col_image(xn, g, col);
    MMap<T> Y(y + n * g.Co * HWo, g.Co, HWo);
    Y.noalias() = Wm * CMap<T>(g.direct() ? xn : col, K, HWo);
    if (b) Y.colwise() += CVec<T>(b, g.Co);
  };
  for_each_image<T>(g, image);
}

template <class T>
void conv_backward_input(const T* gy, const T* w, T* dx, const Geom& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (g.use_direct<T>())
      return cpu::direct_conv2d_backward_input(gy, w, dx, g.N, g.C, g.H, g.W, g.Co, g.kh, g.kw,
                                               g.p);
  }
  const int64_t K = g.K(), HWo = g.HWo();
  CMap<T> Wm(w, g.Co, K);
  auto image = [&](int64_t n, T* col) {
    CMap<T> G(gy + n * g.Co * HWo, g.Co, HWo);
    T* dxn = dx + n * g.C * g.HW();
    if (g.direct()) {
      MMap<T>(dxn, g.C, g.HW()).noalias() = Wm.transpose() * G;
      return;
    }
    MMap<T>(col, K, HWo).noalias() = Wm.transpose() * G;
    std::fill(dxn, dxn + g.C * g.HW(), T(0));
    cpu::parallel_for(g.C, g.kh * g.kw * HWo,
                      [&](int64_t c0, int64_t c1) { col2im(col, g, dxn, c0, c1); });
  };
  for_each_image<T>(g, image);
}

// dW = sum_n G_n · col_nᵀ. In the batch-parallel mode each thread sums its images into its own
// buffer and the buffers are added in thread order, so the result is deterministic for a given
// thread count (no atomics).
template <class T>
void conv_backward_weight(const T* gy, const T* x, T* dw, const Geom& g) {
  if constexpr (std::is_same_v<T, float>) {
    if (g.use_direct<T>() && g.N > 0 &&
        cpu::direct_conv2d_backward_weight(gy, x, dw, g.N, g.C, g.H, g.W, g.Co, g.kh, g.kw, g.p))
      return;
  }
  const int64_t K = g.K(), HWo = g.HWo(), WN = g.Co * K;
  size_t col_size = g.direct() ? 0 : static_cast<size_t>(K * HWo);
  // acc (+)= G_n · col_nᵀ
  auto image = [&](int64_t n, T* col, MMap<T>& acc, bool first) {
    const T* xn = x + n * g.C * g.HW();
    if (!g.direct()) im2col_image(xn, g, col);
    CMap<T> G(gy + n * g.Co * HWo, g.Co, HWo);
    CMap<T> Col(g.direct() ? xn : col, K, HWo);
    if (first) acc.noalias() = G * Col.transpose();
    else acc.noalias() += G * Col.transpose();
  };
  if (g.N == 0) {
    std::fill(dw, dw + WN, T(0));
    return;
  }
  if (!batch_parallel(g)) {
    T* col = scratch<T, 0>(col_size);
    MMap<T> acc(dw, g.Co, K);
    for (int64_t n = 0; n < g.N; ++n) image(n, col, acc, n == 0);
    return;
  }
  std::vector<T*> partial(max_threads(), nullptr);
  for_image_ranges(g.N, [&](int64_t tid, int64_t nt, int64_t lo, int64_t hi) {
    T* col = scratch<T, 0>(col_size);
    if (lo < hi) {
      MMap<T> acc(scratch<T, 1>(WN), g.Co, K);
      for (int64_t n = lo; n < hi; ++n) image(n, col, acc, n == lo);
      partial[tid] = acc.data();
    }
#if defined(_OPENMP)
#pragma omp barrier
#pragma omp for schedule(static)
#endif
    for (int64_t i = 0; i < WN; ++i) {
      T s = 0;
      for (int64_t t = 0; t < nt; ++t)
        if (partial[t]) s += partial[t][i];
      dw[i] = s;
    }
  });
}

#if defined(EBM_WITH_CUDA)
cuda::ConvGeom2d cuda_geom(const Shape& x, const Shape& w, const Shape& y, int stride,
                           int padding) {
  cuda::ConvGeom2d g;
  g.n = x[0], g.c = x[1], g.h = x[2], g.w = x[3];
  g.co = w[0], g.kh = w[2], g.kw = w[3];
  g.ho = y[2], g.wo = y[3];
  g.stride = stride, g.padding = padding;
  return g;
}
#endif

void check_conv_args(int stride, int padding, const char* op) {
  EBM_CHECK(stride >= 1, ValueError, op, ": stride must be >= 1, got ", stride);
  EBM_CHECK(padding >= 0, ValueError, op, ": padding must be >= 0, got ", padding);
}

}  // namespace

Shape conv2d_output_shape(const Shape& x, const Shape& w, int stride, int padding, const char* op) {
  check_conv_args(stride, padding, op);
  EBM_CHECK(x.ndim() == 4, ShapeError, op, ": input x must be 4-D [N, C, H, W], got ", x,
            " (w ", w, ")");
  EBM_CHECK(w.ndim() == 4, ShapeError, op, ": weight w must be 4-D [C_out, C_in, kH, kW], got ",
            w, " (x ", x, ")");
  EBM_CHECK(x[1] == w[1], ShapeError, op, ": x ", x, " has ", x[1], " channels but w ", w,
            " expects C_in = ", w[1], " (w is [C_out, C_in, kH, kW])");
  EBM_CHECK(w[2] >= 1 && w[3] >= 1, ShapeError, op, ": empty kernel in w ", w);
  int64_t hp = x[2] + 2 * padding, wp = x[3] + 2 * padding;
  EBM_CHECK(hp >= w[2] && wp >= w[3], ShapeError, op, ": kernel of w ", w,
            " is larger than the padded input of x ", x, " (padding ", padding, ")");
  return Shape{x[0], w[0], (hp - w[2]) / stride + 1, (wp - w[3]) / stride + 1};
}

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding) {
  const char* op = "conv2d";
  check_defined(x, op, "x");
  check_defined(w, op, "w");
  check_float(x, op, "x");
  check_same_dtype(x, w, op);
  check_same_device(x, w, op);
  Shape ys = conv2d_output_shape(x.shape(), w.shape(), stride, padding, op);
  if (b.defined()) {
    check_same_dtype(x, b, op);
    check_same_device(x, b, op);
    EBM_CHECK(b.dim() == 1 && b.size(0) == w.size(0), ShapeError, op, ": bias b ", b.shape(),
              " must have shape [", w.size(0), "] for w ", w.shape());
  }
  Tensor y = Tensor::empty(ys, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    if (x.size(1) == 0) {  // no input channels: an empty sum, then the bias (cuDNN wants C >= 1)
      y.zero_();
      if (b.defined())
        EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
          cuda::add_channel_bias<T>(static_cast<T*>(y.data_ptr()),
                                    static_cast<const T*>(b.data_ptr()), ys[0], ys[1],
                                    ys[2] * ys[3], dev, cuda::current_stream(dev));
        });
      return y;
    }
    cuda::conv2d_forward(x.dtype(), cuda_geom(x.shape(), w.shape(), ys, stride, padding),
                         x.data_ptr(), w.data_ptr(), b.defined() ? b.data_ptr() : nullptr,
                         y.data_ptr(), allow_tf32(), dev, cuda::current_stream(dev));
    return y;
  }
#endif
  require_cpu(x, op);
  Geom g = make_geom(x.shape(), w.shape(), ys, stride, padding);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    conv_forward<T>(x.data<T>(), w.data<T>(), b.defined() ? b.data<T>() : nullptr, y.data<T>(), g);
  });
  return y;
}

Tensor conv2d_backward_input(const Tensor& grad_out, const Tensor& w, const Shape& x_shape,
                             int stride, int padding) {
  const char* op = "conv2d_backward_input";
  check_defined(grad_out, op, "grad_out");
  check_defined(w, op, "w");
  check_float(grad_out, op, "grad_out");
  check_same_dtype(grad_out, w, op);
  check_same_device(grad_out, w, op);
  Shape ys = conv2d_output_shape(x_shape, w.shape(), stride, padding, op);
  EBM_CHECK(grad_out.shape() == ys, ShapeError, op, ": grad_out ", grad_out.shape(),
            " does not match the conv2d output ", ys, " of x ", x_shape, " and w ", w.shape());
  Tensor dx = Tensor::empty(x_shape, w.dtype(), w.device());
  if (dx.numel() == 0) return dx;
  if (ys.numel() == 0) return dx.zero_();
#if defined(EBM_WITH_CUDA)
  if (w.device().is_cuda()) {
    const int dev = w.device().index;
    cuda::conv2d_backward_data(w.dtype(), cuda_geom(x_shape, w.shape(), ys, stride, padding),
                               grad_out.data_ptr(), w.data_ptr(), dx.data_ptr(), allow_tf32(), dev,
                               cuda::current_stream(dev));
    return dx;
  }
#endif
  require_cpu(grad_out, op);
  Geom g = make_geom(x_shape, w.shape(), ys, stride, padding);
  EBM_DISPATCH_FLOAT(w.dtype(), op, [&] {
    conv_backward_input<T>(grad_out.data<T>(), w.data<T>(), dx.data<T>(), g);
  });
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& grad_out, const Tensor& x, const Shape& w_shape,
                              int stride, int padding) {
  const char* op = "conv2d_backward_weight";
  check_defined(grad_out, op, "grad_out");
  check_defined(x, op, "x");
  check_float(x, op, "x");
  check_same_dtype(grad_out, x, op);
  check_same_device(grad_out, x, op);
  Shape ys = conv2d_output_shape(x.shape(), w_shape, stride, padding, op);
  EBM_CHECK(grad_out.shape() == ys, ShapeError, op, ": grad_out ", grad_out.shape(),
            " does not match the conv2d output ", ys, " of x ", x.shape(), " and w ", w_shape);
  Tensor dw = Tensor::empty(w_shape, x.dtype(), x.device());
  if (dw.numel() == 0) return dw;
  if (ys.numel() == 0) return dw.zero_();
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    cuda::conv2d_backward_filter(x.dtype(), cuda_geom(x.shape(), w_shape, ys, stride, padding),
                                 grad_out.data_ptr(), x.data_ptr(), dw.data_ptr(), allow_tf32(),
                                 dev, cuda::current_stream(dev));
    return dw;
  }
#endif
  require_cpu(x, op);
  Geom g = make_geom(x.shape(), w_shape, ys, stride, padding);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    conv_backward_weight<T>(grad_out.data<T>(), x.data<T>(), dw.data<T>(), g);
  });
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& grad_out) {
  const char* op = "conv2d_backward_bias";
  check_defined(grad_out, op, "grad_out");
  check_float(grad_out, op, "grad_out");
  check_dim(grad_out, 4, op, "grad_out");
  const Shape& s = grad_out.shape();
  Tensor db = Tensor::empty({s[1]}, grad_out.dtype(), grad_out.device());
  if (db.numel() == 0) return db;
  if (grad_out.numel() == 0) return db.zero_();
#if defined(EBM_WITH_CUDA)
  if (grad_out.device().is_cuda()) {
    const int dev = grad_out.device().index;
    cuda::ConvGeom2d g;  // only the output side matters: [n, co, ho, wo]
    g.n = s[0], g.co = s[1], g.ho = s[2], g.wo = s[3];
    g.c = 1, g.kh = 1, g.kw = 1, g.h = s[2], g.w = s[3];  // a 1x1 conv with that output
    cuda::conv2d_backward_bias(grad_out.dtype(), g, grad_out.data_ptr(), db.data_ptr(), dev,
                               cuda::current_stream(dev));
    return db;
  }
#endif
  require_cpu(grad_out, op);
  EBM_DISPATCH_FLOAT(grad_out.dtype(), op, [&] {
    const T* gp = grad_out.data<T>();
    T* d = db.data<T>();
    const int64_t hw = s[2] * s[3];
    cpu::parallel_for(s[1], s[0] * hw, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        T acc = 0;
        for (int64_t n = 0; n < s[0]; ++n) {
          const T* p = gp + (n * s[1] + c) * hw;
          for (int64_t i = 0; i < hw; ++i) acc += p[i];
        }
        d[c] = acc;
      }
    });
  });
  return db;
}

}  // namespace ebm::ops
