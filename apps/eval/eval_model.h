// What ebm_eval needs from a trained model of any recipe: draw samples with stated sampler
// settings (from noise or from the replay buffer saved in the checkpoint), energies for OOD
// detection, and a JSON record of the checkpoint and the sampler. load_eval_model reads the
// checkpoint's config ("app") and picks the recipe: igebm_train (apps/igebm's
// load_igebm_eval_model) or drl_train (apps/drl's load_drl_eval_model); others are refused
// with an error naming the file and the known recipes.
#pragma once

#include <memory>
#include <string>

#include "core/io/image_grid.h"
#include "core/io/json.h"
#include "core/random.h"
#include "core/tensor.h"
#include "data/batches.h"

namespace ebm::app {

// Sampler settings from the command line; a negative value keeps the checkpoint's setting.
struct SamplerRequest {
  std::string init = "noise";   // noise | buffer
  int64_t steps = -1;           // Langevin steps (0: the chain's starting points as they are)
  double step_lr = -1;
  double grad_clip = -1;        // IGEBM's proj_norm
  double noise_scale = -1;      // IGEBM: noise std = 0.005 · noise_scale
  std::string ema = "auto";     // auto | on | off
};

class EvalModel {
 public:
  virtual ~EvalModel() = default;
  virtual std::string recipe() const = 0;      // "igebm", "drl"
  // Checkpoint path, its SHA-256, step, model name, training dataset and data directory.
  virtual json::Value info() const = 0;
  // The sampler as it will run (every setting resolved), EMA on/off included.
  virtual json::Value sampler_settings() const = 0;
  virtual bool ema() const = 0;
  virtual int64_t channels() const = 0;
  virtual int64_t image_size() const = 0;
  virtual std::string dataset() const = 0;     // the training data's name and directory
  virtual std::string data_dir() const = 0;
  // The range of the samples (IGEBM: [0, 1], DRL: [-1, 1]) and the transform it was trained on.
  virtual std::pair<double, double> pixel_range() const = 0;
  virtual data::PixelScale data_scale() const = 0;
  // How samples become uint8 (IGEBM: rounded; DRL: truncated as the official export).
  virtual io::Quantize quantize() const = 0;
  // Samples first_index ... first_index + n - 1 (a conditional model gets labels i mod K):
  // [n, C, S, S] on the model's device, in pixel_range().
  virtual Tensor sample(int64_t first_index, int64_t n, Generator& gen) = 0;
  // E(x) [N] (CPU) for data-scale images x [N, C, S, S]; a conditional IGEBM gives the
  // class-marginal energy -logsumexp_y(-E(x, y)), DRL the level-0 network's -f(a'_0 x, 0).
  virtual Tensor energy(const Tensor& x) = 0;
  virtual Device device() const = 0;
};

// `checkpoint`: a run directory or a checkpoint file. IOError / ValueError naming the file and
// the problem (also for sampler settings the recipe cannot honour).
std::unique_ptr<EvalModel> load_eval_model(const std::string& checkpoint, const SamplerRequest& sampler,
                                           const std::string& device);

}  // namespace ebm::app
