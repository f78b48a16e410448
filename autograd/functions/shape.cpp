// Derivatives of the view ops: reshape's gradient is reshaped back; a slice's gradient is
// written into a zero tensor of the input's shape.
#include "autograd/ops/shape.h"

#include "autograd/node.h"

namespace ebm {

namespace {

class ReshapeNode : public Node {
 public:
  explicit ReshapeNode(const Shape& in) : in_(in) {}
  const char* name() const override { return "reshape"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    return {reshape(g[0], in_)};
  }

 private:
  Shape in_;
};

class SliceNode : public Node {
 public:
  SliceNode(const Shape& in, int64_t begin) : in_(in), begin_(begin) {}
  const char* name() const override { return "slice"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& g, const std::vector<bool>&) override {
    EBM_CHECK(!GradMode::enabled(), Error,
              "autograd: second-order gradients through slice are not implemented yet");
    Tensor out = Tensor::zeros(in_, g[0].dtype(), g[0].device());
    out.slice(begin_, begin_ + g[0].shape()[0]).copy_(g[0]);
    return {out};
  }

 private:
  Shape in_;
  int64_t begin_;
};

}  // namespace

Tensor reshape(const Tensor& x, const Shape& shape) {
  check_defined(x, "reshape", "x");
  Tensor y = x.view(shape);
  if (any_requires_grad({x})) record(std::make_shared<ReshapeNode>(x.shape()), {x}, {&y});
  return y;
}

Tensor slice(const Tensor& x, int64_t begin, int64_t end) {
  check_defined(x, "slice", "x");
  Tensor y = x.slice(begin, end);
  if (any_requires_grad({x})) record(std::make_shared<SliceNode>(x.shape(), begin), {x}, {&y});
  return y;
}

Tensor flatten(const Tensor& x, int start, int end) {
  check_defined(x, "flatten", "x");
  int s = x.shape().axis(start, "flatten"), e = x.shape().axis(end, "flatten");
  EBM_CHECK(s <= e, ShapeError, "flatten: start axis ", start, " is after end axis ", end, " for ",
            x.description());
  std::vector<int64_t> dims;
  for (int i = 0; i < s; ++i) dims.push_back(x.shape()[i]);
  int64_t merged = 1;
  for (int i = s; i <= e; ++i) merged *= x.shape()[i];
  dims.push_back(merged);
  for (int i = e + 1; i < x.dim(); ++i) dims.push_back(x.shape()[i]);
  return reshape(x, Shape(dims));
}

}  // namespace ebm
