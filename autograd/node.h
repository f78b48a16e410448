// Nodes of the autograd graph. Every recorded op creates one Node holding what its backward
// needs; outputs point to the node, the node points to its inputs' producers (Edges). Nodes
// carry a creation sequence number, so reverse creation order is a valid reverse topological
// order: the engine walks them like a tape without rebuilding any global state.
//
// A node's apply() computes input gradients with ordinary ops. The engine runs it with grad
// mode off, or on when create_graph is requested, so the backward can itself be recorded
// (second-order gradients) without changing the engine.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "autograd/grad_mode.h"
#include "core/tensor.h"

namespace ebm {

// Where the gradient of one input goes: to output `output_nr` of a producer node, or into a leaf.
struct Edge {
  std::shared_ptr<Node> fn;
  int output_nr = 0;
  std::shared_ptr<AutogradMeta> leaf;
  bool valid() const { return fn || leaf; }
};

// A tensor kept for backward, with the storage version at save time so that an in-place write
// in between is detected instead of silently giving wrong gradients.
class SavedTensor {
 public:
  SavedTensor() = default;
  // Outputs of the node itself must be saved with is_output = true (kept without their graph,
  // which would otherwise form a reference cycle).
  SavedTensor(const Tensor& t, bool is_output = false);
  Tensor get(const char* op) const;
  bool defined() const { return tensor_.defined(); }

 private:
  Tensor tensor_;
  uint64_t version_ = 0;
};

class Node {
 public:
  Node();
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual const char* name() const = 0;
  // grads_out[k]: gradient w.r.t. output k (undefined when no gradient reached it: treat as 0).
  // needs[i]: whether input i's gradient is wanted. Returns one entry per input; entries not
  // needed may be left undefined.
  virtual std::vector<Tensor> apply(const std::vector<Tensor>& grads_out,
                                    const std::vector<bool>& needs) = 0;

  uint64_t sequence_nr() const { return seq_; }
  const std::vector<Edge>& next_edges() const { return next_; }
  int num_outputs() const { return static_cast<int>(output_shapes_.size()); }
  const Shape& output_shape(int k) const { return output_shapes_[k]; }
  DType output_dtype() const { return output_dtype_; }
  Device output_device() const { return output_device_; }

 private:
  friend void record(const std::shared_ptr<Node>&, std::initializer_list<Tensor>,
                     std::initializer_list<Tensor*>);
  friend void record(const std::shared_ptr<Node>&, const std::vector<Tensor>&,
                     const std::vector<Tensor*>&);
  uint64_t seq_;
  std::vector<Edge> next_;
  std::vector<Shape> output_shapes_;
  DType output_dtype_ = DType::Float32;
  Device output_device_;
};

// True when grad mode is on and any of the tensors takes part in autograd.
bool any_requires_grad(std::initializer_list<Tensor> inputs);
bool any_requires_grad(const std::vector<Tensor>& inputs);

// Connects node to its inputs and makes it the producer of the outputs (in order).
void record(const std::shared_ptr<Node>& node, std::initializer_list<Tensor> inputs,
            std::initializer_list<Tensor*> outputs);
void record(const std::shared_ptr<Node>& node, const std::vector<Tensor>& inputs,
            const std::vector<Tensor*>& outputs);

// Edge for an input tensor (invalid when the tensor does not require grad).
Edge edge_of(const Tensor& t);

}  // namespace ebm
