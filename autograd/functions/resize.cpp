// Derivatives of bilinear resizing. The resize R is linear, so its backward is Rᵀ
// (ops::resize_bilinear2d_backward), and the derivative of Rᵀ is R again: both are recorded, so
// second-order gradients flow through.
#include "autograd/node.h"
#include "autograd/ops/conv.h"

namespace ebm {

namespace {

Tensor resize_grad(const Tensor& g, const Shape& x_shape);

class ResizeBilinear2dNode : public Node {
 public:
  explicit ResizeBilinear2dNode(const Shape& x_shape) : x_shape_(x_shape) {}
  const char* name() const override { return "resize_bilinear2d"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {resize_grad(gout[0], x_shape_)};
  }

 private:
  Shape x_shape_;
};

class ResizeBilinear2dBackwardNode : public Node {
 public:
  ResizeBilinear2dBackwardNode(int64_t out_h, int64_t out_w) : out_h_(out_h), out_w_(out_w) {}
  const char* name() const override { return "resize_bilinear2d_backward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {resize_bilinear2d(gout[0], out_h_, out_w_)};
  }

 private:
  int64_t out_h_, out_w_;
};

Tensor resize_grad(const Tensor& g, const Shape& x_shape) {
  Tensor dx = ops::resize_bilinear2d_backward(g, x_shape);
  if (any_requires_grad({g}))
    record(std::make_shared<ResizeBilinear2dBackwardNode>(g.size(2), g.size(3)), {g}, {&dx});
  return dx;
}

}  // namespace

Tensor resize_bilinear2d(const Tensor& x, int64_t out_h, int64_t out_w) {
  Tensor y = ops::resize_bilinear2d(x, out_h, out_w);
  if (any_requires_grad({x}))
    record(std::make_shared<ResizeBilinear2dNode>(x.shape()), {x}, {&y});
  return y;
}

}  // namespace ebm
