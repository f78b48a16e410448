// Helpers of the chain-graph tests (CPU and CUDA): a small convolutional energy with per-call
// inputs, E(x)ₙ = Σ conv2(leaky_relu(conv1(x + shift + bias[labels])))ₙ, with a float input
// `shift` [N, 1, 1, 1] and an int64 input `labels` [N] picking rows of a per-class bias [K, C];
// IGEBM chain settings; and a bit-for-bit comparison of float32 tensors on any device.
#pragma once

#include <cstring>
#include <vector>

#include "autograd/ops.h"
#include "nn/embedding.h"
#include "nn/layers.h"
#include "samplers/langevin.h"

namespace ebm::test {

// Elements whose bits differ between two float32 tensors (copied to the host); -1 for shapes
// that differ.
inline int64_t bit_differences(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape()) return -1;
  const std::vector<float> va = a.to(Device::cpu()).to_vector<float>(), vb = b.to(Device::cpu()).to_vector<float>();
  int64_t bad = 0;
  for (size_t i = 0; i < va.size(); ++i) bad += std::memcmp(&va[i], &vb[i], sizeof(float)) != 0;
  return bad;
}

// IGEBM's chain (step 10, noise 0.005, clip 0.01) with K steps.
inline samplers::IgebmLangevinOptions chain_options(int steps) {
  samplers::IgebmLangevinOptions o;
  o.steps = steps;
  o.step_lr = 10.0;
  o.noise_std = 0.005;
  o.grad_clip = 0.01;
  return o;
}

class TinyConvEnergy {
 public:
  static constexpr int64_t kChannels = 2, kClasses = 3;

  // Weights from `seed`; spectral_norm: both convs normalised, iterating on every training
  // forward (their u, v change in place as a chain runs).
  TinyConvEnergy(uint64_t seed, Device device, bool spectral_norm = false)
      : gen_(seed), conv1_(options(kChannels, 4, spectral_norm), gen_), conv2_(options(4, 3, spectral_norm), gen_) {
    std::vector<float> b(kClasses * kChannels);
    for (size_t i = 0; i < b.size(); ++i) b[i] = 0.05f * static_cast<float>(i) - 0.1f;
    bias_ = Tensor::from_vector(b, Shape{kClasses, kChannels}).to(device);
    conv1_.to(device);
    conv2_.to(device);
  }

  Tensor operator()(const Tensor& x, const Tensor& shift, const Tensor& labels) {
    Tensor h = conv1_.forward(x + shift + nn::rows_for_labels(bias_, labels));
    h = conv2_.forward(leaky_relu(h, 0.2));
    return sum(h, {1, 2, 3});
  }

  nn::Conv2d& conv1() { return conv1_; }

 private:
  static nn::Conv2dOptions options(int64_t in, int64_t out, bool sn) {
    nn::Conv2dOptions o;
    o.in_channels = in;
    o.out_channels = out;
    o.spectral_norm.enabled = sn;
    return o;
  }

  Generator gen_;
  nn::Conv2d conv1_, conv2_;
  Tensor bias_;
};

}  // namespace ebm::test
