// CPU backend of the reductions. Each axis is reduced as an (outer, r, inner) problem; several
// axes are reduced one after another, highest first. Float sums accumulate in double (the shared
// reduce_combine / ReduceAcc of core/ops/reduce.h). In a CUDA build a cuda tensor's axis goes to
// cuda/reduce.h instead, on its device's current stream; mean, logsumexp and sum_to are composed
// of sum, max and elementwise ops, so they run on either device unchanged.
#include "core/ops/reduce.h"

#include <algorithm>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/reduce.h"
#include "cuda/stream.h"
#endif

namespace ebm::ops {

std::vector<int> resolve_axes(const Shape& s, const std::vector<int>& axes, const char* op) {
  std::vector<int> out;
  if (axes.empty()) {
    for (int i = 0; i < s.ndim(); ++i) out.push_back(i);
    return out;
  }
  for (int a : axes) out.push_back(s.axis(a, op));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim) {
  std::vector<int64_t> dims;
  for (int i = 0; i < s.ndim(); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      dims.push_back(s[i]);
    else if (keepdim)
      dims.push_back(1);
  }
  return Shape(dims);
}

namespace {

// Every output j = (o, i) folds its r inputs in order k = 0, 1, ..., r-1 (the same values and
// order however the work is split). Outputs are computed kBlock at a time with independent
// accumulators: consecutive i's (inner > 1) read consecutive addresses, so the block loop
// vectorises; with inner == 1 the block's chains interleave instead of one serial chain of
// dependent adds per output.
template <class T, ReduceOp Op>
void reduce_axis_cpu(const T* xp, T* yp, int64_t outer, int64_t r, int64_t inner) {
  using A = ReduceAcc<T, Op>;
  constexpr int64_t kBlock = 64;
  cpu::parallel_for(outer * inner, r, [&](int64_t lo, int64_t hi) {
    A acc[kBlock];
    for (int64_t j0 = lo; j0 < hi;) {
      const int64_t o = j0 / inner, i0 = j0 % inner;
      if (inner > 1) {  // a run of i's within one o
        const int64_t n = std::min({kBlock, hi - j0, inner - i0});
        const T* base = xp + o * r * inner + i0;
        for (int64_t b = 0; b < n; ++b) acc[b] = reduce_identity<Op, A>();
        for (int64_t k = 0; k < r; ++k) {
          const T* row = base + k * inner;
#pragma omp simd
          for (int64_t b = 0; b < n; ++b) acc[b] = reduce_combine<Op>(acc[b], static_cast<A>(row[b]));
        }
        for (int64_t b = 0; b < n; ++b) yp[j0 + b] = static_cast<T>(acc[b]);
        j0 += n;
      } else {  // consecutive o's, each a contiguous row of r
        const int64_t n = std::min(kBlock, hi - j0);
        const T* base = xp + o * r;
        for (int64_t b = 0; b < n; ++b) acc[b] = reduce_identity<Op, A>();
        for (int64_t k = 0; k < r; ++k)
          for (int64_t b = 0; b < n; ++b)
            acc[b] = reduce_combine<Op>(acc[b], static_cast<A>(base[b * r + k]));
        for (int64_t b = 0; b < n; ++b) yp[j0 + b] = static_cast<T>(acc[b]);
        j0 += n;
      }
    }
  });
}

#if defined(EBM_WITH_CUDA)
// The same on the GPU; the workspace of a two-pass reduction is a cuda tensor, so it comes from
// (and is counted by) the device allocator like every other buffer.
template <class T>
void reduce_axis_cuda(const Tensor& x, Tensor& y, int64_t outer, int64_t r, int64_t inner,
                      ReduceOp kind) {
  const int dev = x.device().index;
  cuda::DeviceGuard guard(dev);
  size_t ws_bytes = cuda::reduce_workspace_bytes(kind, x.dtype(), outer, r, inner);
  Tensor ws;
  if (ws_bytes > 0)
    ws = Tensor::empty(Shape{static_cast<int64_t>((ws_bytes + 7) / 8)}, DType::Float64, x.device());
  cuda::reduce_axis(kind, static_cast<const T*>(x.data_ptr()), static_cast<T*>(y.data_ptr()), outer,
                    r, inner, ws_bytes ? ws.data_ptr() : nullptr, ws_bytes,
                    cuda::current_stream(dev));
}
#endif

// Reduces axis `axis` of x (contiguous, shape s) with keepdim semantics.
template <class T>
Tensor reduce_axis(const Tensor& x, int axis, ReduceOp kind) {
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1, r = s[axis];
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.ndim(); ++i) inner *= s[i];
  std::vector<int64_t> dims = s.vec();
  dims[axis] = 1;
  Tensor y = Tensor::empty(Shape(dims), x.dtype(), x.device());
#if defined(EBM_WITH_CUDA)
  if (x.device().is_cuda()) {
    reduce_axis_cuda<T>(x, y, outer, r, inner, kind);
    return y;
  }
#endif
  if (kind == ReduceOp::Sum)
    reduce_axis_cpu<T, ReduceOp::Sum>(x.data<T>(), y.data<T>(), outer, r, inner);
  else
    reduce_axis_cpu<T, ReduceOp::Max>(x.data<T>(), y.data<T>(), outer, r, inner);
  return y;
}

Tensor reduce(const Tensor& x, const std::vector<int>& axes_in, bool keepdim, ReduceOp kind,
              const char* op) {
  check_defined(x, op, "x");
  check_float(x, op, "x");
#if !defined(EBM_WITH_CUDA)
  require_cpu(x, op);
#endif
  std::vector<int> axes = resolve_axes(x.shape(), axes_in, op);
  if (kind == ReduceOp::Max)
    for (int a : axes)
      EBM_CHECK(x.shape()[a] > 0, ShapeError, op, ": cannot take the max over empty axis ", a,
                " of ", x.description());
  Tensor cur = x;
  for (auto it = axes.rbegin(); it != axes.rend(); ++it)
    cur = EBM_DISPATCH_FLOAT(x.dtype(), op, [&] { return reduce_axis<T>(cur, *it, kind); });
  if (axes.empty()) cur = cur.clone();  // a reduction never aliases its input
  return cur.view(reduced_shape(x.shape(), axes, keepdim));
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  return reduce(x, axes, keepdim, ReduceOp::Sum, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  Tensor s = reduce(x, axes, keepdim, ReduceOp::Sum, "mean");
  int64_t count = x.numel() / std::max<int64_t>(s.numel(), 1);
  return unary(UnaryOp::Affine, s, 1.0 / static_cast<double>(count), 0.0);
}

Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  return reduce(x, axes, keepdim, ReduceOp::Max, "max");
}

Tensor logsumexp(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  Tensor m = reduce(x, axes, true, ReduceOp::Max, "logsumexp");
  // A row of -inf has max -inf; shift by 0 there so the result is -inf, not NaN.
  Tensor finite_m = binary(BinaryOp::Maximum, m, Tensor::full(Shape{}, -3.0e38, x.dtype(), x.device()));
  Tensor shifted = binary(BinaryOp::Sub, x, finite_m);
  Tensor s = reduce(unary(UnaryOp::Exp, shifted), axes, true, ReduceOp::Sum, "logsumexp");
  Tensor out = binary(BinaryOp::Add, unary(UnaryOp::Log, s), finite_m);
  std::vector<int> ax = resolve_axes(x.shape(), axes, "logsumexp");
  return out.view(reduced_shape(x.shape(), ax, keepdim));
}

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  EBM_CHECK(shape.numel() == x.numel() || broadcast_shapes(shape, x.shape(), "sum_to") == x.shape(),
            ShapeError, "sum_to: shape ", shape, " does not broadcast to ", x.description());
  int lead = x.dim() - shape.ndim();
  std::vector<int> axes;
  for (int i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) axes.push_back(i);
  if (axes.empty()) return x.view(shape);  // only size-1 dims differ
  return sum(x, axes, true).view(shape);
}

}  // namespace ebm::ops
