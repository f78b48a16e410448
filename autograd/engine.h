// Reverse-mode differentiation over the recorded graph.
#pragma once

#include <vector>

#include "core/tensor.h"

namespace ebm {

// Accumulates d(output)/d(leaf) into the .grad of every leaf that requires grad. output must be a
// scalar unless grad_output (same shape) is given. With create_graph the backward is recorded.
void backward(const Tensor& output, const Tensor& grad_output = Tensor(),
              bool create_graph = false);

// Returns d(output)/d(input) for each input (leaf or intermediate) without touching any .grad:
// the sampler's call, x -> grad_x E(x) with the network's parameters left alone. Only the part
// of the graph that leads to the inputs is evaluated. An input the output does not depend on
// gets an undefined tensor when allow_unused, and an error otherwise.
std::vector<Tensor> grad(const Tensor& output, const std::vector<Tensor>& inputs,
                         const Tensor& grad_output = Tensor(), bool create_graph = false,
                         bool allow_unused = false);

}  // namespace ebm
