// Basic layers with PyTorch's parameter names and default initialisation:
//   Conv2d  (weight [out, in, k, k], bias [out]; torch.nn.Conv2d), Linear (weight [out, in],
//   bias [out]; torch.nn.Linear), Dropout, AvgPool2d, UpsampleNearest2d.
// Conv2d and Linear can be spectrally normalised (Miyato et al. 2018): then the parameter is
// weight_orig and the buffers weight_u, weight_v, as torch.nn.utils.spectral_norm names them
// (see nn/spectral_norm.h for the schedules and the IGEBM capped variant).
#pragma once

#include <memory>
#include <string>
#include <utility>

#include "autograd/ops.h"
#include "core/random.h"
#include "nn/module.h"
#include "nn/spectral_norm.h"

namespace ebm::nn {

struct Conv2dOptions {
  int64_t in_channels = 0, out_channels = 0;
  int kernel = 3, stride = 1, padding = 1;
  bool bias = true;
  SpectralNormOptions spectral_norm;  // off by default
  DType dtype = DType::Float32;
};

// What Conv2d and Linear share: a weight [out, ...] with an optional bias [out], registered under
// PyTorch's names (weight, bias; or bias, weight_orig, weight_u, weight_v under spectral norm, in
// torch.nn.utils.spectral_norm's order), and the weight the forward uses.
class WeightedLayer : public Module, public SpectralNormHost {
 public:
  // The weight the forward uses: W, or W/σ under spectral norm (per its schedule).
  Tensor weight();
  Tensor& raw_weight() { return *w_; }  // weight or weight_orig
  Tensor* bias() { return b_; }         // null without bias
  SpectralNorm* spectral_norm() override { return sn_.get(); }

 protected:
  // w: initialised weight; b: initialised bias or undefined.
  WeightedLayer(const std::string& type_name, Tensor w, Tensor b, const SpectralNormOptions& sn,
                Generator& gen);
  void on_mode_changed() override;  // drops a cached W/σ (it may be on the old device)

 private:
  Tensor* w_ = nullptr;
  Tensor* b_ = nullptr;
  std::unique_ptr<SpectralNorm> sn_;
};

class Conv2d : public WeightedLayer {
 public:
  // Weights drawn with PyTorch's default rule (nn/init.h) from gen; recipes re-initialise.
  Conv2d(const Conv2dOptions& o, Generator& gen);
  Tensor forward(const Tensor& x);
  const Conv2dOptions& options() const { return o_; }

 private:
  Conv2d(const Conv2dOptions& o, std::pair<Tensor, Tensor> weight_bias, Generator& gen);
  Conv2dOptions o_;
};

struct LinearOptions {
  int64_t in_features = 0, out_features = 0;
  bool bias = true;
  SpectralNormOptions spectral_norm;
  DType dtype = DType::Float32;
};

class Linear : public WeightedLayer {
 public:
  Linear(const LinearOptions& o, Generator& gen);
  Tensor forward(const Tensor& x);  // x [N, in] -> [N, out]
  const LinearOptions& options() const { return o_; }

 private:
  Linear(const LinearOptions& o, std::pair<Tensor, Tensor> weight_bias, Generator& gen);
  LinearOptions o_;
};

// Inverted dropout, active in training mode. Draws from the generator it was given (shared
// with the model, so a run's dropout masks follow from its seed).
class Dropout : public Module {
 public:
  Dropout(double p, std::shared_ptr<Generator> gen);
  Tensor forward(const Tensor& x);
  double p() const { return p_; }

 private:
  double p_;
  std::shared_ptr<Generator> gen_;
};

class AvgPool2d : public Module {
 public:
  explicit AvgPool2d(int kernel, int stride = -1) : Module("AvgPool2d"), k_(kernel), s_(stride) {}
  Tensor forward(const Tensor& x) { return avg_pool2d(x, k_, s_); }

 private:
  int k_, s_;
};

class UpsampleNearest2d : public Module {
 public:
  explicit UpsampleNearest2d(int scale = 2) : Module("UpsampleNearest2d"), scale_(scale) {}
  Tensor forward(const Tensor& x) { return upsample_nearest2d(x, scale_); }

 private:
  int scale_;
};

// [C] -> [1, C, 1, 1], to broadcast a per-channel vector over NCHW maps.
Tensor per_channel(const Tensor& v);

}  // namespace ebm::nn
