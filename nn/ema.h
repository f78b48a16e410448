// Exponential moving average of parameters (and buffers: DRL averages the spectral-norm u vectors
// too), specs/igebm-drl.md §2.7: after every optimizer step, s ← s − (s − p)·(1 − decay), the
// update of tf.train.ExponentialMovingAverage (decay 0.999, no num_updates warm-up), or the
// lerp form decay·s + (1 − decay)·p; one fused in-place kernel per tensor (core/ops/optim.h).
// Optional warm-up (TF's num_updates argument): update n (0-based) uses min(decay, (1+n)/(10+n)),
// so the averages of a short run are not dominated by the initial weights.
// DRL copies the averages into a second, sampling network only every 5 000 iterations
// (EmaSyncPolicy); samples in between come from a stale copy, as in the reference.
//
// Shadows start as copies of the tensors given to the constructor (TF initialises them from the
// variables when the average is first applied). Checkpoint names: "ema.<name>" for the shadows
// and "ema.updates" (int64 0-d) for the number of updates.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/ops/optim.h"
#include "core/tensor.h"

namespace ebm::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;  // as nn/module.h

class Ema {
 public:
  Ema(const NamedTensors& tensors, double decay = 0.999, EmaForm form = EmaForm::Tf, bool warmup = false);

  // One EMA step with the current values, which must have the constructor's names, in its order,
  // shapes, dtypes and devices (errors name the tensor).
  void update(const NamedTensors& tensors);
  // Writes the averages into `targets` (e.g. the sampling network's parameters and buffers),
  // matched by name; every shadow must find its target and every target its shadow (ValueError
  // listing the others). Shapes and dtypes must match; devices may differ.
  void copy_to(const NamedTensors& targets) const;

  const NamedTensors& shadows() const { return shadows_; }
  double decay() const { return decay_; }
  bool warmup() const { return warmup_; }
  // The decay the next update uses (decay(), or the warm-up's smaller value).
  double next_decay() const;
  EmaForm form() const { return form_; }
  int64_t updates() const { return updates_; }

  // Shadows share storage with the EMA's (detached); "ema.updates" is a fresh CPU scalar.
  NamedTensors state_dict() const;
  // Copies saved shadows into this EMA (names must be exactly this EMA's; shapes and dtypes
  // must match, devices may differ). Nothing changes when it throws.
  void load_state_dict(const NamedTensors& state);

 private:
  NamedTensors shadows_;
  double decay_;
  EmaForm form_;
  bool warmup_;
  int64_t updates_ = 0;
};

// DRL's "copy the EMA into the sampling network" schedule: after iteration i (0-based index of the
// iteration just trained), due when i > 0 and i % every == 0 (train.py checks i_iter % 5000 == 0
// and i_iter > 0 after the training step of i_iter). every <= 0 never syncs.
struct EmaSyncPolicy {
  int64_t every = 5000;
  bool due(int64_t iteration) const { return every > 0 && iteration > 0 && iteration % every == 0; }
};

}  // namespace ebm::nn
