// Derivative of dropout: the output gradient times the saved mask (the mask holds 0 or
// 1/(1-p), so the kept elements' gradients are scaled like their values). Runs on either device:
// the mask is ops::dropout_mask on x's device, the same bits on the CPU and the GPU for the same
// generator state, and the forward and backward are elementwise multiplies.
#include "autograd/ops/random.h"

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"

namespace ebm {

namespace {

class DropoutNode : public Node {
 public:
  explicit DropoutNode(const Tensor& mask) : mask_(mask) {}
  const char* name() const override { return "dropout"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    // A differentiable multiply, so a create_graph backward records it (the mask is constant).
    return {gout[0] * mask_.get(name())};
  }

 private:
  SavedTensor mask_;
};

}  // namespace

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen) {
  check_defined(x, "dropout", "x");
  check_float(x, "dropout", "x");
  EBM_CHECK(p >= 0.0 && p <= 1.0, ValueError,
            "dropout: the drop probability p must lie in [0, 1], got p = ", p, " for x ",
            x.description());
  if (!training || p == 0.0) return x;
  uint64_t offset = gen.reserve(ops::uniform_words(x.numel()));
  Tensor mask = ops::dropout_mask(x.shape(), p, gen.seed(), offset, x.dtype(), x.device());
  Tensor y = ops::binary(BinaryOp::Mul, x, mask);
  if (any_requires_grad({x})) record(std::make_shared<DropoutNode>(mask), {x}, {&y});
  return y;
}

}  // namespace ebm
