// BatchNorm2d (Ioffe & Szegedy 2015) with torch.nn.BatchNorm2d's semantics and names: weight
// (γ, init 1), bias (β, init 0), buffers running_mean (0), running_var (1), num_batches_tracked.
// Training: normalise with the batch's mean and biased variance over (N, H, W), and update
//   running = (1 - momentum)·running + momentum·batch_stat, with the unbiased variance.
// Eval: normalise with the running statistics.
#pragma once

#include "nn/module.h"

namespace ebm::nn {

struct BatchNorm2dOptions {
  int64_t num_features = 0;
  double eps = 1e-5;
  double momentum = 0.1;
  bool affine = true;
  DType dtype = DType::Float32;
};

class BatchNorm2d : public Module {
 public:
  explicit BatchNorm2d(const BatchNorm2dOptions& o);
  Tensor forward(const Tensor& x);  // x [N, C, H, W]
  const Tensor& running_mean() const { return *running_mean_; }
  const Tensor& running_var() const { return *running_var_; }

 protected:
  void on_mode_changed() override;

 private:
  BatchNorm2dOptions o_;
  Tensor* weight_ = nullptr;
  Tensor* bias_ = nullptr;
  Tensor* running_mean_ = nullptr;
  Tensor* running_var_ = nullptr;
  Tensor* num_batches_tracked_ = nullptr;
};

}  // namespace ebm::nn
