// Derivative of σ = uᵀ W v with u, v constants (spectral normalisation, Miyato et al. 2018; the
// treatment of torch.nn.utils.spectral_norm): dσ/dW = u vᵀ, so an incoming gradient g (0-dim)
// gives grad_W = (g·u) vᵀ reshaped to W's shape: a product of [rows, 1] by [1, cols]. Written with
// ebm:: ops, so the backward records under create_graph (it is linear in g and constant in W).
#include "autograd/ops/spectral_norm.h"

#include <cmath>

#include "autograd/node.h"
#include "autograd/ops/elementwise.h"
#include "autograd/ops/linalg.h"
#include "autograd/ops/shape.h"

namespace ebm {

namespace {

class SpectralNormSigmaNode : public Node {
 public:
  // u, v: copies that nothing else writes.
  SpectralNormSigmaNode(const Tensor& u, const Tensor& v, const Shape& weight_shape)
      : u_(u), v_(v), weight_shape_(weight_shape) {}
  const char* name() const override { return "spectral_norm_sigma"; }

  std::vector<Tensor> apply(const std::vector<Tensor>& gout, const std::vector<bool>& needs) override {
    const Tensor& g = gout[0];
    if (!needs[0] || !g.defined()) return {Tensor()};
    const Tensor u = u_.get(name()), v = v_.get(name());
    const Tensor gu = mul(reshape(u, {u.numel(), 1}), reshape(g, {1, 1}));  // [rows, 1]
    return {reshape(matmul(gu, reshape(v, {1, v.numel()})), weight_shape_)};
  }

 private:
  SavedTensor u_, v_;
  Shape weight_shape_;
};

void record_sigma(Tensor& sigma, const Tensor& weight, const Tensor& u_copy, const Tensor& v_copy) {
  record(std::make_shared<SpectralNormSigmaNode>(u_copy, v_copy, weight.shape()), {weight}, {&sigma});
}

}  // namespace

std::vector<Tensor> spectral_norm_sigmas_(std::vector<SpectralNormState>& layers, int n_iter,
                                          double eps) {
  bool any = false;
  for (const SpectralNormState& s : layers) any = any || any_requires_grad({s.weight});
  Tensor copies;
  const Tensor sigma = ops::spectral_norm_power_iteration_(layers, n_iter, eps, any ? &copies : nullptr);
  std::vector<Tensor> out(layers.size());
  int64_t offset = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    out[l] = sigma.select(static_cast<int64_t>(l));
    const int64_t rows = layers[l].u.numel(), cols = layers[l].v.numel();
    if (any && any_requires_grad({layers[l].weight}))
      record_sigma(out[l], layers[l].weight, copies.slice(offset, offset + rows),
                   copies.slice(offset + rows, offset + rows + cols));
    offset += rows + cols;
  }
  return out;
}

Tensor spectral_norm_sigma(const Tensor& weight, const Tensor& u, const Tensor& v,
                           const Tensor& sigma_precomputed) {
  const char* op = "spectral_norm_sigma";
  Tensor sigma;
  if (sigma_precomputed.defined()) {
    ops::spectral_norm_check({{weight, u, v}}, op);
    EBM_CHECK(sigma_precomputed.numel() == 1, ShapeError, op,
              ": sigma_precomputed must have one element, got ", sigma_precomputed.description());
    check_same_dtype(weight, sigma_precomputed, op);
    check_same_device(weight, sigma_precomputed, op);
    sigma = sigma_precomputed.detach().view(Shape{});
  } else {
    sigma = ops::spectral_norm_sigma(weight, u, v);
  }
  if (any_requires_grad({weight})) record_sigma(sigma, weight, u.detach().clone(), v.detach().clone());
  return sigma;
}

Tensor spectral_normalize(const Tensor& weight, const Tensor& sigma) { return div(weight, sigma); }

Tensor spectral_normalize_capped(const Tensor& weight, const Tensor& sigma, double offset) {
  return div(weight, clamp(sigma + offset, 1.0, INFINITY));
}

}  // namespace ebm
