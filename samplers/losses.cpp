// IGEBM's contrastive loss (see losses.h).
#include "samplers/losses.h"

#include "autograd/ops.h"

namespace ebm::samplers {

ContrastiveLoss contrastive_loss(const Tensor& e_pos, const Tensor& e_neg, double l2_coeff,
                                 double ml_coeff) {
  EBM_CHECK(e_pos.defined() && e_neg.defined() && e_pos.dim() == 1 && e_neg.dim() == 1,
            ShapeError, "contrastive_loss: energies must be [B] vectors, got ",
            e_pos.defined() ? e_pos.description() : "undefined", " and ",
            e_neg.defined() ? e_neg.description() : "undefined");
  Tensor mp = mean(e_pos), mn = mean(e_neg);
  Tensor ml = affine(sub(mp, mn), ml_coeff, 0.0);
  Tensor reg = affine(add(mean(square(e_pos)), mean(square(e_neg))), l2_coeff, 0.0);
  ContrastiveLoss out;
  out.loss = add(ml, reg);
  out.e_pos = mp.item();
  out.e_neg = mn.item();
  return out;
}

}  // namespace ebm::samplers
