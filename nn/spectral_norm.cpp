// Spectral normalisation: power iteration, σ and the normalised weight (see spectral_norm.h).
#include "nn/spectral_norm.h"

#include <algorithm>

#include "autograd/ops.h"
#include "autograd/ops/spectral_norm.h"
#include "nn/module.h"

namespace ebm::nn {

namespace {

// x / max(‖x‖, eps) for a 1-D tensor (no recording: callers hold a NoGradGuard).
Tensor normalize(const Tensor& x, double eps) {
  Tensor norm = sqrt(sum(square(x)));
  Tensor floor = Tensor::scalar(eps, x.dtype(), x.device());
  return div(x, maximum(norm, floor));
}

Shape matrix_shape(const Tensor& w) { return Shape{w.size(0), w.numel() / w.size(0)}; }

}  // namespace

SpectralNorm::SpectralNorm(const SpectralNormOptions& o, Tensor* weight_orig, Tensor* u,
                           Tensor* v, Generator& gen)
    : o_(o), w_(weight_orig), u_(u), v_(v) {
  EBM_CHECK(o.n_power_iterations >= 0 && o.eps > 0, ValueError,
            "SpectralNorm: need n_power_iterations >= 0 and eps > 0, got ", o.n_power_iterations,
            " and ", o.eps);
  EBM_CHECK(w_->dim() >= 2, ShapeError, "SpectralNorm: weight must have rank >= 2, got ",
            w_->description());
  Shape m = matrix_shape(*w_);
  NoGradGuard no_grad;
  *u_ = normalize(ops::randn(Shape{m.size(0)}, gen, w_->dtype(), w_->device()), o.eps);
  *v_ = normalize(ops::randn(Shape{m.size(1)}, gen, w_->dtype(), w_->device()), o.eps);
}

std::vector<SpectralNormState> SpectralNorm::state() const { return {{*w_, *u_, *v_}}; }

void SpectralNorm::power_iteration() {
  NoGradGuard no_grad;
  std::vector<SpectralNormState> l = state();
  ops::spectral_norm_power_iteration_(l, o_.n_power_iterations, o_.eps);
}

Tensor SpectralNorm::sigma() const { return spectral_norm_sigma(*w_, *u_, *v_); }

Tensor SpectralNorm::normalize_with(const Tensor& sigma) const {
  return o_.capped ? spectral_normalize_capped(*w_, sigma) : spectral_normalize(*w_, sigma);
}

Tensor SpectralNorm::normalized_weight() const { return normalize_with(sigma()); }

Tensor SpectralNorm::weight(bool training) {
  if (schedule_ == SpectralNormSchedule::OncePerIteration && cached_.defined()) return cached_;
  std::vector<SpectralNormState> l = state();
  // One fused call: the iterations (training, or every call) and σ with its derivative.
  const bool iterate = training || o_.iterate_in_eval;
  Tensor s = spectral_norm_sigmas_(l, iterate ? o_.n_power_iterations : 0, o_.eps)[0];
  return normalize_with(s);
}

void SpectralNorm::set_schedule(SpectralNormSchedule s) {
  schedule_ = s;
  cached_ = Tensor();
}

std::vector<SpectralNorm*> spectral_norms(Module& model) {
  std::vector<SpectralNorm*> out;
  for (auto& [name, m] : model.named_modules())
    if (auto* host = dynamic_cast<SpectralNormHost*>(m))
      if (SpectralNorm* sn = host->spectral_norm()) out.push_back(sn);
  return out;
}

void set_spectral_norm_schedule(Module& model, SpectralNormSchedule s) {
  for (SpectralNorm* sn : spectral_norms(model)) sn->set_schedule(s);
}

void set_spectral_norm_iterate_in_eval(Module& model, bool on) {
  for (SpectralNorm* sn : spectral_norms(model)) sn->set_iterate_in_eval(on);
}

void refresh_spectral_norm(Module& model) {
  // One batched call per iteration count (normally one for the whole model): on the GPU a few
  // launches for all the layers instead of several per layer.
  std::vector<SpectralNorm*> all = spectral_norms(model);
  auto iterations = [&](const SpectralNorm* sn) {
    return model.is_training() || sn->options().iterate_in_eval ? sn->options().n_power_iterations : 0;
  };
  std::vector<int> counts;
  for (SpectralNorm* sn : all) {
    int n = iterations(sn);
    if (std::find(counts.begin(), counts.end(), n) == counts.end()) counts.push_back(n);
  }
  for (int n : counts) {
    std::vector<SpectralNorm*> group;
    std::vector<SpectralNormState> states;
    for (SpectralNorm* sn : all)
      if (iterations(sn) == n) {
        group.push_back(sn);
        states.push_back(sn->state()[0]);
      }
    // Layers of one group share eps in practice; the batched op takes one.
    std::vector<Tensor> sigmas = spectral_norm_sigmas_(states, n, group.front()->options().eps);
    for (size_t i = 0; i < group.size(); ++i) group[i]->set_cached(group[i]->normalize_with(sigmas[i]));
  }
}

}  // namespace ebm::nn
