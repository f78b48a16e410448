// Diffusion Recovery Likelihood (Gao, Song, Poole, Wu, Kingma, ICLR 2021;
// ../shared/specs/igebm-drl.md §2.2, §2.5, §2.6, §2.8): the noise ladder, the conditional Langevin
// sampler, the progressive sampler and the recovery-likelihood loss of the official TF2 code
// (model.py: get_sigma_schedule, q_sample_pairs, p_sample_langevin, p_sample_progressive,
// training_losses).
//
// Schedule (§2.2), T = num_diffusion_timesteps levels, computed once in double:
//   β_j = linspace(1e-4, 0.02, 1000); boundaries idx = [i·⌊1000/(2(T−1))⌋ for i < T] + [999];
//   a_0 = √(1−β_0), a_i = Π_{j=idx[i−1]+1..idx[i]} √(1−β_j), σ_i = √(1−a_i²)      (i = 0..T)
//   ā_t = Π_{i≤t} a_i, σ̄_t = √(1−ā_t²); a'_i = a_i except a'_T = 1; r_i = 1 except r_T = 0
//   per level t = 0..T−1: s_t² = b²·σ²_{t+1}·σ̄_t/σ̄_0 (c_t is a ratio of σ̄, not σ̄²),
//   tether r_{t+1}·s_t²/(2σ²_{t+1}), loss weight σ_1/σ_{t+1}.
// Conditional chain for level t given x̃ = x_{t+1} (§2.5), f = −energy (the network's output):
//   y ← x̃; K times: y ← y + ½∇_y f(y,t) − r s_t²/(2σ²_{t+1})·(y − x̃) + λ s_t ε   (one fused
//   langevin_step_ per step, core/ops/langevin.h, every sample at its own level); x_t = y/a'_{t+1}.
//   The reference evaluates one more gradient after the last step and never uses it; we skip it.
//   With DRL's every-forward spectral norm a training iteration thus runs K + 1 power iterations
//   here (K chain gradients, one 2B loss forward) where the reference runs K + 3 (its K + 1
//   gradients and two loss forwards); u converges either way.
// Progressive sampling (§2.8): x_T ~ N(0, I); for t = T−1..0: x_t = chain(x_{t+1}, t); output x_0.
// Loss (§2.6): y⁺ = a'_{t+1}·x_t, y⁻ = the chain's raw y; ℓ_b = w_t·(f(y⁻_b, t) − f(y⁺_b, t)),
//   w_t = σ_1/σ_{t+1}; L = Σ_b ℓ_b / B. Raw f, not f/s_t² (the sampler's weighting differs).
#pragma once

#include <cstdint>
#include <functional>
#include <utility>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace ebm::samplers {

// The noise ladder as plain numbers. Vectors indexed by i = 0..T hold the T+1 jumps of the
// grouped DDPM chain (index 0 is the σ̄_0 = 0.01 data level); those indexed by t = 0..T−1 are
// per training level (the jump t → t+1).
struct DrlSchedule {
  int64_t num_timesteps = 6;  // T
  double b_square = 2e-4;     // mcmc_step_size_b_square
  std::vector<double> a, sigma;            // [T+1]: a_i, σ_i
  std::vector<double> alpha_bar, sigma_bar;  // [T+1]: ā_i, σ̄_i
  std::vector<double> a_prev, recovery;    // [T+1]: a'_i, r_i
  std::vector<double> step_sq, step;       // [T]: s_t², s_t
  std::vector<double> tether;              // [T]: r_{t+1} s_t² / (2σ²_{t+1})
  std::vector<double> loss_weight;         // [T]: σ_1 / σ_{t+1}

  // The official schedule for 2 <= T <= 501 (beyond, the grouping has empty groups) and b² > 0;
  // ValueError otherwise.
  static DrlSchedule make(int64_t num_timesteps = 6, double b_square = 2e-4);
};

// f(y, t) = −energy of each sample: y [N, ...], t int64 [N] -> f [N] (differentiable in y).
using DrlFn = std::function<Tensor(const Tensor& y, const Tensor& t)>;

struct DrlLadderOptions {
  int64_t steps = 30;        // K = mcmc_num_steps (0: the chain returns x̃)
  double noise_scale = 1.0;  // λ (0.99 in the reference's evaluation)
};

// One batch's recovery-likelihood loss.
struct DrlLoss {
  Tensor loss;        // 0-dim, differentiable: Σ_b ℓ_b / B
  Tensor per_sample;  // [B] ℓ_b, detached
  double f_pos = 0, f_neg = 0;  // batch means of f(y⁺), f(y⁻) (host values, for logs)
};

// Mean ℓ per level over a batch (host), for logs: count[t] samples at level t, mean[t] their
// mean ℓ (0 when count is 0).
struct DrlLevelStats {
  std::vector<int64_t> count;
  std::vector<double> mean;
};

// The schedule's per-level coefficients as tensors on one device, built once, plus the sampler
// and loss that gather them by each sample's level.
class DrlLadder {
 public:
  DrlLadder(DrlSchedule schedule, DrlLadderOptions options = {}, DType dtype = DType::Float32,
            Device device = Device::cpu());

  const DrlSchedule& schedule() const { return s_; }
  const DrlLadderOptions& options() const { return o_; }
  int64_t levels() const { return s_.num_timesteps; }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  // The fused update's [T, 3] table {½, tether, λ s_t} (ops::drl_langevin_table).
  const Tensor& langevin_table() const { return table_; }

  // t ~ Uniform{0, …, T−1} per sample (int64 [n] on the ladder's device), from n stream words.
  Tensor random_levels(int64_t n, Generator& gen) const;
  // (x_t, x_{t+1}) = (ā_t x + σ̄_t ε, a_{t+1} x_t + σ_{t+1} ε') per sample; two draws from gen.
  std::pair<Tensor, Tensor> q_sample_pairs(const Tensor& x, const Tensor& t, Generator& gen) const;
  // The conditional chain of level t_b for each sample b, started at x̃ (not modified); returns the
  // raw y (the loss's y⁻). K gradients and K fused updates; noise from gen.
  Tensor langevin(const Tensor& x_tilde, const Tensor& t, const DrlFn& f, Generator& gen) const;
  // y / a'_{t+1} and a'_{t+1}·x per sample (not recorded).
  Tensor to_x(const Tensor& y, const Tensor& t) const;
  Tensor to_y(const Tensor& x, const Tensor& t) const;
  // Samples of `shape` ([N, ...]) from N(0, I) through all T levels; returns x_0. When `trace` is
  // given it receives x_T, x_{T−1}, …, x_0 (T+1 tensors).
  Tensor sample_progressive(const Shape& shape, const DrlFn& f, Generator& gen,
                            std::vector<Tensor>* trace = nullptr) const;

  // ℓ_b = w_{t_b}·(f_neg_b − f_pos_b) from the two [B] outputs (differentiable through both).
  DrlLoss loss(const Tensor& f_pos, const Tensor& f_neg, const Tensor& t) const;
  // The training loss from x_t (x_pos) and the chain's y (y_neg, detached here): y⁺ = a'·x_pos,
  // then one forward of f on the concatenation [y⁺; y⁻] (batch 2B, same t for both halves).
  DrlLoss recovery_loss(const DrlFn& f, const Tensor& x_pos, const Tensor& y_neg, const Tensor& t) const;
  // Per-level means of a loss's ℓ (one host read of ℓ and t).
  DrlLevelStats level_stats(const DrlLoss& loss, const Tensor& t) const;

  // Per-level values [T] gathered by t and shaped [N, 1, ..., 1] to broadcast against an
  // ndim-dimensional batch.
  Tensor gather(const Tensor& per_level, const Tensor& t, int ndim) const;

 private:
  void check_levels(const Tensor& t, int64_t n, const char* op) const;
  DrlSchedule s_;
  DrlLadderOptions o_;
  DType dtype_;
  Device device_;
  Tensor table_;
  // [T] per level t: ā_t, σ̄_t, a_{t+1}, σ_{t+1}, a'_{t+1}, 1/a'_{t+1}, w_t
  Tensor alpha_bar_, sigma_bar_, a_next_, sigma_next_, a_prev_, inv_a_prev_, weight_;
};

}  // namespace ebm::samplers
