// The IGEBM energy networks (Du & Mordatch, NeurIPS 2019; openai/ebm_code_release models.py),
// exactly as ../shared/specs/igebm-drl.md §1.3 describes them: ResNet32 (class-conditional,
// 128 filters), ResNet32Large (unconditional, dropout 0.5 after conv1 of every block in
// training), ResNet32Wider (192 in train.py, 256 for ImageNet 32×32), and a small ResNet32 for
// CPU runs and tests. Input x [N, C, S, S] in [0, 1] (any channel count, S = 32 by default),
// output the energy E(x) [N] (low = data-like).
//
//   stem   h = LeakyReLU₀.₂(SNConv3×3(x))                         (no bias, no gain)
//   block  h = SNConv1(x + gb₁)  → Dropout(p) in training → LeakyReLU₀.₂
//          h = SNConv2capped(h + gb₂) · gain₂                       (conv2 ~ N(0, 1e-10²))
//          r = h + (SNConv3×3(x) if adaptive else x);  AvgPool 2×2 if downsampling;  LeakyReLU₀.₂
//   head   E = fc(Σ_{H,W} act(h)), act ReLU (ResNet32Large conditional: LeakyReLU₀.₂); fc has a
//          bias, no SN, Xavier-uniform init.
// Conditional (K classes): gb₁ [K, C_in], gb₂ [K, C_out], g₂ [K, C_out] picked by label, and
// gain₂ = g₂[y] + cb₂ with cb₂ [C_out]. Unconditional: gb₁ [C_in], gb₂, g₂ [C_out], no cb₂.
// Spectral norm (nn/spectral_norm.h): all convs, fc excluded; the schedule is an option
// (OncePerIteration = the official TF graph: call refresh_spectral_norm() once per training
// iteration; EveryForward = rosinality's port). Parameters the official graph creates but never
// uses (conv biases, attention, ResNet32's fc_dense, conv1's g/cb) are not created here.
//
// state_dict names (= tests/reference/igebm_models.py):
//   stem.weight_orig, stem.weight_u, stem.weight_v,
//   blocks.<i>.gb1, blocks.<i>.gb2, blocks.<i>.g2, [blocks.<i>.cb2,]
//   blocks.<i>.conv1.{weight_orig,weight_u,weight_v}, blocks.<i>.conv2.{...}, [blocks.<i>.skip.{...},]
//   fc.weight, fc.bias
//
// Sizes (conv weights, which is what the spec's figures count, and 2·MACs of one 32×32 forward
// as nn::FlopCounter counts them; num_parameters() adds gb/g/cb and fc):
//   name            filters  blocks        conv weights   GFLOP/fwd   num_parameters (K classes)
//   resnet32        128      6 (128-256)     5,311,872      1.706     K=10:    5,350,529
//   resnet32_large  128      9 (128-512)    18,582,912      2.725     K=0:    18,591,105
//   resnet32_wider  192      9 (192-768)    41,917,824      6.349     K=10:   42,037,185
//   resnet32_wider  256      9 (256-1024)   74,321,280     10.879     K=1000: 89,559,681
//   resnet32_small   32      6 (32-64)         332,640      0.108     K=10:      342,305
// (spec: ≈5.3 M / 1.71, ≈18.6 M / 2.72, ≈74 M / 10.9; the replica counts the same, see
// tests/data/models/igebm_counts.json.)
// (ResNet32Wider's stem is 128 wide whatever num_filters is, as in the official code, and its
// first block always has the 3×3 skip conv.) resnet32_small is ResNet32's topology at a quarter
// of the width: 16× fewer parameters and FLOPs (0.108 GFLOP per image, so a Langevin step,
// forward + ∇ₓ, on a batch of 64 is ~14 GFLOP of CPU work).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/spectral_norm.h"

namespace ebm::nn {

// One residual block of an IGEBM ResNet.
struct IgebmBlockSpec {
  int64_t in_channels = 0, out_channels = 0;
  bool downsample = false;  // AvgPool 2×2 stride 2 (VALID) after the add
  bool adaptive = false;    // 3×3 SN conv on the skip path (else identity)
};

enum class IgebmHeadAct { Relu, LeakyRelu };

// A fully resolved architecture (what a name plus options stand for).
struct IgebmArch {
  std::string name;
  int64_t in_channels = 3;
  int64_t image_size = 32;
  int64_t num_classes = 0;  // 0: unconditional
  int64_t stem_channels = 0;
  std::vector<IgebmBlockSpec> blocks;
  double dropout = 0.0;  // after conv1 of every block, training mode only
  IgebmHeadAct head_act = IgebmHeadAct::Relu;
  int64_t out_channels() const { return blocks.empty() ? stem_channels : blocks.back().out_channels; }
};

struct IgebmModelOptions {
  int64_t in_channels = 3;   // 1 for (Fashion-)MNIST
  int64_t image_size = 32;   // inputs must be image_size × image_size (>= 8)
  int64_t num_classes = -1;  // -1: the model's default (10 for resnet32, resnet32_wider and
                             // resnet32_small; 0 for resnet32_large); 0: unconditional; K: K classes
  int64_t num_filters = 0;   // 0: the model's default (128, 128, 192, 32)
  double dropout = -1.0;     // < 0: the model's default (0.5 for resnet32_large, else 0)
  // OncePerIteration (official IGEBM): call refresh_spectral_norm() once per training iteration;
  // until the first call, forwards iterate as EveryForward does (nn/spectral_norm.h).
  SpectralNormSchedule sn_schedule = SpectralNormSchedule::OncePerIteration;
  DType dtype = DType::Float32;
  // Draws the dropout masks; null: the model makes its own, seeded from the init generator.
  std::shared_ptr<Generator> dropout_generator;
};

// The names make_igebm_model accepts: resnet32, resnet32_large, resnet32_wider, resnet32_small.
const std::vector<std::string>& igebm_model_names();
// Resolves a name and options (ValueError naming the bad name and listing the valid ones, or
// naming the bad option).
IgebmArch igebm_architecture(const std::string& name, const IgebmModelOptions& options);

// One residual block (see the file comment). Children: conv1, [dropout], conv2, [skip].
class IgebmResBlock : public Module {
 public:
  IgebmResBlock(const IgebmBlockSpec& spec, int64_t num_classes, double dropout, DType dtype,
                Generator& gen, std::shared_ptr<Generator> dropout_gen);
  // x [N, C_in, H, W]; labels int64 [N] (conditional) or undefined.
  Tensor forward(const Tensor& x, const Tensor& labels);
  const IgebmBlockSpec& spec() const { return spec_; }
  Conv2d& conv1() { return *conv1_; }
  Conv2d& conv2() { return *conv2_; }
  Conv2d* skip() { return skip_.get(); }  // null for an identity skip

 private:
  // A per-channel parameter as [N or 1, C, 1, 1]: the label's row, or the vector itself.
  Tensor per_class(const Tensor& p, const Tensor& labels) const;

  IgebmBlockSpec spec_;
  int64_t num_classes_;
  Tensor* gb1_ = nullptr;
  Tensor* gb2_ = nullptr;
  Tensor* g2_ = nullptr;
  Tensor* cb2_ = nullptr;  // conditional only
  std::shared_ptr<Conv2d> conv1_, conv2_, skip_;
  std::shared_ptr<Dropout> dropout_;
};

// An IGEBM energy network: stem, residual blocks, sum-pooled head.
class IgebmResNet : public Module {
 public:
  IgebmResNet(const IgebmArch& arch, Generator& gen, DType dtype = DType::Float32,
              SpectralNormSchedule sn_schedule = SpectralNormSchedule::OncePerIteration,
              std::shared_ptr<Generator> dropout_gen = nullptr);

  // x [N, C, S, S] (float, C = in_channels, S = image_size); labels int64 [N] for a conditional
  // model, undefined for an unconditional one (each is an error the other way). -> E(x) [N].
  Tensor forward(const Tensor& x, const Tensor& labels = Tensor());

  // OncePerIteration: one power iteration on every SN layer (in training mode) and the W/σ that
  // all forwards reuse until the next call. Call once per training iteration, before the
  // positive pass and the Langevin chain; with grad mode on, so the loss reaches weight_orig.
  void refresh_spectral_norm();
  void set_spectral_norm_schedule(SpectralNormSchedule s);

  const IgebmArch& arch() const { return arch_; }
  bool conditional() const { return arch_.num_classes > 0; }
  int64_t num_blocks() const { return static_cast<int64_t>(blocks_.size()); }
  IgebmResBlock& block(int64_t i) { return *blocks_.at(static_cast<size_t>(i)); }
  Conv2d& stem() { return *stem_; }
  Linear& fc() { return *fc_; }
  // Elements of all conv weights (weight_orig): the parameter figure the spec quotes.
  int64_t num_conv_weights();
  Generator& dropout_generator() { return *dropout_gen_; }

 private:
  void check_inputs(const Tensor& x, const Tensor& labels) const;

  IgebmArch arch_;
  std::shared_ptr<Generator> dropout_gen_;
  std::shared_ptr<Conv2d> stem_;
  std::shared_ptr<Module> block_list_;  // "blocks": children "0", "1", ...
  std::vector<std::shared_ptr<IgebmResBlock>> blocks_;
  std::shared_ptr<Linear> fc_;
};

// Builds one of igebm_model_names() with the spec's initialisation, drawn from gen: SN conv
// weights N(0, 1), conv2 of each block N(0, 1e-10²) under the capped SN, gb/cb 0, g 1, fc
// Xavier-uniform with bias 0. The model starts in training mode.
std::shared_ptr<IgebmResNet> make_igebm_model(const std::string& name,
                                              const IgebmModelOptions& options, Generator& gen);

}  // namespace ebm::nn
