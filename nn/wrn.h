// Wide ResNet (Zagoruyko & Komodakis 2016) as JEM builds it (Grathwohl et al., ICLR 2020,
// wideresnet.py; ../shared/specs/gebm-jem-mebm.md §2.3), with the optional time embedding of the
// DRL PyTorch port (sndnyang, models/wideresnet_te.py; igebm-drl.md §2.13).
//
// Trunk (depth = 6n+4, widths [b, b·k, 2b·k, 4b·k] with b = 16, k = widen_factor):
//   conv1 3x3 (in -> b); layer1..3 = n × wide_basic each, the first with stride 1 / 2 / 2;
//   head: bn1 -> LReLU(0.2) -> avg_pool2d(8) -> flatten (needs a 32x32 input: final map 8x8).
// wide_basic(x), pre-activation, stride on the second conv, shortcut on the raw x:
//   h = conv1(LReLU(bn1(x)))                       3x3, stride 1
//   h = h + LReLU(temb_dense(temb))                time-conditioned only (the port), broadcast
//   h = dropout(h)                                  when dropout > 0
//   h = conv2(LReLU(bn2(h)))                       3x3, stride s
//   return h + shortcut(x)                         shortcut.0 = Conv1x1(stride s) when s != 1 or
//                                                  C_in != C_out, else identity
// bn* exist only with norm = Batch (torch BatchNorm2d, momentum 0.9 as JEM/M-EBM build it).
// Every conv and linear has a bias and PyTorch's default init (JEM never calls its conv_init).
//
// Two uses:
//   WideResNet with time_embedding (DRL port): temb = temb_dense_1(LReLU(temb_dense_0(
//     sinusoid(t, 128)))) (128 -> 512 -> 512, no SN); forward(x, t) = f [N] =
//     Σ_c pooled_c · temb_dense_2(LReLU(temb))_c (the port returns the product and sums it in
//     RecoveryLikelihood). f = -energy, as in DRL.
//   WideResNet without it: forward(x, undefined) = linear(pooled) = logits [N, K] (the port's
//     logits=True). JEM itself wraps the trunk as class F (JemWrn below): f = trunk, logits from
//     class_output, f(x) = logsumexp(logits) = -E(x); JEM's `f.linear` stays, unused.
//
// Names (PyTorch state_dict, as JEM / the port): conv1.*, layer1.0.bn1.*, layer1.0.conv1.*,
// layer1.0.bn2.*, layer1.0.conv2.*, layer1.0.temb_dense.*, layer1.0.shortcut.0.*, ..., bn1.*,
// linear.*, temb_dense_{0,1,2}.*; JemWrn: f.<trunk>, energy_output.*, class_output.*.
//
// Sizes, 32x32 input (FLOPs = 2 × multiply-adds of convs and linears, nn/flops.h):
//   WRN-28-10 JEM (JemWrn, no norm)      36 478 389 params (trunk 36 464 928 + heads 7 051 +
//                                        unused f.linear 6 410; spec §2.3), 11.902 GFLOP
//   WRN-28-10 JEM, norm batch            36 496 341 (BN adds 17 952)
//   "wrn28_10" (DRL port, time-embedded) 39 426 602 params, 11.908 GFLOP
//   wrn_small: depth 10, widen 1, base width 8 (8/8/16/32), temb 32 -> 64 -> 64:
//     JemWrn 20 149 params, 10.0 MFLOP; time-embedded WideResNet 31 778 params, 10.0 MFLOP
#pragma once

#include <memory>

#include "nn/batch_norm.h"
#include "nn/drl_models.h"

namespace ebm::nn {

struct WrnOptions {
  int64_t depth = 28;          // 6n + 4
  int64_t widen_factor = 10;
  int64_t num_classes = 10;    // `linear` (and JemWrn's class_output)
  int64_t in_channels = 3;
  int64_t base_width = 16;     // JEM hard-codes 16; the small configuration uses 8
  WrnNorm norm = WrnNorm::None;
  double bn_momentum = 0.9;    // torch semantics: running = 0.1·running + 0.9·batch
  double leak = 0.2;
  double dropout = 0.0;
  bool time_embedding = false;
  int64_t num_timesteps = 6;   // T of the embedding table
  int64_t temb_ch = 128;       // sinusoid width
  int64_t temb_hidden = 512;   // temb_dense_0/1 width
  std::shared_ptr<Generator> dropout_generator;  // null: derived from the init generator
  DType dtype = DType::Float32;
};

// depth 10, widen 1, base width 8, temb 32 -> 64 (the fast CPU / test configuration).
WrnOptions wrn_small_options();

class WideBasic : public Module {
 public:
  WideBasic(int64_t c_in, int64_t c_out, int stride, const WrnOptions& o,
            const std::shared_ptr<Generator>& dropout_gen, Generator& gen);
  // x [N, c_in, H, W], temb [N, temb_hidden] or undefined -> [N, c_out, H/stride, W/stride].
  Tensor forward(const Tensor& x, const Tensor& temb);

 private:
  double leak_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<Conv2d> conv1_, conv2_, shortcut_;
  std::shared_ptr<Dropout> dropout_;
  std::shared_ptr<Linear> temb_dense_;
};

class WideResNet : public DrlNet {
 public:
  WideResNet(const WrnOptions& o, Generator& gen);
  // x [N, in_channels, 32, 32]; t int64 [N] when time-conditioned, else undefined.
  //   -> time-conditioned: f [N] (= -energy); otherwise logits [N, num_classes].
  Tensor forward(const Tensor& x, const Tensor& t) override;
  // The pooled trunk features [N, C_last]; × temb_dense_2(LReLU(temb)) when time-conditioned.
  Tensor features(const Tensor& x, const Tensor& t = Tensor());
  int64_t num_timesteps() const override { return o_.num_timesteps; }
  int64_t last_dim() const { return last_dim_; }
  const WrnOptions& options() const { return o_; }

 private:
  WrnOptions o_;
  int64_t last_dim_ = 0;
  std::shared_ptr<Conv2d> conv1_;
  std::vector<std::shared_ptr<WideBasic>> blocks_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::shared_ptr<Linear> linear_, temb_dense_0_, temb_dense_1_, temb_dense_2_;
  std::shared_ptr<TimestepEmbedding> temb_;
};

// JEM's model (class F of train_wrn_ebm.py): f = WideResNet trunk (no time embedding),
// energy_output Linear(C, 1), class_output Linear(C, K).
class JemWrn : public Module {
 public:
  JemWrn(const WrnOptions& o, Generator& gen);
  Tensor forward(const Tensor& x);   // logits [N, K] = class_output(features)
  Tensor energy(const Tensor& x);    // E(x) = -logsumexp(logits) [N] (JEM's f(x) = -E(x))
  Tensor uncond_f(const Tensor& x);  // energy_output(features) [N]: M-EBM's --uncond f = -E
  WideResNet& trunk() { return *f_; }

 private:
  std::shared_ptr<WideResNet> f_;
  std::shared_ptr<Linear> energy_output_, class_output_;
};

// E = -logsumexp over classes: logits [N, K] -> [N].
Tensor energy_from_logits(const Tensor& logits);

}  // namespace ebm::nn
