// Gradient clipping over the gradients of a parameter list: by the total norm
// (torch.nn.utils.clip_grad_norm_, or TF's clip_by_global_norm, which DRL's optional grad_clip
// uses: specs/igebm-drl.md §2.7) and by value (torch.nn.utils.clip_grad_value_). Parameters whose
// gradient is undefined are skipped. The norm is computed on the gradients' device by the
// fixed-split reduction of core/ops/optim.h (per tensor in double, the same bits on CPU and GPU)
// with one host read for all tensors; the scaling is one in-place kernel per gradient.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace ebm::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;  // as nn/module.h

// How the clip coefficient is formed from the total norm N and the threshold c, in the
// gradients' dtype: Torch g·min(c / (N + 1e-6), 1); Tf g·(c·min(1/N, 1/c)) (NaN when N is not
// finite, as clip_by_global_norm).
enum class ClipForm : uint8_t { Torch, Tf };

// The total norm of the gradients: (Σ_tensors Σ|g|²)^½ for norm_type 2, max|g| for INFINITY
// (NaN propagates). Other norm types throw ValueError. 0 without gradients.
double grad_norm(const NamedTensors& params, double norm_type = 2.0);
double grad_norm(const std::vector<Tensor>& params, double norm_type = 2.0);

// Scales the gradients so that their total norm is at most max_norm and returns the total norm
// before clipping. error_if_nonfinite: a NaN/inf norm throws ValueError and nothing is scaled.
// All gradients on one device (else DeviceError naming the parameter).
double clip_grad_norm_(const NamedTensors& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false, ClipForm form = ClipForm::Torch);
double clip_grad_norm_(const std::vector<Tensor>& params, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false, ClipForm form = ClipForm::Torch);

// Clamps every gradient element to [−clip_value, clip_value] (NaN stays NaN).
void clip_grad_value_(const NamedTensors& params, double clip_value);
void clip_grad_value_(const std::vector<Tensor>& params, double clip_value);

}  // namespace ebm::nn
