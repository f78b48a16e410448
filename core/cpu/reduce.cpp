// CPU backend of the reductions. Each axis is reduced as an (outer, r, inner) problem; several
// axes are reduced one after another, highest first. Float sums accumulate in double.
#include "core/ops/reduce.h"

#include <algorithm>
#include <limits>

#include "core/cpu/parallel.h"
#include "core/ops/dispatch.h"
#include "core/ops/elementwise.h"

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

enum class Reduce { Sum, Max };

template <class T>
using Acc = std::conditional_t<std::is_same_v<T, float>, double, T>;

// Reduces axis `axis` of x (contiguous, shape s) with keepdim semantics.
template <class T>
Tensor reduce_axis(const Tensor& x, int axis, Reduce kind) {
  const Shape& s = x.shape();
  int64_t outer = 1, inner = 1, r = s[axis];
  for (int i = 0; i < axis; ++i) outer *= s[i];
  for (int i = axis + 1; i < s.ndim(); ++i) inner *= s[i];
  std::vector<int64_t> dims = s.vec();
  dims[axis] = 1;
  Tensor y = Tensor::empty(Shape(dims), x.dtype(), x.device());
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  cpu::parallel_for(outer * inner, r, [&](int64_t lo, int64_t hi) {
    for (int64_t j = lo; j < hi; ++j) {
      int64_t o = j / inner, i = j % inner;
      const T* base = xp + o * r * inner + i;
      if (kind == Reduce::Sum) {
        Acc<T> acc = 0;
        for (int64_t k = 0; k < r; ++k) acc += base[k * inner];
        yp[j] = static_cast<T>(acc);
      } else {
        T m = -std::numeric_limits<T>::infinity();
        for (int64_t k = 0; k < r; ++k) m = std::max(m, base[k * inner]);
        if (r == 0) m = -std::numeric_limits<T>::infinity();
        yp[j] = m;
      }
    }
  });
  return y;
}

Tensor reduce(const Tensor& x, const std::vector<int>& axes_in, bool keepdim, Reduce kind,
              const char* op) {
  check_defined(x, op, "x");
  check_float(x, op, "x");
  require_cpu(x, op);
  std::vector<int> axes = resolve_axes(x.shape(), axes_in, op);
  if (kind == Reduce::Max)
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
  return reduce(x, axes, keepdim, Reduce::Sum, "sum");
}

Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  Tensor s = reduce(x, axes, keepdim, Reduce::Sum, "mean");
  int64_t count = x.numel() / std::max<int64_t>(s.numel(), 1);
  return unary(UnaryOp::Affine, s, 1.0 / static_cast<double>(count), 0.0);
}

Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  return reduce(x, axes, keepdim, Reduce::Max, "max");
}

Tensor logsumexp(const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  Tensor m = reduce(x, axes, true, Reduce::Max, "logsumexp");
  // A row of -inf has max -inf; shift by 0 there so the result is -inf, not NaN.
  Tensor finite_m = binary(BinaryOp::Maximum, m, Tensor::full(Shape{}, -3.0e38, x.dtype()));
  Tensor shifted = binary(BinaryOp::Sub, x, finite_m);
  Tensor s = reduce(unary(UnaryOp::Exp, shifted), axes, true, Reduce::Sum, "logsumexp");
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
