// The FID Inception network: the 2015 TF Inception graph (inception-2015-12-05) as pytorch-fid
// ports it (pytorch_fid/inception.py, fid_inception_v3(); ../shared/specs/formats.md §3.2),
// built from engine ops, with pytorch-fid's / torchvision's state_dict names so the converted
// weight file (scripts/convert_inception_weights.py) loads tensor for tensor.
//
// Differences from torchvision's inception_v3, all reproduced: 1008 classes, no aux logits;
// the pool branches of Mixed_5b-5d (FIDInceptionA), Mixed_6b-6e (FIDInceptionC) and Mixed_7b
// (FIDInceptionE_1) use avg_pool2d(3, 1, 1, count_include_pad=False); Mixed_7c
// (FIDInceptionE_2) uses max_pool2d(3, 1, 1) there. Input: images in [0, 1] resized to 299x299
// bilinear (F.interpolate, align_corners=False, no antialias), then 2x - 1. Feature: the 2048-d
// global average after Mixed_7c ("pool3"); logits: fc(pool3), 1008 classes (IS).
// BasicConv2d = conv (no bias) -> BatchNorm (eps 0.001, eval statistics) -> ReLU; here the
// batch norm is folded into the conv at every forward: w' = w·γ/sqrt(var + eps),
// b' = β - mean·γ/sqrt(var + eps), which equals conv-then-BN up to rounding.
// 1x7 / 7x1 / 1x3 / 3x1 convs with per-dimension padding zero-pad the input explicitly (the
// engine's conv2d pads both dimensions alike).
//
// Names: Conv2d_1a_3x3.conv.weight, Conv2d_1a_3x3.bn.{weight,bias,running_mean,running_var,
// num_batches_tracked}, Mixed_5b.branch1x1.conv.weight, ..., Mixed_7c.branch_pool.bn.*,
// fc.weight [1008, 2048], fc.bias. tests/data/eval/fid_inception_names.json lists every name and
// shape of the full-size network (made by the PyTorch replica tests/reference/fid_inception.py).
//
// width_divisor > 1 divides every channel count (not the 3 input channels, not the classes):
// the same graph with a small random-weight file for the golden tests.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eval/feature_network.h"
#include "nn/module.h"

namespace ebm::nn {
class Linear;
}

namespace ebm::eval {

struct InceptionOptions {
  int64_t width_divisor = 1;    // 1: the real network (23.9 M parameters)
  int64_t num_classes = 1008;
  bool resize_input = true;     // bilinear to 299x299 (pytorch-fid's resize_input)
  bool normalize_input = true;  // [0, 1] -> [-1, 1] (pytorch-fid's normalize_input)
  DType dtype = DType::Float32;  // float64 for CPU reference checks
};

class InceptionBlock;  // defined in inception.cpp

class FidInceptionV3 : public nn::Module, public FeatureNetwork {
 public:
  // Built with placeholder weights (not meaningful); load_weights() fills them.
  explicit FidInceptionV3(const InceptionOptions& options = {});
  ~FidInceptionV3() override;

  // Loads a safetensors file with this network's names (num_batches_tracked entries optional),
  // checked before its data is read: a missing or unexpected name, or a shape or dtype mismatch,
  // throws listing each one. float32 files load into a float64 network too. Records the file's
  // SHA-256 (weights_sha256()).
  void load_weights(const std::string& path);
  // A network with the file's weights on `device`.
  static std::unique_ptr<FidInceptionV3> from_file(const std::string& path,
                                                   const InceptionOptions& options = {},
                                                   Device device = Device::cpu());

  // FeatureNetwork. images: [N, 1 or 3, H, W] in [0, 1] (1 channel is repeated to 3, as
  // pytorch-fid's PIL convert('RGB') does); H, W >= 75 when resize_input is off.
  FeatureOutputs forward(const Tensor& images, bool want_logits) override;
  int64_t feature_dim() const override;   // 2048 / width_divisor
  int64_t num_classes() const override { return options_.num_classes; }
  std::string name() const override { return "pytorch-fid-inception-v3"; }
  std::string description() const override;
  std::string preprocessing() const override;
  std::string weights_sha256() const override { return weights_sha256_; }
  Device device() const override { return nn::Module::device(); }
  void to(Device device) override { nn::Module::to(device); }

  // Named intermediate outputs of one pass, for tests: "input" (after resize and scaling),
  // "Mixed_5d", "Mixed_6e", "Mixed_7c", "pool3" [N, 2048], "logits" [N, 1008].
  std::vector<std::pair<std::string, Tensor>> forward_blocks(const Tensor& images);

  const InceptionOptions& options() const { return options_; }

 private:
  Tensor prepare_input(const Tensor& images) const;
  InceptionOptions options_;
  std::string weights_sha256_;
  std::vector<std::shared_ptr<InceptionBlock>> stem_;  // Conv2d_1a_3x3 ... Conv2d_4a_3x3
  std::vector<std::shared_ptr<InceptionBlock>> mixed_;  // Mixed_5b ... Mixed_7c
  std::shared_ptr<nn::Linear> fc_;
};

}  // namespace ebm::eval
