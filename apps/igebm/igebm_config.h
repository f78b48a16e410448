// Settings of an IGEBM run (Du & Mordatch 2019; ../shared/specs/igebm-drl.md §1.8): flag names
// follow the official train.py where it has them (dataset, batch_size, lr, num_steps, step_lr,
// proj_norm, noise_scale, replay_batch, cclass, large_model, wider_model, l2_coeff, ml_coeff,
// swish_act, exp, resume_iter), the rest are ours (data-dir and the shared RunOptions: device,
// out, iters, ...).
// Defaults are the README CIFAR-10 command's; the README main job overrides a few for a
// 10-minute CPU run on Fashion-MNIST.
#pragma once

#include <cstdint>
#include <string>

#include "apps/common/flags.h"
#include "apps/common/run_options.h"
#include "core/io/json.h"

namespace ebm::app {

struct IgebmConfig : RunOptions {
  // data
  std::string dataset = "cifar10";
  std::string data_dir;          // empty: the dataset's default location
  bool dequantize = true;        // x·255/256 + U(0, 1/256) (official); false: x/255 (port)
  bool random_flip = false;
  // model
  std::string model = "resnet32";  // resnet32 | resnet32_large | resnet32_wider | resnet32_small
  bool large_model = false;        // official switches, mapped onto --model
  bool wider_model = false;
  bool cclass = false;             // class-conditional
  int64_t num_filters = 0;         // 0: the model's default
  bool swish_act = false;          // accepted for compatibility: no effect on these models (spec)
  std::string sn_schedule = "iteration";  // iteration (official) | forward (rosinality port, DRL)
  // sampler
  int64_t num_steps = 60;
  double step_lr = 10.0;
  double proj_norm = 0.01;
  double noise_scale = 1.0;      // noise std = 0.005 · noise_scale
  bool replay_batch = true;
  int64_t buffer_size = 10000;
  double reinit = 0.05;
  std::string buffer_storage = "uint8";  // uint8 (official) | float
  // loss and optimiser
  int64_t batch_size = 128;
  double lr = 3e-4;
  double l2_coeff = 1.0;
  double ml_coeff = 1.0;
  std::string adam_clip = "official";  // official | port | none
  // run (device, out, exp, resume, iters, seed, cadence, limit, sample, num_samples: RunOptions)
  double energy_bound = 1e4;     // divergence guard on |mean E|
  int64_t sample_steps = 0;      // sampling mode: Langevin steps (0: num_steps)
  bool cuda_graph = false;       // replay the K-step chain as a CUDA graph (cuda devices only)

  IgebmConfig() : RunOptions("igebm", 100000, 500, 1000) {}
  void declare(Flags& flags);
  // Derived settings and consistency checks (UsageError naming the flags).
  void finalize(const Flags& flags);
  double noise_std() const { return 0.005 * noise_scale; }
  json::Value to_json() const;
  // Restores the settings a checkpoint was trained with (for --resume and --sample).
  void from_json(const json::Value& v);
};

}  // namespace ebm::app
