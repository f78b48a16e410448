// Derivatives of the indexing ops. Each backward calls the differentiable adjoint op (concat <->
// split, index_select <-> index_add, gather <-> scatter), so a create_graph backward is
// recorded too. Cross-entropy's backward is the fused (softmax - onehot) * g / N kernel, or the
// same expression in differentiable ops when the backward itself is being recorded.
#include "autograd/ops/index.h"

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/reduce.h"

namespace ebm {

namespace {

class ConcatNode : public Node {
 public:
  ConcatNode(std::vector<int64_t> sizes, int dim) : sizes_(std::move(sizes)), dim_(dim) {}
  const char* name() const override { return "concat"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return split(gout[0], sizes_, dim_);
  }

 private:
  std::vector<int64_t> sizes_;
  int dim_;
};

class SplitNode : public Node {
 public:
  explicit SplitNode(int dim) : dim_(dim) {}
  const char* name() const override { return "split"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    std::vector<Tensor> pieces(gout.size());
    for (size_t k = 0; k < gout.size(); ++k)
      pieces[k] = gout[k].defined() ? gout[k]
                                    : Tensor::zeros(output_shape(static_cast<int>(k)),
                                                    output_dtype(), output_device());
    return {concat(pieces, dim_)};
  }

 private:
  int dim_;
};

class IndexSelectNode : public Node {
 public:
  IndexSelectNode(const Tensor& index, int64_t rows) : index_(index), rows_(rows) {}
  const char* name() const override { return "index_select"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {index_add(gout[0], index_.get(name()), rows_)};
  }

 private:
  SavedTensor index_;
  int64_t rows_;
};

class IndexAddNode : public Node {
 public:
  explicit IndexAddNode(const Tensor& index) : index_(index) {}
  const char* name() const override { return "index_add"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {index_select(gout[0], index_.get(name()))};
  }

 private:
  SavedTensor index_;
};

class GatherNode : public Node {
 public:
  GatherNode(const Tensor& labels, int64_t num_classes) : labels_(labels), classes_(num_classes) {}
  const char* name() const override { return "gather"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {scatter(gout[0], labels_.get(name()), classes_)};
  }

 private:
  SavedTensor labels_;
  int64_t classes_;
};

class ScatterNode : public Node {
 public:
  explicit ScatterNode(const Tensor& labels) : labels_(labels) {}
  const char* name() const override { return "scatter"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    return {gather(gout[0], labels_.get(name()))};
  }

 private:
  SavedTensor labels_;
};

class CrossEntropyNode : public Node {
 public:
  CrossEntropyNode(const Tensor& logits, const Tensor& labels) : logits_(logits), labels_(labels) {}
  const char* name() const override { return "cross_entropy"; }
  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>&) override {
    Tensor logits = logits_.get(name()), labels = labels_.get(name());
    const Tensor& g = gout[0];
    if (!GradMode::enabled()) return {ops::cross_entropy_backward(logits, labels, g)};
    // Recorded backward (create_graph): softmax - onehot, from differentiable ops.
    const int64_t n = logits.size(0), c = logits.size(1);
    Tensor softmax = exp(logits - logsumexp(logits, {1}, /*keepdim=*/true));
    Tensor onehot = ops::one_hot(labels, c, logits.dtype());
    return {(softmax - onehot) * (g * (1.0 / static_cast<double>(n)))};
  }

 private:
  SavedTensor logits_, labels_;
};

}  // namespace

Tensor concat(const std::vector<Tensor>& xs, int dim) {
  Tensor y = ops::concat(xs, dim);
  if (any_requires_grad(xs)) {
    int d = y.shape().axis(dim, "concat");
    std::vector<int64_t> sizes;
    for (const Tensor& x : xs) sizes.push_back(x.size(d));
    record(std::make_shared<ConcatNode>(std::move(sizes), d), xs, std::vector<Tensor*>{&y});
  }
  return y;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int dim) {
  std::vector<Tensor> ys = ops::split(x, sizes, dim);
  if (any_requires_grad({x})) {
    std::vector<Tensor*> outs;
    for (Tensor& y : ys) outs.push_back(&y);
    record(std::make_shared<SplitNode>(x.shape().axis(dim, "split")), std::vector<Tensor>{x}, outs);
  }
  return ys;
}

Tensor index_select(const Tensor& x, const Tensor& index) {
  Tensor y = ops::index_select(x, index);
  if (any_requires_grad({x}))
    record(std::make_shared<IndexSelectNode>(index, x.size(0)), {x}, {&y});
  return y;
}

Tensor index_add(const Tensor& src, const Tensor& index, int64_t rows) {
  Tensor y = ops::index_add(src, index, rows);
  if (any_requires_grad({src})) record(std::make_shared<IndexAddNode>(index), {src}, {&y});
  return y;
}

Tensor gather(const Tensor& x, const Tensor& labels) {
  Tensor y = ops::gather(x, labels);
  if (any_requires_grad({x})) record(std::make_shared<GatherNode>(labels, x.size(1)), {x}, {&y});
  return y;
}

Tensor scatter(const Tensor& src, const Tensor& labels, int64_t num_classes) {
  Tensor y = ops::scatter(src, labels, num_classes);
  if (any_requires_grad({src})) record(std::make_shared<ScatterNode>(labels), {src}, {&y});
  return y;
}

Tensor cross_entropy(const Tensor& logits, const Tensor& labels) {
  Tensor y = ops::cross_entropy(logits, labels);
  if (any_requires_grad({logits}))
    record(std::make_shared<CrossEntropyNode>(logits, labels), {logits}, {&y});
  return y;
}

}  // namespace ebm
