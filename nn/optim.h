// Optimizers over a list of named parameters: Adam (torch.optim.Adam / AdamW semantics, or the
// TF ApplyAdam order with IGEBM's per-element clip of specs/igebm-drl.md §1.7 and Keras' ε-hat
// of §2.7) and SGD with momentum, dampening, Nesterov and weight decay (torch.optim.SGD). Each
// parameter tensor is updated by one fused kernel (core/ops/optim.h); parameters whose gradient
// is undefined are skipped, as in PyTorch. State lives on the parameter's device, is created on
// a parameter's first update and goes into a checkpoint as named tensors:
//   optimizer.<slot>.<param>   slot tensors (adam: exp_avg, exp_avg_sq; sgd: momentum_buffer)
//   optimizer.step.<param>     int64 0-d: updates this parameter has had (Adam's bias correction)
//   optimizer.steps            int64 0-d: step() calls;   optimizer.lr  float64 0-d
// One learning rate per optimizer (no parameter groups); schedules set it with set_lr.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/ops/optim.h"
#include "core/tensor.h"

namespace ebm::nn {

// The same alias as nn/module.h's (a repeated identical alias declaration is legal C++).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Names "0", "1", ... for a plain list (PyTorch's optimizer state_dict numbers parameters so).
NamedTensors number_tensors(const std::vector<Tensor>& tensors);

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // One update of every parameter whose gradient is defined. Every gradient is checked against
  // its parameter (shape, dtype, device: ShapeError / DTypeError / DeviceError naming the
  // parameter) before any parameter changes.
  virtual void step() = 0;
  // Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)).
  void zero_grad();

  double lr() const { return lr_; }
  void set_lr(double lr);
  int64_t steps() const { return steps_; }  // step() calls so far
  const std::string& kind() const { return kind_; }  // "adam", "sgd"
  const NamedTensors& params() const { return params_; }
  // Updates parameter i has had (0 before its first).
  int64_t param_steps(size_t i) const { return state_.at(i).step; }

  // The state as named tensors (names in the header); slot tensors share storage with the
  // optimizer's (detached), scalars are fresh CPU tensors. Parameters never updated have none.
  NamedTensors state_dict() const;
  // Restores a state_dict of an optimizer of the same kind over parameters of the same names,
  // shapes and dtypes: slot values are copied onto each parameter's device; parameters without
  // entries get fresh state. Unknown names, or a parameter with only part of its slots, throw
  // ValueError listing them; shape / dtype mismatches throw ShapeError / DTypeError naming the
  // tensor. Nothing changes when it throws.
  void load_state_dict(const NamedTensors& state);

 protected:
  Optimizer(std::string kind, NamedTensors params, double lr, std::vector<std::string> slot_names);

  struct ParamState {
    int64_t step = 0;
    std::vector<Tensor> slots;  // empty until the first update
  };
  // The checked gradients of all parameters (undefined where there is none), before updating.
  std::vector<Tensor> checked_grads() const;
  // Parameter i's state with its slots allocated (Tensor::zeros on its device) if it had none;
  // `fresh` tells whether they were just created.
  ParamState& state_for_update(size_t i, bool* fresh = nullptr);
  Tensor& param(size_t i) { return params_[i].second; }

  int64_t steps_ = 0;

 private:
  std::string kind_;
  NamedTensors params_;
  double lr_;
  std::vector<std::string> slot_names_;
  std::vector<ParamState> state_;
};

struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled_weight_decay = false;         // AdamW
  AdamEpsilon epsilon = AdamEpsilon::Torch;    // Tf: TF/Keras ApplyAdam (ε-hat)
  AdamClip clip = AdamClip::None;              // IGEBM's 3σ + 0.1 per-element clip

  // IGEBM official (spec §1.7): custom TF Adam, lr 3e-4, β = (0, 0.999), ε 1e-8, clip from step 1.
  static AdamOptions igebm();
  // rosinality/igebm-pytorch: torch Adam, lr 1e-4, β = (0, 0.999), clip from step 2 (§1.7, §1.12).
  static AdamOptions igebm_port();
  // DRL (spec §2.7): Keras Adam, lr 1e-4, β₁ 0.9 (0.5 for CelebA / LSUN-128), β₂ 0.999, ε 1e-7.
  static AdamOptions drl(double beta1 = 0.9);
  // JEM (gebm-jem-mebm.md §2.6): torch Adam, lr 1e-4, β = (0.9, 0.999), no weight decay.
  static AdamOptions jem();
  // torch.optim.AdamW with its defaults (lr 1e-3, weight decay 1e-2).
  static AdamOptions adamw(double lr = 1e-3, double weight_decay = 1e-2);
};

class Adam : public Optimizer {
 public:
  Adam(NamedTensors params, const AdamOptions& options = {});
  Adam(const std::vector<Tensor>& params, const AdamOptions& options = {});
  void step() override;
  const AdamOptions& options() const { return options_; }

 private:
  AdamOptions options_;
};

struct SgdOptions {
  double lr = 1e-3, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;

  // M-EBM / M-JEM (gebm-jem-mebm.md §3.6): lr 0.1, momentum 0.9, weight decay 5e-4.
  static SgdOptions mebm();
};

class Sgd : public Optimizer {
 public:
  Sgd(NamedTensors params, const SgdOptions& options = {});
  Sgd(const std::vector<Tensor>& params, const SgdOptions& options = {});
  void step() override;
  const SgdOptions& options() const { return options_; }

 private:
  SgdOptions options_;
};

}  // namespace ebm::nn
