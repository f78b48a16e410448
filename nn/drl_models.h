// DRL's energy network `net_res_temb2` (Gao et al., "Learning Energy-Based Models by Diffusion
// Recovery Likelihood", ICLR 2021; ../shared/specs/igebm-drl.md §2.4, official network.py/nn.py)
// and the factory that builds every network the DRL recipe can train by name.
//
// Sign convention (spec §0): the network returns f(y, t) = -energy, high = data-like; the
// recipe's conditional density is exp(f(y, t)/s_t² - tether). JEM's networks (nn/wrn.h) share it.
//
// net_res_temb2 (ch = 128, ch_mult = (1, 2, 2, 2), LReLU slope 0.2 everywhere):
//   temb  = temb_dense_1(LReLU(temb_dense_0(sinusoid(t, ch))))     ch -> 4ch -> 4ch, both SN
//   h     = conv_in(y)                                             3x3, SN
//   per level l (width ch·mult[l]): num_res_blocks × DrlResBlock, then AvgPool 2x2 (not after
//   the last level). DrlResBlock(x):
//     h = conv1(LReLU(x)) + temb_proj(LReLU(temb))                3x3 SN; 4ch -> C SN (broadcast)
//     h = dropout(LReLU(h)); h = conv2(h) · g                      3x3, capped SN, init ≈ 0; g = 1
//     out = conv_shortcut(x) + h                                   3x3 SN when C_in != C_out, else x
//   f     = Σ_c [Σ_hw ReLU(h)]_c · temb_dense_2(LReLU(temb))_c      4ch -> C_last, no SN
// Init: variance scaling (1, fan_avg, uniform) = Glorot uniform for every weight, scale 1e-10 for
// conv2, biases 0, g = 1. Spectral norm on every conv and dense except temb_dense_2; conv2 uses
// the capped form W/(σ+1e-6)·min(σ+1e-6, 1). Schedule: EveryForward by default (DRL runs one
// power iteration on every training-mode forward; eval-mode forwards use the stored u, v). u and
// v start as normalised N(0, 1) draws (torch's rule; TF's truncated-N(0, 0.02²) u differs only in
// length, which the first iteration removes). Not built: the reference's normalisation (off by
// default), attention (off), and fc_out (declared there, never called).
//
// Parameter names (PyTorch replica tests/reference/drl_models.py, same names and order):
//   temb_dense_{0,1}.{bias,weight_orig,weight_u,weight_v}, temb_dense_2.{weight,bias},
//   conv_in.*, levels.<l>.<b>.{g, conv1.*, temb_proj.*, conv2.*, conv_shortcut.*}
//
// Sizes, 32x32 input (forward FLOPs = 2 × multiply-adds of convs and denses, nn/flops.h):
//   "net_res_temb2"        num_res_blocks 2 (flag default): 9 056 256 params, 2.803 GFLOP
//                          num_res_blocks 8 (README CIFAR-10): 34 833 408 params, 11.189 GFLOP
//   "net_res_temb2_small"  ch 16, ch_mult (1, 2, 2), 1 block per level: 54 720 params,
//                          22.1 MFLOP (CPU runs and tests)
//   "wrn28_10", "wrn_small": nn/wrn.h.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "nn/embedding.h"
#include "nn/layers.h"
#include "nn/module.h"
#include "nn/spectral_norm.h"

namespace ebm::nn {

// A network the DRL recipe can train: f(y, t) = -energy with y [N, C, H, W] (float) and the
// per-example noise level t (int64 [N], values in [0, num_timesteps)) -> f [N].
class DrlNet : public Module {
 public:
  using Module::Module;
  virtual Tensor forward(const Tensor& y, const Tensor& t) = 0;
  virtual int64_t num_timesteps() const = 0;
};

struct NetResTemb2Options {
  int64_t in_channels = 3;
  int64_t ch = 128;
  std::vector<int64_t> ch_mult{1, 2, 2, 2};  // 32x32; 64: (1,2,2,2,4); 128: (1,2,2,2,4,4)
  int64_t num_res_blocks = 2;                // config.py default; README CIFAR-10: 8
  int64_t num_timesteps = 6;                 // T: t ranges over [0, T)
  double dropout = 0.0;                      // after the second LReLU of each block
  bool spectral_norm = true;
  SpectralNormSchedule sn_schedule = SpectralNormSchedule::EveryForward;
  // The official Keras SN iterates on every call, eval mode included (false: PyTorch's eval,
  // σ from the stored u, v, as the replica in tests/reference).
  bool sn_iterate_in_eval = true;
  // Dropout masks are drawn from this generator; null: one derived from the init generator.
  std::shared_ptr<Generator> dropout_generator;
  DType dtype = DType::Float32;
};

class DrlResBlock : public Module {
 public:
  DrlResBlock(int64_t c_in, int64_t c_out, int64_t temb_dim, const NetResTemb2Options& o,
              const std::shared_ptr<Generator>& dropout_gen, Generator& gen);
  // x [N, c_in, H, W], temb_act = LReLU(temb) [N, temb_dim] -> [N, c_out, H, W].
  Tensor forward(const Tensor& x, const Tensor& temb_act);

 private:
  Tensor* g_;
  std::shared_ptr<Conv2d> conv1_, conv2_, conv_shortcut_;
  std::shared_ptr<Linear> temb_proj_;
  std::shared_ptr<Dropout> dropout_;
};

class NetResTemb2 : public DrlNet {
 public:
  NetResTemb2(const NetResTemb2Options& o, Generator& gen);
  // y [N, in_channels, H, W] with H, W divisible by 2^(levels-1); t int64 [N] -> f [N].
  Tensor forward(const Tensor& y, const Tensor& t) override;
  int64_t num_timesteps() const override { return o_.num_timesteps; }
  const NetResTemb2Options& options() const { return o_; }

 private:
  NetResTemb2Options o_;
  std::shared_ptr<TimestepEmbedding> temb_;
  std::shared_ptr<Linear> temb_dense_0_, temb_dense_1_, temb_dense_2_;
  std::shared_ptr<Conv2d> conv_in_;
  std::vector<std::vector<std::shared_ptr<DrlResBlock>>> levels_;
};

enum class WrnNorm { None, Batch };

// The size flags of make_drl_model; 0 (or empty) keeps the named preset's value.
struct DrlModelOptions {
  int64_t ch = 0;                 // net_res_temb2*: base width (128; small 16)
  std::vector<int64_t> ch_mult;   // net_res_temb2*: ((1,2,2,2); small (1,2,2))
  int64_t num_res_blocks = 0;     // net_res_temb2*: blocks per level (2, README 8; small 1)
  int64_t depth = 0;              // wrn*: 6n+4 (28; small 10)
  int64_t widen_factor = 0;       // wrn*: (10; small 1)
  WrnNorm norm = WrnNorm::None;   // wrn*: the DRL port trains without norm
  int64_t in_channels = 3;
  int64_t num_timesteps = 6;
  double dropout = 0.0;
  SpectralNormSchedule sn_schedule = SpectralNormSchedule::EveryForward;  // net_res_temb2*
  bool sn_iterate_in_eval = true;                                         // net_res_temb2*
  std::shared_ptr<Generator> dropout_generator;
  DType dtype = DType::Float32;
};

// The names make_drl_model accepts: net_res_temb2, net_res_temb2_small, wrn28_10, wrn_small.
const std::vector<std::string>& drl_model_names();
// Builds a named network with the options' size flags, initialised from gen. An unknown name
// throws ValueError naming it and listing the valid ones.
std::shared_ptr<DrlNet> make_drl_model(const std::string& name, const DrlModelOptions& options,
                                       Generator& gen);
// The NetResTemb2Options a net_res_temb2* name and size flags resolve to (for tests and logs).
NetResTemb2Options net_res_temb2_options(const std::string& name, const DrlModelOptions& options);

// A generator for dropout masks derived from gen's current state (advances gen by one block),
// so a model's dropout stream follows from its init seed without reusing init draws.
std::shared_ptr<Generator> derived_generator(Generator& gen);

}  // namespace ebm::nn
