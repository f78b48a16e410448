// Settings of a DRL run (Gao et al., ICLR 2021; ../shared/specs/igebm-drl.md §2.9): flag names
// follow the official config.py where it has them (n_batch_train, lr, beta_1, warmup,
// cosine_decay, grad_clip, num_res_blocks, num_diffusion_timesteps, mcmc_num_steps,
// mcmc_step_size_b_square, noise_scale, ma_decay, randflip, dropout, spec_norm, resume_iter);
// the PyTorch port's options (WRN-28-10 backbone, coupled weight decay, no EMA) are flags too, and
// the rest are ours (dataset, data-dir and the shared RunOptions: device, out, iters, seed, ...). Defaults are the README
// CIFAR-10 command's (batch 256, 8 blocks per level); the README main job overrides them for a
// CPU run on Fashion-MNIST.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "apps/common/flags.h"
#include "apps/common/run_options.h"
#include "core/io/json.h"

namespace ebm::app {

struct DrlConfig : RunOptions {
  // data
  std::string dataset = "cifar10";
  std::string data_dir;            // empty: the dataset's default location
  bool randflip = true;            // random horizontal flips
  // model
  std::string model = "net_res_temb2";  // net_res_temb2 | net_res_temb2_small | wrn28_10 | wrn_small
  int64_t ch = 0;                  // net_res_temb2*: base width (0: the model's, 128 / small 16)
  std::string ch_mult;             // net_res_temb2*: "1,2,2,2" (empty: the model's)
  int64_t num_res_blocks = 8;      // net_res_temb2*: README CIFAR-10 (config.py default 2)
  int64_t depth = 0, widen_factor = 0;  // wrn*: 0 keeps the preset (28x10; small 10x1)
  double dropout = 0.0;
  bool spec_norm = true;           // accepted for compatibility: net_res_temb2 always has SN
  // diffusion and sampler
  int64_t num_diffusion_timesteps = 6;   // T
  int64_t mcmc_num_steps = 30;           // K
  double mcmc_step_size_b_square = 2e-4;  // b²
  double noise_scale = 1.0;              // λ during training (and in-training sample grids)
  // optimiser
  int64_t n_batch_train = 256;
  double lr = 1e-4;
  double beta_1 = 0.9;
  int64_t warmup = 1000;
  bool cosine_decay = false;       // cosine to 0 over --iters after the warm-up
  bool grad_clip = false;          // global-norm clip at 1 (1/num_devices on one device)
  double weight_decay = 0.0;       // the port's coupled L2 (5e-4); official 0
  double ma_decay = 0.999;         // EMA decay (TF form)
  bool ema = true;                 // false: no EMA (the port), grids from the trained network
  bool ema_warmup = false;         // TF's num_updates warm-up of the decay (short runs)
  int64_t ema_sync_every = 5000;   // copy the EMA into the sampling network every N iterations
  // run (device, out, exp, resume, iters, seed, cadence, limit, sample, num_samples: RunOptions)
  int64_t grid_samples = 64;       // images in the in-training sample grids
  // Divergence: loss NaN/inf or |loss| > loss_bound (the PyTorch port's rule; the official code
  // stops only below -1e6, by which time a run's recent checkpoints are long spoiled).
  double loss_bound = 1000;
  // sampling mode
  int64_t sample_batch = 256;      // images per progressive-sampling batch (fid_n_batch)
  double sample_noise_scale = 0.99;  // λ for sampling mode (the official evaluation's)
  std::string sample_from = "ema";   // ema (the averages) | synced (the sampling network) | model

  // n_iters 1e6; grids and checkpoints every 5 000 iterations, as the official code's EMA sync.
  DrlConfig() : RunOptions("drl", 1000000, 5000, 5000) {}
  void declare(Flags& flags);
  // Derived settings and consistency checks (UsageError naming the flags).
  void finalize(const Flags& flags);
  std::vector<int64_t> ch_mult_values() const;  // parsed --ch_mult (empty: the model's)
  json::Value to_json() const;
  // Restores the settings a checkpoint was trained with (for --resume and --sample).
  void from_json(const json::Value& v);
};

}  // namespace ebm::app
