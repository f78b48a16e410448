// Derivatives of the spatial ops. conv2d y = C(x, w) is bilinear; its adjoints B_x(g, w) and
// B_w(g, x) are recorded as ops of their own whose derivatives are again conv2d, B_x or B_w, so
// the backward can be recorded for second-order gradients. Pooling and upsampling are linear:
// the derivative of each backward is the forward op.
#include "autograd/ops/conv.h"

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/reduce.h"
#include "autograd/ops/shape.h"

namespace ebm {

namespace {

Tensor conv2d_input_grad(const Tensor& g, const Tensor& w, const Shape& x_shape, int s, int p);
Tensor conv2d_weight_grad(const Tensor& g, const Tensor& x, const Shape& w_shape, int s, int p);

class Conv2dNode : public Node {
 public:
  Conv2dNode(const Tensor& x, const Tensor& w, bool has_bias, int s, int p)
      : x_(x), w_(w), x_shape_(x.shape()), w_shape_(w.shape()), has_bias_(has_bias), s_(s), p_(p) {}
  const char* name() const override { return "conv2d"; }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& g = gout[0];
    std::vector<Tensor> grads(has_bias_ ? 3 : 2);
    // Each gradient reads only what it needs: dx only w, dw only x.
    if (needs[0]) grads[0] = conv2d_input_grad(g, w_.get(name()), x_shape_, s_, p_);
    if (needs[1]) grads[1] = conv2d_weight_grad(g, x_.get(name()), w_shape_, s_, p_);
    if (has_bias_ && needs[2]) grads[2] = sum(g, {0, 2, 3});
    return grads;
  }

 private:
  SavedTensor x_, w_;
  Shape x_shape_, w_shape_;
  bool has_bias_;
  int s_, p_;
};

// dx = B_x(g, w). <gd, B_x(g, w)> = <C(gd, w), g>, so d/dg = C(gd, w) and d/dw = B_w(g, gd).
class Conv2dInputGradNode : public Node {
 public:
  Conv2dInputGradNode(const Tensor& g, const Tensor& w, int s, int p)
      : g_(g), w_(w), w_shape_(w.shape()), s_(s), p_(p) {}
  const char* name() const override { return "conv2d_backward_input"; }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& gd = gout[0];
    Tensor dg, dw;
    if (needs[0]) dg = conv2d(gd, w_.get(name()), Tensor(), s_, p_);
    if (needs[1]) dw = conv2d_weight_grad(g_.get(name()), gd, w_shape_, s_, p_);
    return {dg, dw};
  }

 private:
  SavedTensor g_, w_;
  Shape w_shape_;
  int s_, p_;
};

// dw = B_w(g, x). <gd, B_w(g, x)> = <g, C(x, gd)>, so d/dg = C(x, gd) and d/dx = B_x(g, gd).
class Conv2dWeightGradNode : public Node {
 public:
  Conv2dWeightGradNode(const Tensor& g, const Tensor& x, int s, int p)
      : g_(g), x_(x), x_shape_(x.shape()), s_(s), p_(p) {}
  const char* name() const override { return "conv2d_backward_weight"; }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& gd = gout[0];
    Tensor dg, dx;
    if (needs[0]) dg = conv2d(x_.get(name()), gd, Tensor(), s_, p_);
    if (needs[1]) dx = conv2d_input_grad(g_.get(name()), gd, x_shape_, s_, p_);
    return {dg, dx};
  }

 private:
  SavedTensor g_, x_;
  Shape x_shape_;
  int s_, p_;
};

Tensor conv2d_input_grad(const Tensor& g, const Tensor& w, const Shape& x_shape, int s, int p) {
  Tensor dx = ops::conv2d_backward_input(g, w, x_shape, s, p);
  if (any_requires_grad({g, w}))
    record(std::make_shared<Conv2dInputGradNode>(g, w, s, p), {g, w}, {&dx});
  return dx;
}

Tensor conv2d_weight_grad(const Tensor& g, const Tensor& x, const Shape& w_shape, int s, int p) {
  Tensor dw = ops::conv2d_backward_weight(g, x, w_shape, s, p);
  if (any_requires_grad({g, x}))
    record(std::make_shared<Conv2dWeightGradNode>(g, x, s, p), {g, x}, {&dw});
  return dw;
}

// ---- pooling and upsampling: linear maps P with backward Pᵀ; the derivative of Pᵀ is P.

struct PoolArgs {
  int k, s, p;
  bool include_pad;
};

Tensor avg_pool2d_grad(const Tensor& g, const Shape& x_shape, const PoolArgs& a);

class AvgPool2dNode : public Node {
 public:
  AvgPool2dNode(const Shape& x_shape, const PoolArgs& a) : x_shape_(x_shape), a_(a) {}
  const char* name() const override { return "avg_pool2d"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {avg_pool2d_grad(gout[0], x_shape_, a_)};
  }

 private:
  Shape x_shape_;
  PoolArgs a_;
};

class AvgPool2dBackwardNode : public Node {
 public:
  explicit AvgPool2dBackwardNode(const PoolArgs& a) : a_(a) {}
  const char* name() const override { return "avg_pool2d_backward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {avg_pool2d(gout[0], a_.k, a_.s, a_.p, a_.include_pad)};
  }

 private:
  PoolArgs a_;
};

Tensor avg_pool2d_grad(const Tensor& g, const Shape& x_shape, const PoolArgs& a) {
  Tensor dx = ops::avg_pool2d_backward(g, x_shape, a.k, a.s, a.p, a.include_pad);
  if (any_requires_grad({g})) record(std::make_shared<AvgPool2dBackwardNode>(a), {g}, {&dx});
  return dx;
}

Tensor upsample_nearest2d_grad(const Tensor& g, int scale);

class UpsampleNearest2dNode : public Node {
 public:
  explicit UpsampleNearest2dNode(int scale) : scale_(scale) {}
  const char* name() const override { return "upsample_nearest2d"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {upsample_nearest2d_grad(gout[0], scale_)};
  }

 private:
  int scale_;
};

class UpsampleNearest2dBackwardNode : public Node {
 public:
  explicit UpsampleNearest2dBackwardNode(int scale) : scale_(scale) {}
  const char* name() const override { return "upsample_nearest2d_backward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {upsample_nearest2d(gout[0], scale_)};
  }

 private:
  int scale_;
};

Tensor upsample_nearest2d_grad(const Tensor& g, int scale) {
  Tensor dx = ops::upsample_nearest2d_backward(g, scale);
  if (any_requires_grad({g}))
    record(std::make_shared<UpsampleNearest2dBackwardNode>(scale), {g}, {&dx});
  return dx;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride, int padding) {
  Tensor y = ops::conv2d(x, w, b, stride, padding);
  if (b.defined()) {
    if (any_requires_grad({x, w, b}))
      record(std::make_shared<Conv2dNode>(x, w, true, stride, padding), {x, w, b}, {&y});
  } else if (any_requires_grad({x, w})) {
    record(std::make_shared<Conv2dNode>(x, w, false, stride, padding), {x, w}, {&y});
  }
  return y;
}

Tensor conv_transpose2d(const Tensor& x, const Tensor& w, const Tensor& b, int stride,
                        int padding, int output_padding) {
  const char* op = "conv_transpose2d";
  check_defined(x, op, "x");
  check_defined(w, op, "w");
  EBM_CHECK(x.dim() == 4 && w.dim() == 4, ShapeError, op,
            ": x must be [N, C_in, H, W] and w [C_in, C_out, kH, kW], got x ", x.shape(), " and w ",
            w.shape());
  EBM_CHECK(x.size(1) == w.size(0), ShapeError, op, ": x ", x.shape(), " has ", x.size(1),
            " channels but w ", w.shape(), " expects C_in = ", w.size(0),
            " (w is [C_in, C_out, kH, kW])");
  EBM_CHECK(stride >= 1 && padding >= 0 && output_padding >= 0 && output_padding < stride,
            ValueError, op, ": need stride >= 1, padding >= 0 and 0 <= output_padding < stride, got ",
            stride, ", ", padding, ", ", output_padding);
  Shape out{x.size(0), w.size(1), (x.size(2) - 1) * stride - 2 * padding + w.size(2) + output_padding,
            (x.size(3) - 1) * stride - 2 * padding + w.size(3) + output_padding};
  EBM_CHECK(out[2] >= 1 && out[3] >= 1, ShapeError, op, ": output ", out, " of x ", x.shape(),
            " and w ", w.shape(), " is empty (padding ", padding, " too large)");
  Tensor y = conv2d_input_grad(x, w, out, stride, padding);
  if (!b.defined()) return y;
  EBM_CHECK(b.dim() == 1 && b.size(0) == w.size(1), ShapeError, op, ": bias b ", b.shape(),
            " must have shape [", w.size(1), "] for w ", w.shape());
  return y + reshape(b, {1, w.size(1), 1, 1});
}

Tensor avg_pool2d(const Tensor& x, int kernel, int stride, int padding, bool count_include_pad) {
  PoolArgs a{kernel, stride < 0 ? kernel : stride, padding, count_include_pad};
  Tensor y = ops::avg_pool2d(x, a.k, a.s, a.p, a.include_pad);
  if (any_requires_grad({x})) record(std::make_shared<AvgPool2dNode>(x.shape(), a), {x}, {&y});
  return y;
}

Tensor upsample_nearest2d(const Tensor& x, int scale) {
  Tensor y = ops::upsample_nearest2d(x, scale);
  if (any_requires_grad({x})) record(std::make_shared<UpsampleNearest2dNode>(scale), {x}, {&y});
  return y;
}

}  // namespace ebm
