// Conditioning inputs of the papers' networks:
//   TimestepEmbedding  DRL's sinusoidal embedding of the integer noise level t (the
//                      transformer/DDPM form): half = dim/2 frequencies ω_i = exp(-ln(1e4)·i/
//                      (half-1)), e(t) = [sin(t·ω), cos(t·ω)], computed in float32 as the TF
//                      reference does. A table [num_steps, dim] is built once (a non-persistent
//                      buffer) and rows are gathered by t on the device.
//   rows_for_labels    per-class parameters (IGEBM's per-class input biases and gains): rows of
//                      a [K, C] parameter picked by int64 labels, shaped [N, C, 1, 1].
#pragma once

#include "nn/module.h"

namespace ebm::nn {

// The [num_steps, dim] table of sinusoidal embeddings for t = 0 .. num_steps-1 (dim even >= 4).
Tensor sinusoidal_embedding_table(int64_t num_steps, int64_t dim, DType dtype = DType::Float32);

class TimestepEmbedding : public Module {
 public:
  TimestepEmbedding(int64_t num_steps, int64_t dim, DType dtype = DType::Float32);
  // t: int64 [N] with values in [0, num_steps) -> [N, dim] (no gradient: a fixed function).
  Tensor forward(const Tensor& t);
  int64_t dim() const { return dim_; }

 private:
  int64_t num_steps_, dim_;
  Tensor* table_;
};

// rows [K, C] (differentiable), labels int64 [N] -> [N, C, 1, 1].
Tensor rows_for_labels(const Tensor& rows, const Tensor& labels);

}  // namespace ebm::nn
