// Derivatives of the elementwise ops, written with differentiable ops so a backward can itself
// be recorded (create_graph) where the derivative op has a derivative of its own.
#include "autograd/ops/elementwise.h"

#include "autograd/node.h"
#include "autograd/ops/reduce.h"

namespace ebm {

namespace {

Tensor zeros_like(const Tensor& t) { return Tensor::zeros(t.shape(), t.dtype(), t.device()); }

class UnaryNode : public Node {
 public:
  UnaryNode(UnaryOp op, double a, double b, const Tensor& x, const Tensor& y)
      : op_(op), a_(a), b_(b), x_(x), y_(y, /*is_output=*/true) {}
  const char* name() const override { return unary_op_name(op_); }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    const Tensor& g = gout[0];
    Tensor x = x_.get(name());
    auto y = [&] { return y_.get(name()); };
    switch (op_) {
      case UnaryOp::Neg: return {neg(g)};
      case UnaryOp::Exp: return {g * y()};
      case UnaryOp::Log: return {g / x};
      case UnaryOp::Sqrt: return {g / (2.0 * y())};
      case UnaryOp::Abs: return {g * unary(UnaryOp::Sign, x)};
      case UnaryOp::Square: return {g * (2.0 * x)};
      case UnaryOp::Reciprocal: return {-(g * square(y()))};
      case UnaryOp::Relu: return {g * unary(UnaryOp::Step, x)};
      case UnaryOp::LeakyRelu: return {g * unary(UnaryOp::LeakyReluGrad, x, a_)};
      case UnaryOp::Silu: return {g * unary(UnaryOp::SiluGrad, x)};
      case UnaryOp::Softplus: return {g * sigmoid(x)};
      case UnaryOp::Tanh: return {g * (1.0 - square(y()))};
      case UnaryOp::Sigmoid: {
        Tensor s = y();
        return {g * (s * (1.0 - s))};
      }
      case UnaryOp::Pow: return {g * (a_ * unary(UnaryOp::Pow, x, a_ - 1.0))};
      case UnaryOp::Clamp: return {g * unary(UnaryOp::ClampMask, x, a_, b_)};
      case UnaryOp::Affine: return {g * a_};
      // Piecewise-constant maps: zero derivative almost everywhere.
      case UnaryOp::Sign:
      case UnaryOp::Step:
      case UnaryOp::LeakyReluGrad:
      case UnaryOp::ClampMask: return {zeros_like(x)};
      case UnaryOp::SiluGrad: {
        // d/dx [s (1 + x (1 - s))] = s (1 - s) (2 + x (1 - 2 s)), s = sigmoid(x): the second
        // derivative of silu, built from differentiable ops so higher orders work too.
        Tensor s = sigmoid(x);
        return {g * (s * (1.0 - s) * (2.0 + x * (1.0 - 2.0 * s)))};
      }
    }
    EBM_THROW(Error, "autograd: unknown unary op in backward");
  }

 private:
  UnaryOp op_;
  double a_, b_;
  SavedTensor x_, y_;
};

class BinaryNode : public Node {
 public:
  BinaryNode(BinaryOp op, const Tensor& x, const Tensor& y) : op_(op), x_(x), y_(y) {}
  const char* name() const override { return binary_op_name(op_); }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& g = gout[0];
    Tensor x = x_.get(name()), y = y_.get(name());
    Tensor gx, gy;
    switch (op_) {
      case BinaryOp::Add: gx = g; gy = g; break;
      case BinaryOp::Sub: gx = g; if (needs[1]) gy = neg(g); break;
      case BinaryOp::Mul:
        if (needs[0]) gx = g * y;
        if (needs[1]) gy = g * x;
        break;
      case BinaryOp::Div:
        if (needs[0]) gx = g / y;
        if (needs[1]) gy = -(g * x / square(y));
        break;
      case BinaryOp::Maximum:
      case BinaryOp::Minimum: {
        // The gradient goes to the selected operand; ties split it evenly (as PyTorch does).
        Tensor x_wins = op_ == BinaryOp::Maximum ? ops::binary(BinaryOp::GreaterMask, x, y)
                                                 : ops::binary(BinaryOp::GreaterMask, y, x);
        Tensor y_wins = op_ == BinaryOp::Maximum ? ops::binary(BinaryOp::GreaterMask, y, x)
                                                 : ops::binary(BinaryOp::GreaterMask, x, y);
        Tensor tie = ops::unary(UnaryOp::Affine,
                                ops::binary(BinaryOp::Add, x_wins, y_wins), -1.0, 1.0);
        Tensor half_tie = ops::unary(UnaryOp::Affine, tie, 0.5, 0.0);
        if (needs[0]) gx = g * ops::binary(BinaryOp::Add, x_wins, half_tie);
        if (needs[1]) gy = g * ops::binary(BinaryOp::Add, y_wins, half_tie);
        break;
      }
      case BinaryOp::GreaterMask:
        if (needs[0]) gx = zeros_like(x);
        if (needs[1]) gy = zeros_like(y);
        break;
    }
    // Undo broadcasting: each operand receives the sum over the dims it was broadcast along.
    if (gx.defined()) gx = sum_to(gx, x.shape());
    if (gy.defined()) gy = sum_to(gy, y.shape());
    return {gx, gy};
  }

 private:
  BinaryOp op_;
  SavedTensor x_, y_;
};

}  // namespace

Tensor unary(UnaryOp op, const Tensor& x, double a, double b) {
  Tensor y = ops::unary(op, x, a, b);
  if (any_requires_grad({x})) record(std::make_shared<UnaryNode>(op, a, b, x, y), {x}, {&y});
  return y;
}

Tensor binary(BinaryOp op, const Tensor& x, const Tensor& y) {
  Tensor z = ops::binary(op, x, y);
  if (any_requires_grad({x, y})) record(std::make_shared<BinaryNode>(op, x, y), {x, y}, {&z});
  return z;
}

}  // namespace ebm
