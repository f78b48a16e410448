// The IGEBM recipe (Du & Mordatch 2019; ../shared/specs/igebm-drl.md §1): per iteration
//   1. a data batch x⁺ (dequantised [0, 1] pixels, labels when conditional);
//   2. one spectral-norm power iteration whose W/σ all forwards of the iteration share (official);
//   3. chain starts from the replay buffer (5 % fresh uniform noise) or noise;
//   4. K Langevin steps (noise, ∇ₓE, clip, step, clamp), the ends pushed into the buffer;
//   5. L = ml(mean E⁺ − mean E⁻) + α(mean E⁺² + mean E⁻²), Adam (β = (0, 0.999), 3σ+0.1 clip).
// Around it, the run directory (config.json, metrics.jsonl, TensorBoard, sample grids,
// checkpoints), resume with every piece of state (bit-identical on the CPU), Ctrl-C, and a
// divergence guard that stops without overwriting the last good checkpoint.
#pragma once

#include <memory>
#include <string>

#include "apps/common/training_loop.h"
#include "apps/igebm/igebm_config.h"
#include "nn/checkpoint.h"
#include "nn/igebm_models.h"
#include "samplers/replay_buffer.h"

namespace ebm::app {

using IgebmOutcome = TrainOutcome;  // last step, diverged / interrupted, message, last loss

IgebmOutcome train_igebm(IgebmConfig config);

// A trained IGEBM loaded for sampling and evaluation (igebm_train --sample, ebm_eval): the
// checkpoint's network in eval mode (no dropout; spectral norm from the stored u/v, one W/σ for
// every forward), the run's settings, and the checkpoint itself (its replay buffer). The image
// shape and class count come from the checkpoint's tensors, so the training data need not exist.
struct IgebmEvalModel {
  IgebmConfig config;            // the run's settings, device replaced by the requested one
  nn::Checkpoint checkpoint;
  std::string path;              // the .safetensors file
  std::shared_ptr<nn::IgebmResNet> model;
  int64_t channels = 0, num_classes = 0, image_size = 32;  // num_classes 0: unconditional
  Device device = Device::cpu();
  // The run's replay buffer as it was saved (size() 0 when it held nothing).
  std::unique_ptr<samplers::ReplayBuffer> replay_buffer() const;
};
// `checkpoint`: a run directory (its checkpoints/latest.safetensors) or a checkpoint file.
IgebmEvalModel load_igebm_eval_model(const std::string& checkpoint, const std::string& device);

// Sampling mode: K Langevin steps from uniform noise with the checkpoint's model; writes
// DIR/samples/sample_step_NNNNNNN.png and DIR/samples_step_NNNNNNN.npz (uint8 NHWC "arr_0").
std::string sample_igebm(IgebmConfig config);

}  // namespace ebm::app
