// Minibatches from a Dataset: a seeded, resumable epoch shuffle (drop_last, as the papers'
// loaders), and the per-batch transform to float pixels on a device:
//   x = k/256 + U(0, 1/256)        IGEBM's CIFAR pipeline (×255/256, then dequantisation noise)
//   x = k/255                       plain ToTensor (the PyTorch port; evaluation)
//   x = k/127.5 - 1                 DRL's [-1, 1]
// optionally with a random horizontal flip per image. All randomness comes from Philox streams
// keyed by (seed, epoch) / (seed, batch counter), so the same state gives the same batches on any
// machine, and saving (epoch, position) resumes the exact sequence.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"

namespace ebm::data {

class EpochSampler {
 public:
  struct State {
    uint64_t seed = 0;
    int64_t epoch = 0, position = 0;  // next index into the epoch's permutation
  };
  EpochSampler(int64_t dataset_size, int64_t batch_size, uint64_t seed);
  // The next batch's dataset indices; a new epoch starts (reshuffled) when fewer than
  // batch_size remain.
  std::vector<int64_t> next();
  State state() const { return state_; }
  void set_state(const State& s);
  int64_t batches_per_epoch() const { return n_ / batch_; }

 private:
  void shuffle();
  int64_t n_, batch_;
  State state_;
  std::vector<int64_t> perm_;
};

// The permutation of 0..n-1 for (seed, epoch): Fisher–Yates over a Philox stream.
std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch);

enum class PixelScale { Dequantized256, Unit255, Symmetric };

struct BatchTransform {
  PixelScale scale = PixelScale::Dequantized256;
  bool random_flip = false;
};

struct Batch {
  Tensor images;  // float32 [B, C, H, W] on the requested device
  Tensor labels;  // int64 [B] on the device, undefined when the dataset has none
};

// Builds the batch of `indices`; noise and flips are drawn from the stream (seed, counter), so
// one counter value per batch gives reproducible batches.
Batch make_batch(const Dataset& d, const std::vector<int64_t>& indices, const BatchTransform& t,
                 uint64_t seed, uint64_t counter, Device device);

// The range [lo, hi] of the pixels a scale produces (for sample grids and clamps).
std::pair<double, double> pixel_range(PixelScale s);

}  // namespace ebm::data
