// The interface of a feature network for sample-quality metrics (issue 7): something that maps a
// batch of images in [0, 1] to a feature vector per image (FID, KID: Inception's 2048-d pool3,
// or the penultimate layer of the offline classifier) and, optionally, class logits (Inception
// Score: the FID Inception's 1008 logits; the classifier's own classes). eval/metrics.h consumes
// what it returns; eval.json records name(), description(), preprocessing() and
// weights_sha256(), so a number always states the network and the exact weights behind it.
//
// Implementations: eval/inception.h (FidInceptionV3, pytorch-fid's port of the 2015 TF graph)
// and the offline classifier of the ebm_eval app.
#pragma once

#include <cstdint>
#include <string>

#include "core/tensor.h"

namespace ebm::eval {

// What one pass returns. Both on the network's device(), float32 (or the network's dtype).
struct FeatureOutputs {
  Tensor features;  // [N, feature_dim()]
  Tensor logits;    // [N, num_classes()] when asked for (want_logits), else undefined
};

class FeatureNetwork {
 public:
  virtual ~FeatureNetwork() = default;

  // images: float [N, C, H, W] with values in [0, 1], on any device (moved to device() first).
  // Which C and H×W a network accepts is its own contract (FidInceptionV3: C = 1 or 3, any size,
  // resized to 299×299); a mismatch is a ShapeError naming the network. Runs in eval mode with
  // no autograd recording. want_logits = false lets a network skip its classifier head.
  virtual FeatureOutputs forward(const Tensor& images, bool want_logits) = 0;

  // Conveniences over forward().
  Tensor features(const Tensor& images) { return forward(images, false).features; }
  Tensor logits(const Tensor& images) { return forward(images, true).logits; }

  virtual int64_t feature_dim() const = 0;
  virtual int64_t num_classes() const = 0;  // 0 when the network has no classifier head

  // Short identifier, e.g. "pytorch-fid-inception-v3" or "classifier-wrn".
  virtual std::string name() const = 0;
  // One line for the protocol record: architecture, feature layer, class count.
  virtual std::string description() const = 0;
  // What is done to the images before the first layer, e.g. "bilinear resize to 299x299
  // (align_corners=False, no antialias), then 2x-1"; "none" when nothing.
  virtual std::string preprocessing() const = 0;
  // Lower-case hex SHA-256 of the weights file the network was loaded from (core/io/sha256.h);
  // empty when its weights did not come from a file (e.g. random weights in a test).
  virtual std::string weights_sha256() const = 0;

  virtual Device device() const = 0;
  virtual void to(Device device) = 0;
};

}  // namespace ebm::eval
