// Counting the forward FLOPs of a network by running it: while a FlopCounter is alive on this
// thread, every Conv2d and Linear forward adds its multiply-adds × 2 (2·N·C_out·H_out·W_out·
// C_in·k² for a conv, 2·N·in·out for a linear; biases, activations, pooling and norms are not
// counted, the usual convention of the papers' "GFLOP per forward" figures).
#pragma once

#include <cstdint>

namespace ebm::nn {

class FlopCounter {
 public:
  FlopCounter();
  ~FlopCounter();
  FlopCounter(const FlopCounter&) = delete;
  FlopCounter& operator=(const FlopCounter&) = delete;
  int64_t flops() const { return flops_; }

  // Called by the layers: adds to the innermost live counter of this thread, if any.
  static void add(int64_t flops);

 private:
  int64_t flops_ = 0;
  FlopCounter* outer_;
};

}  // namespace ebm::nn
