// Spectral normalisation of a layer's weight (Miyato et al., ICLR 2018), with the state and
// names of torch.nn.utils.spectral_norm: parameter weight_orig [out, ...], buffers weight_u
// [out] and weight_v [in·k·k]. W is viewed as a matrix [out, rest]; one power-iteration step is
// v = normalize(Wᵀu), u = normalize(W v) (normalize(x) = x / max(‖x‖, eps); u, v are buffers,
// no gradient), σ = uᵀ W v, and the layer uses W/σ. The gradient flows through σ.
//
// Variants (../shared/specs/igebm-drl.md §0):
//   capped   IGEBM's near-zero conv2 of each block: W/(σ+1e-6)·min(σ+1e-6, 1), i.e. the norm
//            is only ever capped at 1, never scaled up.
// Schedules:
//   EveryForward      every training forward runs n power iterations first (DRL, rosinality's
//                     IGEBM port, PyTorch's hook).
//   OncePerIteration  refresh_spectral_norm(model) runs them once (one batched call for all the
//                     layers) and every forward until the next refresh reuses that same W/σ
//                     (IGEBM's official TF graph: one update per training iteration).
// In eval mode no iteration runs: σ comes from the stored u and v (PyTorch) — unless the layer
// iterates on every call (DRL's Keras SN wrapper has no train/eval switch: each call, in the
// EMA sampling network too, derives v and u afresh from the stored u, so an averaged u works).
#pragma once

#include <vector>

#include "core/ops/spectral_norm.h"
#include "core/random.h"
#include "core/tensor.h"

namespace ebm::nn {

class Module;

struct SpectralNormOptions {
  bool enabled = false;
  bool capped = false;
  int n_power_iterations = 1;
  double eps = 1e-12;
  bool iterate_in_eval = false;  // iterate (and write u, v back) in eval mode too (DRL, TF)
};

enum class SpectralNormSchedule { EveryForward, OncePerIteration };

class SpectralNorm {
 public:
  // Fills *u and *v with normalised N(0, 1) draws from gen (as PyTorch does at registration).
  SpectralNorm(const SpectralNormOptions& o, Tensor* weight_orig, Tensor* u, Tensor* v,
               Generator& gen);

  // The normalised weight for a forward in the given mode, per the schedule.
  Tensor weight(bool training);

  // n_power_iterations steps on u and v, in place, without recording.
  void power_iteration();
  // σ = uᵀ W v, differentiable in W.
  Tensor sigma() const;
  // W/σ (or the capped form) from the current u, v: no iteration.
  Tensor normalized_weight() const;
  // W/σ (or the capped form) for a given σ (0-dim, differentiable).
  Tensor normalize_with(const Tensor& sigma) const;
  // {weight_orig, u, v} for the batched op (handles sharing the layer's storage).
  std::vector<SpectralNormState> state() const;

  void set_schedule(SpectralNormSchedule s);
  void set_iterate_in_eval(bool on) { o_.iterate_in_eval = on; }
  SpectralNormSchedule schedule() const { return schedule_; }
  // OncePerIteration: the cached W/σ that forwards use until the next refresh.
  void set_cached(Tensor w) { cached_ = std::move(w); }
  void clear_cache() { cached_ = Tensor(); }
  const Tensor& cached() const { return cached_; }  // undefined before a refresh
  const SpectralNormOptions& options() const { return o_; }
  const Tensor& u() const { return *u_; }
  const Tensor& v() const { return *v_; }
  const Tensor& weight_orig() const { return *w_; }

 private:
  SpectralNormOptions o_;
  Tensor* w_;
  Tensor* u_;
  Tensor* v_;
  SpectralNormSchedule schedule_ = SpectralNormSchedule::EveryForward;
  Tensor cached_;
};

// A layer that may carry a spectral norm (Conv2d, Linear): lets model-level code find them.
class SpectralNormHost {
 public:
  virtual ~SpectralNormHost() = default;
  virtual SpectralNorm* spectral_norm() = 0;  // null when the layer is not normalised
};

// Every spectral norm in the model (depth-first module order).
std::vector<SpectralNorm*> spectral_norms(Module& model);
void set_spectral_norm_schedule(Module& model, SpectralNormSchedule s);
void set_spectral_norm_iterate_in_eval(Module& model, bool on);
// OncePerIteration: one power-iteration round for every layer (if the model is training) and
// the W/σ that every forward uses until the next call. Records onto the autograd graph when
// grad mode is on, so the loss's backward reaches weight_orig through σ.
void refresh_spectral_norm(Module& model);

}  // namespace ebm::nn
