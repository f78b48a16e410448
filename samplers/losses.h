// Training losses of the EBM recipes.
//   IGEBM contrastive divergence (../shared/specs/igebm-drl.md §1.6):
//     L = ml·(mean E⁺ − mean E⁻) + α·(mean E⁺² + mean E⁻²)
//   with E⁻ computed on detached negatives, so gradients reach only the network.
#pragma once

#include "core/tensor.h"

namespace ebm::samplers {

struct ContrastiveLoss {
  Tensor loss;              // 0-dim, differentiable
  double e_pos = 0, e_neg = 0;  // batch means (host values, for logs)
};

// e_pos, e_neg: energies [B] of the data and of the (detached) negatives.
ContrastiveLoss contrastive_loss(const Tensor& e_pos, const Tensor& e_neg, double l2_coeff = 1.0,
                                 double ml_coeff = 1.0);

}  // namespace ebm::samplers
