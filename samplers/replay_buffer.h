// The replay buffer of IGEBM (../shared/specs/igebm-drl.md §1.5): a ring of past chain ends,
// sampled uniformly with replacement; each drawn slot is replaced by fresh uniform noise with
// probability `reinit` (official: keep when U(0, 1) > 0.05). Storage is uint8 as in the
// official code (write q = floor(255·clamp(x, lo, hi) mapped to [0, 1]); read q/256 + U(0, 1/256),
// mapped back) or float32 (exact). Optional labels are stored with the images (the PyTorch
// port); the official code stores none and re-labels negatives with the batch's labels.
// Host memory; batches are built on the host and uploaded once. All draws come from the
// Generator, so a run resumed from a checkpoint (state() / load_state()) continues identically.
#pragma once

#include <cstdint>
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace ebm::samplers {

enum class BufferStorage { UInt8, Float32 };

struct ReplayBufferOptions {
  int64_t capacity = 10000;
  BufferStorage storage = BufferStorage::UInt8;
  bool labels = false;
  double lo = 0.0, hi = 1.0;  // the pixel range of the chains (fresh noise is U(lo, hi))
};

struct ReplaySample {
  Tensor images;      // float32 [B, C, H, W] on the device
  Tensor labels;      // int64 [B] (when the buffer stores labels), else undefined
  int64_t fresh = 0;  // how many slots were fresh noise
};

class ReplayBuffer {
 public:
  ReplayBuffer(const ReplayBufferOptions& o, const Shape& image_shape);

  // Appends the batch (x [B, C, H, W] on any device), overwriting the oldest when full.
  void push(const Tensor& x, const Tensor& labels = Tensor());
  int64_t size() const { return size_; }
  int64_t capacity() const { return o_.capacity; }

  // B chain starts: when the buffer holds more than B images, each slot is a uniform draw from
  // it, replaced by fresh noise with probability `reinit`; otherwise all slots are fresh noise
  // (the official schedule). Fresh slots get labels drawn uniformly from [0, num_classes) when
  // the buffer stores labels.
  ReplaySample sample(int64_t batch, double reinit, Generator& gen, Device device,
                      int64_t num_classes = 0) const;

  // Checkpoint state: "images" (uint8 values as float32 or float32) [capacity, C, H, W] rows
  // 0..size-1 valid, "labels" int64 [capacity] (if stored), "meta" int64 [2] = {size, next}.
  std::vector<std::pair<std::string, Tensor>> state() const;
  void load_state(const std::vector<std::pair<std::string, Tensor>>& state);

 private:
  ReplayBufferOptions o_;
  Shape image_shape_;
  int64_t per_ = 0;  // elements per image
  std::vector<uint8_t> q_;
  std::vector<float> f_;
  std::vector<int64_t> labels_;
  int64_t size_ = 0, next_ = 0;
};

}  // namespace ebm::samplers
