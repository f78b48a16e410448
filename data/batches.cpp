// Epoch shuffling and batch transforms (see batches.h).
#include "data/batches.h"

#include <numeric>

#include "core/common.h"
#include "core/philox.h"

namespace ebm::data {

namespace {

// Stream words are indexed by (domain, a, i) packed into one 64-bit word index: 2^24 domains
// × 2^40 words each, plenty for epochs × dataset sizes and batches × pixels.
uint64_t word_index(uint64_t domain, uint64_t a, uint64_t i) { return (domain << 60) | (a << 36) | i; }
constexpr uint64_t kShuffleDomain = 1, kBatchDomain = 2;

// Uniform integer in [0, k) from one 32-bit word (bias below k / 2^32).
int64_t below(uint32_t w, int64_t k) {
  return static_cast<int64_t>((static_cast<uint64_t>(w) * static_cast<uint64_t>(k)) >> 32);
}

}  // namespace

std::vector<int64_t> epoch_permutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), 0);
  for (int64_t i = n - 1; i > 0; --i) {
    uint32_t w = philox::word(seed, word_index(kShuffleDomain, static_cast<uint64_t>(epoch) & 0xffffff,
                                               static_cast<uint64_t>(i)));
    std::swap(p[i], p[below(w, i + 1)]);
  }
  return p;
}

EpochSampler::EpochSampler(int64_t dataset_size, int64_t batch_size, uint64_t seed)
    : n_(dataset_size), batch_(batch_size) {
  EBM_CHECK(batch_size > 0 && dataset_size >= batch_size, ValueError,
            "batches: the batch size (", batch_size, ") must be in 1..", dataset_size,
            " (the dataset size)");
  state_.seed = seed;
  shuffle();
}

void EpochSampler::shuffle() { perm_ = epoch_permutation(n_, state_.seed, state_.epoch); }

void EpochSampler::set_state(const State& s) {
  EBM_CHECK(s.epoch >= 0 && s.position >= 0 && s.position <= n_, ValueError,
            "batches: invalid sampler state (epoch ", s.epoch, ", position ", s.position,
            ") for a dataset of ", n_);
  bool reshuffle = s.seed != state_.seed || s.epoch != state_.epoch;
  state_ = s;
  if (reshuffle) shuffle();
}

std::vector<int64_t> EpochSampler::next() {
  if (state_.position + batch_ > n_) {
    ++state_.epoch;
    state_.position = 0;
    shuffle();
  }
  std::vector<int64_t> out(perm_.begin() + state_.position, perm_.begin() + state_.position + batch_);
  state_.position += batch_;
  return out;
}

std::pair<double, double> pixel_range(PixelScale s) {
  return s == PixelScale::Symmetric ? std::pair{-1.0, 1.0} : std::pair{0.0, 1.0};
}

Batch make_batch(const Dataset& d, const std::vector<int64_t>& indices, const BatchTransform& t,
                 uint64_t seed, uint64_t counter, Device device) {
  int64_t b = static_cast<int64_t>(indices.size()), per = d.image_bytes();
  int64_t h = d.height, w = d.width;
  std::vector<float> x(static_cast<size_t>(b * per));
  std::vector<int64_t> labels;
  uint64_t stream = 0;  // next word of this batch's stream
  auto next_word = [&] { return philox::word(seed, word_index(kBatchDomain, counter & 0xffffff, stream++)); };
  for (int64_t k = 0; k < b; ++k) {
    int64_t i = indices[k];
    EBM_CHECK(i >= 0 && i < d.count, ValueError, "make_batch: index ", i, " at position ", k,
              " is outside the dataset (", d.count, " images)");
    bool flip = t.random_flip && (next_word() & 1u);
    const uint8_t* src = d.pixels.data() + i * per;
    float* dst = x.data() + k * per;
    for (int64_t c = 0; c < d.channels; ++c)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < w; ++xx) {
          float v = src[(c * h + y) * w + (flip ? w - 1 - xx : xx)];
          float out;
          switch (t.scale) {
            case PixelScale::Dequantized256:
              out = v / 256.0f + philox::to_uniform(next_word()) / 256.0f;
              break;
            case PixelScale::Unit255: out = v / 255.0f; break;
            default: out = v / 127.5f - 1.0f; break;
          }
          dst[(c * h + y) * w + xx] = out;
        }
    if (!d.labels.empty()) labels.push_back(d.labels[i]);
  }
  Batch batch;
  batch.images = Tensor::from_vector(x, Shape{b, d.channels, h, w}).to(device);
  if (!labels.empty()) batch.labels = Tensor::from_vector(labels, Shape{b}).to(device);
  return batch;
}

}  // namespace ebm::data
