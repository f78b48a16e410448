// Derivatives of the matrix product and the linear layer. For C = op(A) op(B) with output
// gradient G: dA = G op(B)ᵀ (or op(B) Gᵀ when A was transposed), dB = op(A)ᵀ G (or Gᵀ op(A)).
// Only the gradients whose needs[] flag is set are computed.
#include "autograd/ops/linalg.h"

#include "autograd/node.h"
#include "autograd/ops/reduce.h"

namespace ebm {

namespace {

class MatmulNode : public Node {
 public:
  MatmulNode(const Tensor& a, const Tensor& b, bool ta, bool tb) : a_(a), b_(b), ta_(ta), tb_(tb) {}
  const char* name() const override { return "matmul"; }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& g = gout[0];
    Tensor ga, gb;
    if (needs[0]) {
      Tensor b = b_.get(name());
      ga = ta_ ? matmul(b, g, tb_, true) : matmul(g, b, false, !tb_);
    }
    if (needs[1]) {
      Tensor a = a_.get(name());
      gb = tb_ ? matmul(g, a, true, ta_) : matmul(a, g, !ta_, false);
    }
    return {ga, gb};
  }

 private:
  SavedTensor a_, b_;
  bool ta_, tb_;
};

// y = x wᵀ + b: dx = g w, dw = gᵀ x, db = sum over rows of g.
class LinearNode : public Node {
 public:
  LinearNode(const Tensor& x, const Tensor& w, bool has_bias) : x_(x), w_(w), has_bias_(has_bias) {}
  const char* name() const override { return "linear"; }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& g = gout[0];
    std::vector<Tensor> grads(has_bias_ ? 3 : 2);
    if (needs[0]) grads[0] = matmul(g, w_.get(name()));
    if (needs[1]) grads[1] = matmul(g, x_.get(name()), /*trans_a=*/true, false);
    if (has_bias_ && needs[2]) grads[2] = sum(g, {0});
    return grads;
  }

 private:
  SavedTensor x_, w_;
  bool has_bias_;
};

}  // namespace

Tensor matmul(const Tensor& a, const Tensor& b, bool trans_a, bool trans_b) {
  Tensor c = ops::matmul(a, b, trans_a, trans_b);
  if (any_requires_grad({a, b}))
    record(std::make_shared<MatmulNode>(a, b, trans_a, trans_b), {a, b}, {&c});
  return c;
}

Tensor linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  Tensor y = ops::linear(x, w, b);
  if (b.defined()) {
    if (any_requires_grad({x, w, b})) record(std::make_shared<LinearNode>(x, w, true), {x, w, b}, {&y});
  } else if (any_requires_grad({x, w})) {
    record(std::make_shared<LinearNode>(x, w, false), {x, w}, {&y});
  }
  return y;
}

}  // namespace ebm
