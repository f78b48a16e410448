// CPU backend of the elementwise ops: loops over the shared EBM_HD functors, with the op bound
// at compile time (one instantiation per op) so the inner loops vectorise.
#include "core/ops/elementwise.h"

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"

namespace ebm {

const char* unary_op_name(UnaryOp op) {
  static const char* names[] = {"neg", "exp", "log", "sqrt", "abs", "sign", "square", "reciprocal",
                                "relu", "step", "leaky_relu", "leaky_relu_grad", "silu",
                                "silu_grad", "softplus", "tanh", "sigmoid", "pow", "clamp",
                                "clamp_mask", "affine"};
  return names[static_cast<int>(op)];
}

const char* binary_op_name(BinaryOp op) {
  static const char* names[] = {"add", "sub", "mul", "div", "maximum", "minimum", "greater_mask"};
  return names[static_cast<int>(op)];
}

namespace {

template <class T, UnaryOp Op>
void unary_loop(const T* x, T* y, int64_t n, T a, T b) {
  cpu::parallel_for(n, 4, [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) y[i] = apply_unary<T>(Op, x[i], a, b);
  });
}

template <class T>
void unary_cpu(UnaryOp op, const T* x, T* y, int64_t n, T a, T b) {
  switch (op) {
#define EBM_CASE(O) case UnaryOp::O: return unary_loop<T, UnaryOp::O>(x, y, n, a, b);
    EBM_CASE(Neg) EBM_CASE(Exp) EBM_CASE(Log) EBM_CASE(Sqrt) EBM_CASE(Abs) EBM_CASE(Sign)
    EBM_CASE(Square) EBM_CASE(Reciprocal) EBM_CASE(Relu) EBM_CASE(Step) EBM_CASE(LeakyRelu)
    EBM_CASE(LeakyReluGrad) EBM_CASE(Silu) EBM_CASE(SiluGrad) EBM_CASE(Softplus) EBM_CASE(Tanh)
    EBM_CASE(Sigmoid) EBM_CASE(Pow) EBM_CASE(Clamp) EBM_CASE(ClampMask) EBM_CASE(Affine)
#undef EBM_CASE
  }
}

// Broadcast geometry after padding both operands to the output's rank and merging adjacent
// dimensions that are contiguous for all three tensors (so per-channel [1,C,1,1] against
// [N,C,H,W] becomes three dims with an inner run of H*W).
struct BroadcastPlan {
  int ndim = 0;
  int64_t shape[kMaxDims];
  int64_t sx[kMaxDims], sy[kMaxDims];  // element strides, 0 where broadcast
};

BroadcastPlan plan_broadcast(const Shape& out, const Shape& xs, const Shape& ys) {
  int n = out.ndim();
  int64_t shp[kMaxDims], sx[kMaxDims], sy[kMaxDims];
  auto strides_for = [&](const Shape& s, int64_t* st) {
    int64_t acc = 1;
    for (int i = n - 1; i >= 0; --i) {
      int j = s.ndim() - n + i;
      int64_t d = j >= 0 ? s[j] : 1;
      st[i] = d == 1 ? 0 : acc;
      acc *= d;
    }
  };
  for (int i = 0; i < n; ++i) shp[i] = out[i];
  strides_for(xs, sx);
  strides_for(ys, sy);
  BroadcastPlan p;
  for (int i = 0; i < n; ++i) {
    if (shp[i] == 1) continue;  // size-1 dims carry no work
    if (p.ndim > 0) {
      int k = p.ndim - 1;
      bool mx = p.sx[k] == sx[i] * shp[i], my = p.sy[k] == sy[i] * shp[i];
      if (mx && my) {  // merge dim i into the previous one
        p.shape[k] *= shp[i];
        p.sx[k] = sx[i];
        p.sy[k] = sy[i];
        continue;
      }
    }
    p.shape[p.ndim] = shp[i];
    p.sx[p.ndim] = sx[i];
    p.sy[p.ndim] = sy[i];
    ++p.ndim;
  }
  if (p.ndim == 0) {  // all-ones shape: one element
    p.ndim = 1;
    p.shape[0] = 1;
    p.sx[0] = p.sy[0] = 0;
  }
  return p;
}

template <class T, BinaryOp Op>
void binary_loop(const BroadcastPlan& p, const T* x, const T* y, T* z) {
  int last = p.ndim - 1;
  int64_t inner = p.shape[last], isx = p.sx[last], isy = p.sy[last];
  int64_t outer = 1;
  for (int i = 0; i < last; ++i) outer *= p.shape[i];
  cpu::parallel_for(outer, inner, [&](int64_t lo, int64_t hi) {
    for (int64_t o = lo; o < hi; ++o) {
      int64_t ox = 0, oy = 0, rem = o;
      for (int i = last - 1; i >= 0; --i) {
        int64_t idx = rem % p.shape[i];
        rem /= p.shape[i];
        ox += idx * p.sx[i];
        oy += idx * p.sy[i];
      }
      const T* xr = x + ox;
      const T* yr = y + oy;
      T* zr = z + o * inner;
      if (isx == 1 && isy == 1) {
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) zr[i] = apply_binary<T>(Op, xr[i], yr[i]);
      } else if (isx == 1 && isy == 0) {
        T yv = *yr;
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) zr[i] = apply_binary<T>(Op, xr[i], yv);
      } else if (isx == 0 && isy == 1) {
        T xv = *xr;
#pragma omp simd
        for (int64_t i = 0; i < inner; ++i) zr[i] = apply_binary<T>(Op, xv, yr[i]);
      } else {
        for (int64_t i = 0; i < inner; ++i) zr[i] = apply_binary<T>(Op, xr[i * isx], yr[i * isy]);
      }
    }
  });
}

template <class T>
void binary_cpu(BinaryOp op, const BroadcastPlan& p, const T* x, const T* y, T* z) {
  switch (op) {
#define EBM_CASE(O) case BinaryOp::O: return binary_loop<T, BinaryOp::O>(p, x, y, z);
    EBM_CASE(Add) EBM_CASE(Sub) EBM_CASE(Mul) EBM_CASE(Div) EBM_CASE(Maximum) EBM_CASE(Minimum)
    EBM_CASE(GreaterMask)
#undef EBM_CASE
  }
}

template <class T>
void axpy_cpu(T* x, T alpha, const T* y, int64_t n) {
  cpu::parallel_for(n, 2, [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) x[i] += alpha * y[i];
  });
}

}  // namespace

namespace ops {

Tensor unary(UnaryOp op, const Tensor& x, double a, double b) {
  const char* name = unary_op_name(op);
  check_defined(x, name, "x");
  check_float(x, name, "x");
  require_cpu(x, name);
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  EBM_DISPATCH_FLOAT(x.dtype(), name, [&] {
    unary_cpu<T>(op, x.data<T>(), y.data<T>(), x.numel(), T(a), T(b));
  });
  return y;
}

Tensor binary(BinaryOp op, const Tensor& x, const Tensor& y) {
  const char* name = binary_op_name(op);
  check_defined(x, name, "x");
  check_defined(y, name, "y");
  check_same_device(x, y, name);
  check_same_dtype(x, y, name);
  check_float(x, name, "x");
  require_cpu(x, name);
  Shape out = broadcast_shapes(x.shape(), y.shape(), name);
  Tensor z = Tensor::empty(out, x.dtype(), x.device());
  if (out.numel() == 0) return z;
  BroadcastPlan p = plan_broadcast(out, x.shape(), y.shape());
  EBM_DISPATCH_FLOAT(x.dtype(), name, [&] { binary_cpu<T>(op, p, x.data<T>(), y.data<T>(), z.data<T>()); });
  return z;
}

void binary_(BinaryOp op, Tensor& x, const Tensor& y) {
  const char* name = binary_op_name(op);
  check_defined(x, name, "x");
  check_defined(y, name, "y");
  check_same_device(x, y, name);
  check_same_dtype(x, y, name);
  check_float(x, name, "x");
  require_cpu(x, name);
  Shape out = broadcast_shapes(x.shape(), y.shape(), name);
  EBM_CHECK(out == x.shape(), ShapeError, name, "_: in-place result would have shape ", out,
            " but the destination is ", x.description());
  x.bump_version();
  if (out.numel() == 0) return;
  BroadcastPlan p = plan_broadcast(out, x.shape(), y.shape());
  // Elementwise in place is safe: each output element reads only its own x element.
  EBM_DISPATCH_FLOAT(x.dtype(), name, [&] { binary_cpu<T>(op, p, x.data<T>(), y.data<T>(), x.data<T>()); });
}

void axpy_(Tensor& x, double alpha, const Tensor& y) {
  check_same_shape(x, y, "axpy_");
  check_same_dtype(x, y, "axpy_");
  check_same_device(x, y, "axpy_");
  check_float(x, "axpy_", "x");
  require_cpu(x, "axpy_");
  x.bump_version();
  EBM_DISPATCH_FLOAT(x.dtype(), "axpy_", [&] { axpy_cpu<T>(x.data<T>(), T(alpha), y.data<T>(), x.numel()); });
}

}  // namespace ops
}  // namespace ebm
