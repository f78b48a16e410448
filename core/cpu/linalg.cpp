// The dense linear algebra ops: argument checks, then the backend. CPU: Eigen GEMM over
// row-major Maps of the tensors' memory (no copies; transposes are folded into the product).
// Eigen splits a large product over the OpenMP threads by itself, and runs single-threaded when
// called inside a parallel region. CUDA (cuda tensors in a CUDA build): cuBLAS through
// cuda/blas.h, in TF32 when ebm::allow_tf32() (core/settings.h).
#include "core/ops/linalg.h"

#include "core/cpu/eigen_maps.h"

#include "core/ops/dispatch.h"
#include "core/settings.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/blas.h"
#endif

namespace ebm::ops {

namespace {

using cpu::RowMat;
using cpu::CMap;
using cpu::MMap;

// c [M, N] = op(a) · op(b), with a stored [ar, ac] and b stored [br, bc] (row-major).
template <class T>
void gemm_cpu(const T* a, int64_t ar, int64_t ac, bool ta, const T* b, int64_t br, int64_t bc,
              bool tb, T* c, int64_t m, int64_t n) {
  MMap<T> C(c, m, n);
  CMap<T> A(a, ar, ac), B(b, br, bc);
  if (!ta && !tb) C.noalias() = A * B;
  else if (ta && !tb) C.noalias() = A.transpose() * B;
  else if (!ta && tb) C.noalias() = A * B.transpose();
  else C.noalias() = A.transpose() * B.transpose();
}

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  const char* op = "matmul";
  check_defined(a, op, "a");
  check_defined(b, op, "b");
  check_dim(a, 2, op, "a");
  check_dim(b, 2, op, "b");
  check_float(a, op, "a");
  check_same_dtype(a, b, op);
  check_same_device(a, b, op);
  int64_t m = trans_a ? a.size(1) : a.size(0), ka = trans_a ? a.size(0) : a.size(1);
  int64_t kb = trans_b ? b.size(1) : b.size(0), n = trans_b ? b.size(0) : b.size(1);
  EBM_CHECK(ka == kb, ShapeError, op, ": inner dimensions differ: a ", a.shape(),
            trans_a ? " (transposed)" : "", " and b ", b.shape(), trans_b ? " (transposed)" : "",
            " give ", ka, " vs ", kb);
  Tensor c = Tensor::empty({m, n}, a.dtype(), a.device());
  if (c.numel() == 0) return c;
  if (ka == 0) return c.zero_();
#if defined(EBM_WITH_CUDA)
  if (a.device().is_cuda()) {
    const int dev = a.device().index;
    EBM_DISPATCH_FLOAT(a.dtype(), op, [&] {
      cuda::gemm(static_cast<const T*>(a.data_ptr()), a.size(0), a.size(1), trans_a,
                 static_cast<const T*>(b.data_ptr()), b.size(0), b.size(1), trans_b,
                 static_cast<T*>(c.data_ptr()), m, n, allow_tf32(), dev, cuda::current_stream(dev));
    });
    return c;
  }
#endif
  require_cpu(a, op);
  EBM_DISPATCH_FLOAT(a.dtype(), op, [&] {
    gemm_cpu<T>(a.data<T>(), a.size(0), a.size(1), trans_a, b.data<T>(), b.size(0), b.size(1),
                trans_b, c.data<T>(), m, n);
  });
  return c;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  const char* op = "linear";
  check_defined(x, op, "x");
  check_defined(w, op, "w");
  check_dim(x, 2, op, "x");
  check_dim(w, 2, op, "w");
  check_float(x, op, "x");
  check_same_dtype(x, w, op);
  check_same_device(x, w, op);
  EBM_CHECK(x.size(1) == w.size(1), ShapeError, op, ": x ", x.shape(), " has ", x.size(1),
            " input features but w ", w.shape(), " expects ", w.size(1), " (w is [out, in])");
  int64_t n = x.size(0), in = x.size(1), out = w.size(0);
  if (b.defined()) {
    check_same_dtype(x, b, op);
    check_same_device(x, b, op);
    EBM_CHECK(b.dim() == 1 && b.size(0) == out, ShapeError, op, ": bias b ", b.shape(),
              " must have shape [", out, "] for w ", w.shape());
  }
  Tensor y = Tensor::empty({n, out}, x.dtype(), x.device());
  if (y.numel() == 0) return y;
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    const int dev = x.device().index;
    EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
      cuda::linear(static_cast<const T*>(x.data_ptr()), static_cast<const T*>(w.data_ptr()),
                   b.defined() ? static_cast<const T*>(b.data_ptr()) : nullptr,
                   static_cast<T*>(y.data_ptr()), n, in, out, allow_tf32(), dev,
                   cuda::current_stream(dev));
    });
    return y;
  }
#endif
  require_cpu(x, op);
  EBM_DISPATCH_FLOAT(x.dtype(), op, [&] {
    MMap<T> Y(y.data<T>(), n, out);
    if (in == 0) Y.setZero();
    else Y.noalias() = CMap<T>(x.data<T>(), n, in) * CMap<T>(w.data<T>(), out, in).transpose();
    if (b.defined()) Y.rowwise() += Eigen::Map<const Eigen::Matrix<T, 1, Eigen::Dynamic>>(b.data<T>(), out);
  });
  return y;
}

}  // namespace ebm::ops
