// Derivatives of the reductions: the output gradient is broadcast back over the reduced axes
// (scaled for mean, masked for max, times softmax for logsumexp).
#include "autograd/ops/reduce.h"

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/shape.h"

namespace ebm {

namespace {

// The output gradient reshaped with the reduced axes kept as size 1, ready to broadcast.
Tensor keepdim_grad(const Tensor& g, const Shape& in, const std::vector<int>& axes) {
  return reshape(g, ops::reduced_shape(in, axes, /*keepdim=*/true));
}

Tensor broadcast_to(const Tensor& g, const Shape& in) {
  return g + Tensor::zeros(in, g.dtype(), g.device());
}

enum class Kind { Sum, Mean, Max, LogSumExp };

class ReduceNode : public Node {
 public:
  // x and y are kept only for max and logsumexp (pass undefined tensors otherwise).
  ReduceNode(Kind kind, const Shape& in, const Tensor& x, const Tensor& y, std::vector<int> axes)
      : kind_(kind), shape_(in), axes_(std::move(axes)), x_(x), y_(y, true) {}
  const char* name() const override {
    static const char* n[] = {"sum", "mean", "max", "logsumexp"};
    return n[static_cast<int>(kind_)];
  }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    Tensor g = keepdim_grad(gout[0], shape_, axes_);
    switch (kind_) {
      case Kind::Sum: return {broadcast_to(g, shape_)};
      case Kind::Mean: {
        int64_t count = shape_.numel() / std::max<int64_t>(g.numel(), 1);
        return {broadcast_to(g * (1.0 / static_cast<double>(count)), shape_)};
      }
      case Kind::Max: {
        Tensor x = x_.get(name());
        Tensor y = reshape(y_.get(name()), g.shape());
        // mask = 1 where x equals the max (x >= y), split evenly among ties.
        Tensor mask = ops::unary(UnaryOp::Affine, ops::binary(BinaryOp::GreaterMask, y, x), -1.0, 1.0);
        Tensor count = ops::sum(mask, axes_, true);
        return {mask * (g / count)};
      }
      case Kind::LogSumExp: {
        Tensor x = x_.get(name());
        Tensor y = reshape(y_.get(name()), g.shape());
        return {g * exp(x - y)};
      }
    }
    return {Tensor()};
  }

 private:
  Kind kind_;
  Shape shape_;
  std::vector<int> axes_;
  SavedTensor x_, y_;
};

Tensor reduce(Kind kind, const Tensor& x, const std::vector<int>& axes, bool keepdim) {
  Tensor y;
  switch (kind) {
    case Kind::Sum: y = ops::sum(x, axes, keepdim); break;
    case Kind::Mean: y = ops::mean(x, axes, keepdim); break;
    case Kind::Max: y = ops::max(x, axes, keepdim); break;
    case Kind::LogSumExp: y = ops::logsumexp(x, axes, keepdim); break;
  }
  if (any_requires_grad({x})) {
    std::vector<int> ax = ops::resolve_axes(x.shape(), axes, "reduce");
    bool needs_values = kind == Kind::Max || kind == Kind::LogSumExp;
    record(std::make_shared<ReduceNode>(kind, x.shape(), needs_values ? x : Tensor(),
                                        needs_values ? y : Tensor(), ax),
           {x}, {&y});
  }
  return y;
}

}  // namespace

Tensor sum(const Tensor& x, const std::vector<int>& axes, bool keepdim) { return reduce(Kind::Sum, x, axes, keepdim); }
Tensor mean(const Tensor& x, const std::vector<int>& axes, bool keepdim) { return reduce(Kind::Mean, x, axes, keepdim); }
Tensor max(const Tensor& x, const std::vector<int>& axes, bool keepdim) { return reduce(Kind::Max, x, axes, keepdim); }
Tensor logsumexp(const Tensor& x, const std::vector<int>& axes, bool keepdim) { return reduce(Kind::LogSumExp, x, axes, keepdim); }

Tensor sum_to(const Tensor& x, const Shape& shape) {
  if (x.shape() == shape) return x;
  if (!any_requires_grad({x})) return ops::sum_to(x, shape);
  int lead = x.dim() - shape.ndim();
  std::vector<int> axes;
  for (int i = 0; i < x.dim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && x.shape()[i] != 1)) axes.push_back(i);
  if (axes.empty()) return reshape(x, shape);
  return reshape(sum(x, axes, true), shape);
}

}  // namespace ebm
