// Spectral normalisation: power iteration, σ and the normalised weight (see spectral_norm.h).
#include "nn/spectral_norm.h"

#include "autograd/ops.h"
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

void SpectralNorm::power_iteration() {
  NoGradGuard no_grad;
  Tensor wm = w_->detach().view(matrix_shape(*w_));
  for (int i = 0; i < o_.n_power_iterations; ++i) {
    Tensor v = normalize(reshape(matmul(wm, reshape(*u_, Shape{u_->numel(), 1}), true), Shape{v_->numel()}), o_.eps);
    Tensor u = normalize(reshape(matmul(wm, reshape(v, Shape{v.numel(), 1})), Shape{u_->numel()}), o_.eps);
    // In place: the buffers keep their storage (state_dict views, device placement).
    v_->copy_(v);
    u_->copy_(u);
  }
}

Tensor SpectralNorm::sigma() const {
  Tensor wm = reshape(*w_, matrix_shape(*w_));
  // Clones: the next forward's power iteration writes u and v in place, and this graph's
  // backward must still see the values it was built with (PyTorch clones for the same reason).
  Tensor u = u_->detach().clone(), v = v_->detach().clone();
  Tensor wv = matmul(wm, reshape(v, Shape{v.numel(), 1}));               // [out, 1]
  return reshape(matmul(reshape(u, Shape{1, u.numel()}), wv), Shape{});  // uᵀ W v
}

Tensor SpectralNorm::normalized_weight() const {
  Tensor s = sigma();
  if (!o_.capped) return div(*w_, s);
  Tensor s1 = affine(s, 1.0, 1e-6);  // σ' = σ + 1e-6
  Tensor one = Tensor::scalar(1.0, s.dtype(), s.device());
  return mul(*w_, div(minimum(s1, one), s1));
}

Tensor SpectralNorm::weight(bool training) {
  if (schedule_ == SpectralNormSchedule::OncePerIteration && cached_.defined()) return cached_;
  if (training) power_iteration();
  return normalized_weight();
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

void refresh_spectral_norm(Module& model) {
  for (SpectralNorm* sn : spectral_norms(model)) {
    sn->clear_cache();
    if (model.is_training()) sn->power_iteration();
    sn->set_cached(sn->normalized_weight());
  }
}

}  // namespace ebm::nn
