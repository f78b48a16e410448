// The DRL recipe (Gao et al., ICLR 2021; ../shared/specs/igebm-drl.md §2.6), per iteration:
//   1. a data batch x in [−1, 1] with random flips;
//   2. a level t_b ~ U{0..T−1} per example, (x_t, x_{t+1}) from the diffusion;
//   3. K conditional Langevin steps from x_{t+1} at each example's level (samplers/drl.h);
//   4. L = mean_b σ₁/σ_{t+1}·(f(y⁻) − f(a'x_t)), one forward of [y⁺; y⁻];
//   5. Adam (β₁ 0.9, ε 1e-7) with the linear warm-up, then the EMA of all weights and
//      spectral-norm vectors, copied into the sampling network every --ema_sync_every steps.
// Around it, the run directory of every app (config.json, metrics.jsonl with the loss per level,
// TensorBoard, progressive sample grids from the sampling network, checkpoints with the trained
// network, the EMA, the sampling network, Adam and the data position), resume (bit-identical on
// the CPU), Ctrl-C, and the official divergence guard (loss NaN or < −1e6) that stops without
// overwriting the last good checkpoint.
#pragma once

#include <memory>
#include <string>

#include "apps/common/training_loop.h"
#include "apps/drl/drl_config.h"
#include "nn/checkpoint.h"
#include "nn/drl_models.h"

namespace ebm::app {

using DrlOutcome = TrainOutcome;  // last step, diverged / interrupted, message, last loss

DrlOutcome train_drl(DrlConfig config);

// A trained DRL network loaded for sampling (drl_train --sample; later ebm_eval): the chosen
// weights ("ema": the averages; "synced": the sampling network as last synced; "model": the
// trained network) in eval mode (spectral norm from the stored u, v), with the run's settings.
// The image shape comes from the checkpoint, so the training data need not exist.
struct DrlEvalModel {
  DrlConfig config;            // the run's settings, device replaced by the requested one
  nn::Checkpoint checkpoint;
  std::string path;            // the .safetensors file
  std::string weights;
  std::shared_ptr<nn::DrlNet> model;
  int64_t channels = 0, image_size = 32;
  Device device = Device::cpu();
};
// `checkpoint`: a run directory (its checkpoints/latest.safetensors) or a checkpoint file.
DrlEvalModel load_drl_eval_model(const std::string& checkpoint, const std::string& device,
                                 const std::string& weights = "ema");

// Sampling mode (spec §2.8): --num-samples images from N(0, I) through all T levels (K steps
// each, λ = --sample-noise-scale); writes DIR/samples/sample_step_NNNNNNN.png and
// DIR/samples_step_NNNNNNN.npz (uint8 NHWC "arr_0"). Returns the two paths.
std::string sample_drl(DrlConfig config);

}  // namespace ebm::app
