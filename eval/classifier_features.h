// The offline default feature network of the evaluation: a Wide ResNet classifier trained by the
// engine on the evaluated dataset (apps/classifier_train), whose penultimate features (the pooled
// trunk, 4·b·k channels) give a "classifier FID" that needs no download. Inputs are images in
// [0, 1], [N, C, H, W]: 32×32 as the classifier was trained, or 28×28 (MNIST-format), which is
// zero-padded to 32×32 (centred) exactly as the training data were.
//
// The classifier file is an nn::Checkpoint (safetensors) holding the WideResNet's state_dict under
// PyTorch names and, in the config metadata, the architecture:
//   {"format": "ebm.classifier.v1", "network": "wrn", "depth", "widen_factor", "base_width",
//    "in_channels", "num_classes", "image_size": 32, "input": "...", "dataset", "test_accuracy"}
#pragma once

#include <memory>
#include <string>

#include "core/io/json.h"
#include "eval/feature_network.h"
#include "nn/wrn.h"

namespace ebm::eval {

// The classifier's architecture (the part of the file's config that builds the network).
struct ClassifierArch {
  int64_t depth = 10, widen_factor = 2, base_width = 12;
  int64_t in_channels = 1, num_classes = 10;
  int64_t image_size = 32;

  nn::WrnOptions wrn_options() const;  // batch norm (torch momentum 0.1), LReLU(0.2), no dropout
  json::Value to_json() const;         // the fields above plus "format", "network", "input"
  static ClassifierArch from_json(const json::Value& v);  // IOError-free: ValueError naming the field
};

constexpr const char* kClassifierFormat = "ebm.classifier.v1";

std::shared_ptr<nn::WideResNet> make_classifier(const ClassifierArch& arch, Generator& gen);

// Images [N, C, 28|32, 28|32] in [0, 1] as the classifier's [N, C, 32, 32] input (a 28×28 image
// is zero-padded by 2 on every side, as data/dataset.h pads IDX data). Other sizes or channel
// counts: ShapeError naming the expected ones.
Tensor classifier_input(const Tensor& images, const ClassifierArch& arch);

// The FeatureNetwork over a classifier file: features = the pooled penultimate layer
// [N, 4·b·k], logits = its head [N, classes]; eval mode (batch-norm running statistics), no graph.
class ClassifierFeatures : public FeatureNetwork {
 public:
  // Loads a file written by classifier_train (IOError / ValueError naming it and the problem).
  static std::unique_ptr<ClassifierFeatures> from_file(const std::string& path, Device device = Device::cpu());
  // A network already in memory (tests); weights_sha256 as given (may be empty).
  ClassifierFeatures(std::shared_ptr<nn::WideResNet> model, const ClassifierArch& arch,
                     std::string weights_sha256, json::Value info = json::Value::object());

  FeatureOutputs forward(const Tensor& images, bool want_logits) override;
  int64_t feature_dim() const override { return model_->last_dim(); }
  int64_t num_classes() const override { return arch_.num_classes; }
  std::string name() const override { return "classifier-wrn"; }
  std::string description() const override;
  std::string preprocessing() const override;
  std::string weights_sha256() const override { return sha256_; }
  Device device() const override { return model_->device(); }
  void to(Device device) override { model_->to(device); }

  const ClassifierArch& arch() const { return arch_; }
  // The file's metadata: dataset, test_accuracy, training settings (empty object for in-memory).
  const json::Value& info() const { return info_; }

 private:
  std::shared_ptr<nn::WideResNet> model_;
  ClassifierArch arch_;
  std::string sha256_;
  json::Value info_;
};

}  // namespace ebm::eval
