#include "autograd/node.h"

#include <atomic>

namespace ebm {

namespace {
std::atomic<uint64_t> next_sequence_nr{0};
thread_local bool grad_mode_enabled = true;
}  // namespace

bool GradMode::enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool on) { grad_mode_enabled = on; }

Node::Node() : seq_(next_sequence_nr.fetch_add(1, std::memory_order_relaxed)) {}

SavedTensor::SavedTensor(const Tensor& t, bool is_output)
    : tensor_(is_output && t.defined() ? t.detach() : t),
      version_(t.defined() ? t.storage().version() : 0) {}

Tensor SavedTensor::get(const char* op) const {
  EBM_CHECK(!tensor_.defined() || tensor_.storage().version() == version_, Error, op,
            ": a tensor saved for the backward pass (", tensor_.description(),
            ") was modified in place after it was used; clone it before the in-place write");
  return tensor_;
}

Edge edge_of(const Tensor& t) {
  if (!t.defined() || !t.requires_grad()) return {};
  const auto& meta = t.autograd_meta_ptr();
  if (meta->grad_fn) return Edge{meta->grad_fn, meta->output_nr, nullptr};
  return Edge{nullptr, 0, meta};
}

bool any_requires_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool any_requires_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
            const std::vector<Tensor*>& outputs) {
  node->next_.clear();
  for (const Tensor& t : inputs) node->next_.push_back(edge_of(t));
  node->output_shapes_.clear();
  for (int k = 0; k < static_cast<int>(outputs.size()); ++k) {
    Tensor& out = *outputs[k];
    node->output_shapes_.push_back(out.shape());
    node->output_dtype_ = out.dtype();
    node->output_device_ = out.device();
    AutogradMeta& m = out.autograd_meta();
    m.requires_grad = true;
    m.grad_fn = node;
    m.output_nr = k;
  }
}

void record(const std::shared_ptr<Node>& node, std::initializer_list<Tensor> inputs,
            std::initializer_list<Tensor*> outputs) {
  record(node, std::vector<Tensor>(inputs), std::vector<Tensor*>(outputs));
}

}  // namespace ebm
