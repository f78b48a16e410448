// Differentiable spectral normalisation (Miyato et al., ICLR 2018; torch.nn.utils.spectral_norm):
// σ = uᵀ W v with u and v constants of the gradient, dσ/dW = u vᵀ, so a layer's W/σ back-propagates
// into W both directly and through σ, as in PyTorch. The power iteration itself (u, v updated in
// place, never recorded) is core/ops/spectral_norm.h; derivative: autograd/functions/spectral_norm.cpp.
// The recorded u and v are copies (like PyTorch's clones), so later iterations, which write the
// buffers in place, do not disturb a graph that is still waiting for its backward.
#pragma once

#include <vector>

#include "core/ops/spectral_norm.h"

namespace ebm {

// Batched, for a whole model: n_iter power iterations on every layer (u, v in place; n_iter = 0
// is eval mode), then σ_l = u_lᵀ W_l v_l as 0-dim tensors of the weights' dtype and device (views
// of one [L] tensor). σ_l is recorded (saving copies of u_l, v_l that the kernels write alongside)
// when grad mode is on and layer l's weight requires grad. One call of
// ops::spectral_norm_power_iteration_: no host synchronisation on CUDA.
std::vector<Tensor> spectral_norm_sigmas_(std::vector<SpectralNormState>& layers, int n_iter,
                                          double eps = 1e-12);

// One layer, no iteration: σ = uᵀ W v from the given u, v (0-dim), recorded with copies of u and
// v when W requires grad. sigma_precomputed (one element, W's dtype and device), when given, is
// used as the value instead of recomputing it (e.g. an element of the [L] tensor that
// ops::spectral_norm_power_iteration_ returned, for these same u and v).
Tensor spectral_norm_sigma(const Tensor& weight, const Tensor& u, const Tensor& v,
                           const Tensor& sigma_precomputed = Tensor());

// W / σ (σ 0-dim): the normalised weight of an ordinary SN layer.
Tensor spectral_normalize(const Tensor& weight, const Tensor& sigma);
// IGEBM's capped form for near-zero-initialised layers (specs/igebm-drl.md §0):
// W/(σ+offset)·min(σ+offset, 1), computed as the equal W / max(σ', 1) with σ' = σ + offset (one
// pass over W): for σ' <= 1 the result is exactly W with no gradient into σ (the spec's "two σ'
// factors cancel"), for σ' > 1 it is W/σ'.
Tensor spectral_normalize_capped(const Tensor& weight, const Tensor& sigma, double offset = 1e-6);

}  // namespace ebm
