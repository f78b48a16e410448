// Learning-rate schedules as pure functions of the update index, so a resumed run gets exactly
// the rates of an uninterrupted one. s is the 0-based index of the update about to be made (the
// optimizer's steps() before step()), so with a warm-up the first update has lr 0, as in both
// references:
//   DRL (specs/igebm-drl.md §2.7, train_utils.get_warmed_up_lr): lr·min(1, s/W), optionally
//     × ½(1 + cos(π·max(0, min(s − W, S − W)/(S − W)))) (cosine_decay over S = n_iters);
//   JEM / M-EBM (gebm-jem-mebm.md §2.6, §3.6): lr·s/W while s <= W, then × γ at the start of
//     each decay epoch (milestones in updates: epoch · updates per epoch, epochs_to_steps).
// Multi-step decay counts the milestones m <= s; a milestone inside the warm-up (m <= W) is
// dropped, as in JEM's loop, where the warm-up overwrites the decayed rate until s = W.
#pragma once

#include <cstdint>
#include <vector>

namespace ebm::nn {

struct LrSchedule {
  double base_lr = 1e-3;
  int64_t warmup_steps = 0;          // W; 0: no warm-up
  std::vector<int64_t> milestones;   // update indices, ascending
  double gamma = 0.1;
  bool cosine = false;               // DRL's cosine_decay
  int64_t total_steps = 0;           // S for the cosine (> W)

  // The learning rate of update s >= 0. Throws ValueError for an inconsistent schedule.
  double at(int64_t step) const;
  double operator()(int64_t step) const { return at(step); }
  void validate() const;

  static LrSchedule constant(double lr);
  // DRL: lr 1e-4, linear warm-up over 1000 updates, then constant.
  static LrSchedule drl(double lr = 1e-4, int64_t warmup = 1000);
  // JEM / M-EBM: warm-up, then × decay_rate at each of decay_epochs (JEM: lr 1e-4, 1000,
  // {160, 180}, 0.3; M-EBM: lr 0.1, 1000, {60, 120, 180}, 0.2).
  static LrSchedule warmup_multistep(double lr, int64_t warmup, const std::vector<int64_t>& decay_epochs,
                                     int64_t steps_per_epoch, double decay_rate);
};

// {e · steps_per_epoch for e in epochs}: an epoch's first update index.
std::vector<int64_t> epochs_to_steps(const std::vector<int64_t>& epochs, int64_t steps_per_epoch);

}  // namespace ebm::nn
