// Settings of a classifier_train run: a small pre-activation Wide ResNet (nn/wrn.h with batch
// norm) trained by SGD + Nesterov momentum, weight decay and a cosine learning rate on 32×32
// images (28×28 IDX data zero-padded) scaled to [0, 1] (k/255). Its penultimate features are the
// offline "classifier FID" feature network of ebm_eval (eval/classifier_features.h).
// Defaults: the documented Fashion-MNIST command (README "Evaluation").
#pragma once

#include <cstdint>
#include <string>

#include "apps/common/flags.h"
#include "core/io/json.h"

namespace ebm::app {

struct ClassifierConfig {
  // data
  std::string dataset = "fashion-mnist";
  std::string data_dir;          // empty: the dataset's default location
  bool random_flip = true;       // horizontal flips of the training images
  int64_t limit = 0;             // use only the first N training images (0: all)
  int64_t test_limit = 0;        // use only the first N test images (0: all)
  // model: WRN-depth-widen with base width b (widths b, b·k, 2b·k, 4b·k)
  int64_t depth = 10;
  int64_t widen_factor = 2;
  int64_t base_width = 12;
  // optimisation
  int64_t epochs = 6;
  int64_t batch_size = 128;
  double lr = 0.1;
  double momentum = 0.9;
  double weight_decay = 5e-4;
  int64_t warmup = 200;          // linear warm-up updates, then cosine decay to 0
  // run
  std::string device = "cpu";
  std::string out;               // empty: runs/<exp>
  std::string exp = "classifier";
  std::string resume;            // a run directory to continue
  int64_t seed = 1;
  int64_t log_every = 20;

  void declare(Flags& flags);
  void finalize(const Flags& flags);  // UsageError naming the flag
  std::string out_dir() const { return out.empty() ? "runs/" + exp : out; }
  json::Value to_json() const;
  void from_json(const json::Value& v);  // the run's settings, for --resume
};

}  // namespace ebm::app
