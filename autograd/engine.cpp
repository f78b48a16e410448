// The backward pass: find the part of the graph that leads to the wanted gradients, then run the
// nodes in reverse creation order (a valid reverse topological order), summing gradients per
// node output in a local map. No state outlives a call.
#include "autograd/engine.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"

namespace ebm {

namespace {

struct Target {  // a non-leaf input of grad(): output `output_nr` of `fn`
  Node* fn;
  int output_nr;
  size_t index;  // position in the inputs list
};

class Run {
 public:
  Run(bool accumulate_leaves, bool create_graph)
      : accumulate_(accumulate_leaves), create_graph_(create_graph) {}

  // grad() mode: the inputs whose gradients are returned.
  void add_leaf_target(const AutogradMeta* m, size_t index) { leaf_targets_[m].push_back(index); }
  void add_node_target(Node* fn, int nr, size_t index) { node_targets_.push_back({fn, nr, index}); }

  std::vector<Tensor> results;

  void execute(const Tensor& output, const Tensor& seed) {
    Edge root = edge_of(output);
    if (root.leaf) {  // the output is itself a leaf
      deliver_leaf(root.leaf, seed);
      return;
    }
    Node* start = root.fn.get();
    collect(start);
    std::vector<Node*> order;
    for (auto& [n, lead] : leads_)
      if (lead || is_node_target(n)) order.push_back(n);
    std::sort(order.begin(), order.end(),
              [](Node* a, Node* b) { return a->sequence_nr() > b->sequence_nr(); });
    buffers_[start].resize(start->num_outputs());
    buffers_[start][root.output_nr] = seed;
    GradModeGuard mode(create_graph_);
    for (Node* n : order) run_node(n);
  }

 private:
  bool is_leaf_target(const AutogradMeta* m) const {
    return accumulate_ ? m->requires_grad : leaf_targets_.count(m) > 0;
  }
  bool is_node_target(Node* n) const {
    for (const Target& t : node_targets_)
      if (t.fn == n) return true;
    return false;
  }
  bool edge_wanted(const Edge& e) const {
    if (e.leaf) return is_leaf_target(e.leaf.get());
    if (!e.fn) return false;
    auto it = leads_.find(e.fn.get());
    return (it != leads_.end() && it->second) || is_node_target(e.fn.get());
  }

  // Marks, for every node reachable from start, whether it leads to a wanted gradient.
  // Iterative post-order, so very deep graphs (long unrolled chains) cannot overflow the stack.
  void collect(Node* start) {
    std::vector<std::pair<Node*, size_t>> stack{{start, 0}};
    leads_[start] = false;
    while (!stack.empty()) {
      auto& [n, i] = stack.back();
      const auto& edges = n->next_edges();
      if (i < edges.size()) {
        const Edge& e = edges[i++];
        if (e.fn && !leads_.count(e.fn.get())) {
          leads_[e.fn.get()] = false;
          stack.push_back({e.fn.get(), 0});
        }
        continue;
      }
      bool lead = false;
      for (const Edge& e : edges) lead = lead || edge_wanted(e);
      leads_[n] = lead;
      stack.pop_back();
    }
  }

  // With create_graph the sum is recorded too, so higher-order gradients flow through it.
  Tensor sum_grads(const Tensor& a, const Tensor& b) const {
    if (!a.defined()) return b;
    return create_graph_ ? add(a, b) : ops::binary(BinaryOp::Add, a, b);
  }

  void deliver_leaf(const std::shared_ptr<AutogradMeta>& leaf, const Tensor& g) {
    if (accumulate_) {
      if (!leaf->requires_grad) return;
      if (!leaf->grad) {
        // Gradients returned by nodes may alias each other (add passes one tensor to both
        // inputs), so a leaf's first gradient is a private copy it can accumulate into.
        leaf->grad = std::make_shared<Tensor>(create_graph_ ? g : g.detach().clone());
      } else if (create_graph_) {
        *leaf->grad = sum_grads(*leaf->grad, g);
      } else {
        ops::axpy_(*leaf->grad, 1.0, g);
      }
      return;
    }
    auto it = leaf_targets_.find(leaf.get());
    if (it == leaf_targets_.end()) return;
    for (size_t idx : it->second) results[idx] = sum_grads(results[idx], g);
  }

  void run_node(Node* n) {
    std::vector<Tensor> gouts = std::move(buffers_[n]);
    buffers_.erase(n);
    gouts.resize(n->num_outputs());
    for (const Target& t : node_targets_)
      if (t.fn == n && gouts[t.output_nr].defined())
        results[t.index] = sum_grads(results[t.index], gouts[t.output_nr]);
    if (!leads_[n]) return;
    bool any = false;
    for (const Tensor& g : gouts) any = any || g.defined();
    if (!any) return;
    const auto& edges = n->next_edges();
    std::vector<bool> needs(edges.size());
    for (size_t i = 0; i < edges.size(); ++i) needs[i] = edge_wanted(edges[i]);
    std::vector<Tensor> gins = n->apply(gouts, needs);
    EBM_CHECK(gins.size() == edges.size(), Error, "autograd: backward of ", n->name(), " returned ",
              gins.size(), " gradients for ", edges.size(), " inputs");
    for (size_t i = 0; i < edges.size(); ++i) {
      if (!needs[i] || !gins[i].defined()) continue;
      const Edge& e = edges[i];
      if (e.leaf) {
        deliver_leaf(e.leaf, gins[i]);
      } else {
        auto& buf = buffers_[e.fn.get()];
        buf.resize(e.fn->num_outputs());
        buf[e.output_nr] = sum_grads(buf[e.output_nr], gins[i]);
      }
    }
  }

  bool accumulate_, create_graph_;
  std::unordered_map<const AutogradMeta*, std::vector<size_t>> leaf_targets_;
  std::vector<Target> node_targets_;
  std::unordered_map<Node*, bool> leads_;
  std::unordered_map<Node*, std::vector<Tensor>> buffers_;
};

Tensor seed_gradient(const Tensor& output, const Tensor& grad_output, const char* op) {
  check_defined(output, op, "output");
  EBM_CHECK(output.requires_grad(), ValueError, op, ": the output ", output.description(),
            " does not require grad (no input of its graph requires grad, or it was computed "
            "under NoGradGuard)");
  if (grad_output.defined()) {
    check_same_shape(output, grad_output, op);
    return grad_output;
  }
  EBM_CHECK(output.numel() == 1, ShapeError, op, ": the output ", output.description(),
            " is not a scalar; pass grad_output of the same shape");
  return Tensor::ones(output.shape(), output.dtype(), output.device());
}

}  // namespace

void backward(const Tensor& output, const Tensor& grad_output, bool create_graph) {
  Tensor seed = seed_gradient(output, grad_output, "backward");
  Run run(/*accumulate_leaves=*/true, create_graph);
  run.execute(output, seed);
}

std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs,
                         const Tensor& grad_output, bool create_graph, bool allow_unused) {
  Tensor seed = seed_gradient(output, grad_output, "grad");
  Run run(/*accumulate_leaves=*/false, create_graph);
  run.results.resize(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& x = inputs[i];
    check_defined(x, "grad", "inputs");
    EBM_CHECK(x.requires_grad(), ValueError, "grad: input ", i, " (", x.description(),
              ") does not require grad; call set_requires_grad() before computing the output");
    Edge e = edge_of(x);
    if (e.leaf)
      run.add_leaf_target(e.leaf.get(), i);
    else
      run.add_node_target(e.fn.get(), e.output_nr, i);
  }
  run.execute(output, seed);
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (run.results[i].defined()) continue;
    EBM_CHECK(allow_unused, ValueError, "grad: the output does not depend on input ", i, " (",
              inputs[i].description(), "); pass allow_unused = true if that is expected");
  }
  return run.results;
}

}  // namespace ebm
