// Image-space Langevin chains over any energy, with the fused update (core/ops/langevin.h).
//
// IGEBM (Du & Mordatch 2019; ../shared/specs/igebm-drl.md §1.4), per step k = 1..K:
//   x ← x + σ ξ;  g = ∇ₓ Σ E(x);  g ← clamp(g, −c, c);  x ← x − η g;  x ← clamp(x, lo, hi)
// fused as: one noise-only update, then K updates "step, clamp, add the next step's noise" (the
// last without noise). The gradient is taken at the noised point, exactly as the reference code.
// SGLD (JEM, M-EBM): x ← x + α ∇ₓ log p(x) + σ ξ with optional clamps, log p = −E.
// Parameter gradients are never touched: the chain uses autograd's grad(), not backward().
#pragma once

#include <functional>

#include "core/ops/langevin.h"
#include "core/random.h"
#include "core/tensor.h"

namespace ebm::samplers {

// Energy of each sample of a batch: x [N, ...] -> E [N] (differentiable in x).
using EnergyFn = std::function<Tensor(const Tensor& x)>;

struct IgebmLangevinOptions {
  int steps = 60;             // K (num_steps)
  double step_lr = 10.0;      // η
  double noise_std = 0.005;   // σ
  double grad_clip = 0.01;    // c (element-wise); <= 0 disables the clip
  bool clamp = true;          // clamp x to [lo, hi] after each step
  double lo = 0.0, hi = 1.0;
};

// Runs the chain in place on x (float, any device; its autograd state is ignored). Returns
// the mean |∇ₓE| of the last step, a cheap diagnostic for logs (a 0-dim tensor on x's device).
Tensor igebm_langevin_(Tensor& x, const EnergyFn& energy, const IgebmLangevinOptions& o,
                       Generator& gen);

struct SgldOptions {
  int steps = 20;
  double step = 1.0;         // α
  double noise_std = 0.01;   // σ
  double grad_clip = 0.0;    // > 0: clamp ∇ log p element-wise to ±grad_clip
  bool clamp = false;
  double lo = -1.0, hi = 1.0;
};

// SGLD on log p = −E, in place on x.
void sgld_(Tensor& x, const EnergyFn& energy, const SgldOptions& o, Generator& gen);

// ∇ₓ Σ E(x) at x (a fresh leaf sharing x's storage), without touching parameter gradients.
Tensor energy_grad(const Tensor& x, const EnergyFn& energy);

}  // namespace ebm::samplers
