// Learning-rate schedules (nn/lr_schedule.h): linear warm-up, multi-step decay and DRL's cosine,
// as pure functions of the update index.
#include "nn/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "core/common.h"

namespace ebm::nn {

void LrSchedule::validate() const {
  const char* op = "LrSchedule";
  EBM_CHECK(std::isfinite(base_lr) && base_lr >= 0, ValueError, op,
            ": base_lr must be finite and >= 0, got ", base_lr);
  EBM_CHECK(warmup_steps >= 0, ValueError, op, ": warmup_steps must be >= 0, got ", warmup_steps);
  EBM_CHECK(std::isfinite(gamma) && gamma >= 0, ValueError, op, ": gamma must be finite and >= 0, got ",
            gamma);
  for (size_t i = 0; i < milestones.size(); ++i)
    EBM_CHECK(milestones[i] >= 0 && (i == 0 || milestones[i] > milestones[i - 1]), ValueError, op,
              ": milestones must be >= 0 and strictly ascending; milestone ", i, " is ", milestones[i]);
  EBM_CHECK(!cosine || total_steps > warmup_steps, ValueError, op,
            ": the cosine decay needs total_steps > warmup_steps, got ", total_steps, " and ",
            warmup_steps);
}

double LrSchedule::at(int64_t step) const {
  validate();
  EBM_CHECK(step >= 0, ValueError, "LrSchedule: update index must be >= 0, got ", step);
  const double s = static_cast<double>(step), w = static_cast<double>(warmup_steps);
  double lr = base_lr;
  if (cosine) {
    const double span = static_cast<double>(total_steps - warmup_steps);
    const double ratio = std::max(0.0, std::min(s - w, span) / span);
    lr *= 0.5 * (1.0 + std::cos(3.14159265358979323846 * ratio));
  }
  if (warmup_steps > 0 && step <= warmup_steps) return lr * std::min(1.0, s / w);
  int decays = 0;
  for (int64_t m : milestones) decays += m > warmup_steps && m <= step;
  return lr * std::pow(gamma, decays);
}

LrSchedule LrSchedule::constant(double lr) {
  LrSchedule s;
  s.base_lr = lr;
  return s;
}

LrSchedule LrSchedule::drl(double lr, int64_t warmup) {
  LrSchedule s;
  s.base_lr = lr;
  s.warmup_steps = warmup;
  return s;
}

LrSchedule LrSchedule::warmup_multistep(double lr, int64_t warmup,
                                        const std::vector<int64_t>& decay_epochs,
                                        int64_t steps_per_epoch, double decay_rate) {
  LrSchedule s;
  s.base_lr = lr;
  s.warmup_steps = warmup;
  s.milestones = epochs_to_steps(decay_epochs, steps_per_epoch);
  s.gamma = decay_rate;
  s.validate();
  return s;
}

std::vector<int64_t> epochs_to_steps(const std::vector<int64_t>& epochs, int64_t steps_per_epoch) {
  EBM_CHECK(steps_per_epoch > 0, ValueError, "epochs_to_steps: steps_per_epoch must be > 0, got ",
            steps_per_epoch);
  std::vector<int64_t> out;
  out.reserve(epochs.size());
  for (int64_t e : epochs) {
    EBM_CHECK(e >= 0, ValueError, "epochs_to_steps: negative epoch ", e);
    out.push_back(e * steps_per_epoch);
  }
  return out;
}

}  // namespace ebm::nn
