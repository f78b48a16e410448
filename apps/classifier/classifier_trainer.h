// classifier_train's recipe: a Wide ResNet classifier (eval/classifier_features.h builds it)
// trained with cross-entropy, SGD + Nesterov momentum, weight decay, linear warm-up and cosine
// decay; test accuracy after every epoch. Around it the run directory of every app (config.json,
// metrics.jsonl, TensorBoard, checkpoints with optimizer and data-order state for --resume,
// Ctrl-C writes a checkpoint). At the end DIR/classifier.safetensors holds the weights alone
// with the architecture and test accuracy in its metadata: the file ebm_eval's
// --feature-net classifier:PATH loads.
#pragma once

#include <string>

#include "apps/classifier/classifier_config.h"

namespace ebm::app {

struct ClassifierOutcome {
  int64_t last_step = 0;
  bool interrupted = false;
  bool diverged = false;
  double test_accuracy = -1;   // of the last evaluation (-1: none yet)
  double seconds = 0;          // wall time of this invocation's training
  std::string model_path;      // DIR/classifier.safetensors once finished
  std::string message;
};

ClassifierOutcome train_classifier(ClassifierConfig config);

}  // namespace ebm::app
