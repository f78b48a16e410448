// Derivative of max pooling: each output's gradient goes to its window's argmax in x (recomputed
// by ops::max_pool2d_backward, no index tensor saved). The backward is recorded as a node too,
// so that asking for a second-order gradient through it (create_graph) is a clear error rather
// than a silently missing term.
#include "autograd/node.h"
#include "autograd/ops/conv.h"

namespace ebm {

namespace {

struct MaxPoolArgs {
  int k, s, p;
};

class MaxPool2dBackwardNode : public Node {
 public:
  const char* name() const override { return "max_pool2d_backward"; }
  std::vector<Tensor> apply(const std::vector<Tensor>&, const std::vector<bool>&) override {
    EBM_THROW(ValueError,
              "max_pool2d: second-order gradients through max pooling are not supported");
  }
};

class MaxPool2dNode : public Node {
 public:
  MaxPool2dNode(const Tensor& x, const MaxPoolArgs& a) : x_(x), a_(a) {}
  const char* name() const override { return "max_pool2d"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    const Tensor& g = gout[0];
    Tensor x = x_.get(name());
    Tensor dx = ops::max_pool2d_backward(g, x, a_.k, a_.s, a_.p);
    if (any_requires_grad({g, x}))
      record(std::make_shared<MaxPool2dBackwardNode>(), {g, x}, {&dx});
    return {dx};
  }

 private:
  SavedTensor x_;
  MaxPoolArgs a_;
};

}  // namespace

Tensor max_pool2d(const Tensor& x, int kernel, int stride, int padding) {
  const MaxPoolArgs a{kernel, stride < 0 ? kernel : stride, padding};
  Tensor y = ops::max_pool2d(x, a.k, a.s, a.p);
  if (any_requires_grad({x})) record(std::make_shared<MaxPool2dNode>(x, a), {x}, {&y});
  return y;
}

}  // namespace ebm
