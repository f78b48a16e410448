// CPU backend of the elementwise ops: loops over the shared EBM_HD functors, with the op bound
// at compile time (one instantiation per op) so the inner loops vectorise. In a CUDA build the
// entry points hand cuda tensors, after the same checks, to the launchers of cuda/elementwise.h
// (kernels over the same functors) on the tensor's device and current stream.
#include "core/ops/elementwise.h"

#include "core/cpu/parallel.h"
#include "core/ops/broadcast.h"
#include "core/ops/dispatch.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/elementwise.h"
#include "cuda/stream.h"
#endif

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

template <class T>
const T* cptr(const Tensor& t) { return static_cast<const T*>(t.data_ptr()); }
template <class T>
T* mptr(const Tensor& t) { return static_cast<T*>(t.data_ptr()); }

}  // namespace

namespace ops {

Tensor unary(UnaryOp op, const Tensor& x, double a, double b) {
  const char* name = unary_op_name(op);
  check_defined(x, name, "x");
  check_float(x, name, "x");
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
    cuda::DeviceGuard guard(x.device().index);
    EBM_DISPATCH_FLOAT(x.dtype(), name, [&] {
      cuda::unary(op, cptr<T>(x), mptr<T>(y), x.numel(), T(a), T(b),
                  cuda::current_stream(x.device().index));
    });
    return y;
  }
#endif
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
  Shape out = broadcast_shapes(x.shape(), y.shape(), name);
  Tensor z = Tensor::empty(out, x.dtype(), x.device());
  if (out.numel() == 0) return z;
  BroadcastPlan p = plan_broadcast(out, x.shape(), y.shape());
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    cuda::DeviceGuard guard(x.device().index);
    EBM_DISPATCH_FLOAT(x.dtype(), name, [&] {
      cuda::binary(op, p, cptr<T>(x), cptr<T>(y), mptr<T>(z), cuda::current_stream(x.device().index));
    });
    return z;
  }
#endif
  require_cpu(x, name);
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
  Shape out = broadcast_shapes(x.shape(), y.shape(), name);
  EBM_CHECK(out == x.shape(), ShapeError, name, "_: in-place result would have shape ", out,
            " but the destination is ", x.description());
  x.bump_version();
  if (out.numel() == 0) return;
  BroadcastPlan p = plan_broadcast(out, x.shape(), y.shape());
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    cuda::DeviceGuard guard(x.device().index);
    EBM_DISPATCH_FLOAT(x.dtype(), name, [&] {
      cuda::binary(op, p, cptr<T>(x), cptr<T>(y), mptr<T>(x), cuda::current_stream(x.device().index));
    });
    return;
  }
#endif
  require_cpu(x, name);
  // Elementwise in place is safe: each output element reads only its own x element.
  EBM_DISPATCH_FLOAT(x.dtype(), name, [&] { binary_cpu<T>(op, p, x.data<T>(), y.data<T>(), x.data<T>()); });
}

void axpy_(Tensor& x, double alpha, const Tensor& y) {
  check_same_shape(x, y, "axpy_");
  check_same_dtype(x, y, "axpy_");
  check_same_device(x, y, "axpy_");
  check_float(x, "axpy_", "x");
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    x.bump_version();
    cuda::DeviceGuard guard(x.device().index);
    EBM_DISPATCH_FLOAT(x.dtype(), "axpy_", [&] {
      cuda::axpy(mptr<T>(x), T(alpha), cptr<T>(y), x.numel(), cuda::current_stream(x.device().index));
    });
    return;
  }
#endif
  require_cpu(x, "axpy_");
  x.bump_version();
  EBM_DISPATCH_FLOAT(x.dtype(), "axpy_", [&] { axpy_cpu<T>(x.data<T>(), T(alpha), y.data<T>(), x.numel()); });
}

}  // namespace ops
}  // namespace ebm
