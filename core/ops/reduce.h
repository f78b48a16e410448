// Reductions over axes: sum, mean, max, stable logsumexp, and sum_to (the adjoint of
// broadcasting, used by gradients). Raw ops; differentiable versions in autograd/ops.h.
// An empty axis list means all axes. Negative axes count from the end.
//
// Both backends reduce one axis at a time as an (outer, r, inner) problem, highest axis first,
// with the EBM_HD arithmetic below: sums of float32 accumulate in double (then round once), max
// keeps the first of equal values and skips NaN (std::max(m, v) semantics: m < v ? v : m).
#pragma once

#include <cmath>
#include <type_traits>
#include <vector>

#include "core/common.h"
#include "core/tensor.h"

namespace ebm {

enum class ReduceOp : uint8_t { Sum, Max };

// The accumulator of a reduction of T: double for float32 sums, else T (max is exact in T).
template <class T, ReduceOp Op>
using ReduceAcc = std::conditional_t<Op == ReduceOp::Sum && std::is_same_v<T, float>, double, T>;

template <ReduceOp Op, class A>
EBM_HD A reduce_identity() {
  if constexpr (Op == ReduceOp::Sum) return A(0);
  else return -static_cast<A>(INFINITY);
}

// Folds v into the running value m. For Max, a NaN v is skipped (m < NaN is false) and m never
// becomes NaN, so the order of a tree reduction cannot change the result.
template <ReduceOp Op, class A>
EBM_HD A reduce_combine(A m, A v) {
  if constexpr (Op == ReduceOp::Sum) return m + v;
  else return m < v ? v : m;
}

}  // namespace ebm

namespace ebm::ops {

Tensor sum(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor mean(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
Tensor max(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// log(sum(exp(x))) over axes, computed as m + log(sum(exp(x - m))) with m the max.
Tensor logsumexp(const Tensor& x, const std::vector<int>& axes = {}, bool keepdim = false);
// Sums x down to `shape`, which must broadcast to x.shape() (the gradient of a broadcast).
Tensor sum_to(const Tensor& x, const Shape& shape);

// Normalised, sorted, de-duplicated axes (all axes when `axes` is empty); throws naming op.
std::vector<int> resolve_axes(const Shape& s, const std::vector<int>& axes, const char* op);
// Shape after reducing `axes` (sorted), keeping size-1 dims when keepdim.
Shape reduced_shape(const Shape& s, const std::vector<int>& axes, bool keepdim);

}  // namespace ebm::ops
