// Replay buffer (see replay_buffer.h).
#include "samplers/replay_buffer.h"

#include <algorithm>
#include <cmath>

#include "core/philox.h"

namespace ebm::samplers {

ReplayBuffer::ReplayBuffer(const ReplayBufferOptions& o, const Shape& image_shape)
    : o_(o), image_shape_(image_shape), per_(image_shape.numel()) {
  EBM_CHECK(o.capacity > 0 && o.hi > o.lo && image_shape.ndim() == 3, ValueError,
            "ReplayBuffer: need capacity > 0, hi > lo and an image shape [C, H, W]; got ",
            o.capacity, ", [", o.lo, ", ", o.hi, "], ", image_shape);
  if (o.storage == BufferStorage::UInt8)
    q_.resize(static_cast<size_t>(o.capacity * per_));
  else
    f_.resize(static_cast<size_t>(o.capacity * per_));
  if (o.labels) labels_.resize(static_cast<size_t>(o.capacity));
}

void ReplayBuffer::push(const Tensor& x, const Tensor& labels) {
  EBM_CHECK(x.defined() && x.dim() == 4 && (Shape{x.size(1), x.size(2), x.size(3)} == image_shape_),
            ShapeError, "ReplayBuffer::push: expected images [B, ", image_shape_, "], got ",
            x.defined() ? x.description() : std::string("undefined"));
  EBM_CHECK(!o_.labels || (labels.defined() && labels.dim() == 1 && labels.size(0) == x.size(0)),
            ShapeError, "ReplayBuffer::push: this buffer stores labels: need int64 [", x.size(0),
            "] labels");
  std::vector<float> v = x.to(Device::cpu()).to(DType::Float32).to_vector<float>();
  std::vector<int64_t> l;
  if (o_.labels) l = labels.to(Device::cpu()).to_vector<int64_t>();
  const double span = o_.hi - o_.lo;
  for (int64_t b = 0; b < x.size(0); ++b) {
    int64_t slot = next_;
    if (o_.storage == BufferStorage::UInt8) {
      for (int64_t i = 0; i < per_; ++i) {
        double t = (std::clamp<double>(v[b * per_ + i], o_.lo, o_.hi) - o_.lo) / span;
        q_[slot * per_ + i] = static_cast<uint8_t>(std::min(255.0, std::floor(255.0 * t)));
      }
    } else {
      std::copy_n(v.data() + b * per_, per_, f_.data() + slot * per_);
    }
    if (o_.labels) labels_[slot] = l[b];
    next_ = (next_ + 1) % o_.capacity;
    size_ = std::min(size_ + 1, o_.capacity);
  }
}

ReplaySample ReplayBuffer::sample(int64_t batch, double reinit, Generator& gen, Device device,
                                  int64_t num_classes) const {
  EBM_CHECK(batch > 0 && reinit >= 0 && reinit <= 1, ValueError,
            "ReplayBuffer::sample: need batch > 0 and reinit in [0, 1], got ", batch, ", ", reinit);
  EBM_CHECK(!o_.labels || num_classes > 0, ValueError,
            "ReplayBuffer::sample: a labelled buffer needs num_classes for fresh slots");
  // Stream layout of one draw: per slot a block of 4 words (index, keep-or-fresh, label, spare),
  // then one word per fresh pixel of the noise images and per dequantisation sample.
  const uint64_t seed = gen.seed();
  const uint64_t base = gen.reserve(static_cast<uint64_t>(batch) * 4 + 2 * static_cast<uint64_t>(batch * per_));
  uint64_t pixel_word = base + static_cast<uint64_t>(batch) * 4;
  const bool from_buffer = size_ > batch;
  const double span = o_.hi - o_.lo;
  std::vector<float> out(static_cast<size_t>(batch * per_));
  std::vector<int64_t> labels;
  ReplaySample s;
  for (int64_t b = 0; b < batch; ++b) {
    philox::U32x4 w = philox::block_at(seed, (base >> 2) + static_cast<uint64_t>(b));
    bool fresh = !from_buffer || !(philox::to_uniform(w.v[1]) > reinit);
    float* dst = out.data() + b * per_;
    if (fresh) {
      ++s.fresh;
      for (int64_t i = 0; i < per_; ++i)
        dst[i] = static_cast<float>(o_.lo + span * philox::to_uniform(philox::word(seed, pixel_word++)));
      if (o_.labels)
        labels.push_back(static_cast<int64_t>((static_cast<uint64_t>(w.v[2]) * num_classes) >> 32));
      continue;
    }
    int64_t slot = static_cast<int64_t>((static_cast<uint64_t>(w.v[0]) * static_cast<uint64_t>(size_)) >> 32);
    if (o_.storage == BufferStorage::UInt8) {
      for (int64_t i = 0; i < per_; ++i) {
        double u = philox::to_uniform(philox::word(seed, pixel_word++));
        dst[i] = static_cast<float>(o_.lo + span * (q_[slot * per_ + i] / 256.0 + u / 256.0));
      }
    } else {
      std::copy_n(f_.data() + slot * per_, per_, dst);
    }
    if (o_.labels) labels.push_back(labels_[slot]);
  }
  s.images = Tensor::from_vector(out, Shape{batch, image_shape_.size(0), image_shape_.size(1),
                                            image_shape_.size(2)})
                 .to(device);
  if (o_.labels) s.labels = Tensor::from_vector(labels, Shape{batch}).to(device);
  return s;
}

std::vector<std::pair<std::string, Tensor>> ReplayBuffer::state() const {
  std::vector<std::pair<std::string, Tensor>> st;
  Shape all{o_.capacity, image_shape_.size(0), image_shape_.size(1), image_shape_.size(2)};
  if (o_.storage == BufferStorage::UInt8) {
    std::vector<float> v(q_.begin(), q_.end());  // 0..255 exactly representable
    st.emplace_back("images", Tensor::from_vector(v, all));
  } else {
    st.emplace_back("images", Tensor::from_vector(f_, all));
  }
  if (o_.labels) st.emplace_back("labels", Tensor::from_vector(labels_, Shape{o_.capacity}));
  st.emplace_back("meta", Tensor::from_vector(std::vector<int64_t>{size_, next_}, Shape{2}));
  return st;
}

void ReplayBuffer::load_state(const std::vector<std::pair<std::string, Tensor>>& st) {
  auto find = [&](const std::string& k) -> const Tensor& {
    for (const auto& [n, t] : st)
      if (n == k) return t;
    EBM_THROW(ValueError, "ReplayBuffer::load_state: missing '", k, "'");
  };
  Shape all{o_.capacity, image_shape_.size(0), image_shape_.size(1), image_shape_.size(2)};
  const Tensor& images = find("images");
  EBM_CHECK(images.shape() == all, ShapeError, "ReplayBuffer::load_state: images ",
            images.description(), " do not match this buffer ", all);
  std::vector<int64_t> meta = find("meta").to_vector<int64_t>();
  EBM_CHECK(meta.size() == 2 && meta[0] >= 0 && meta[0] <= o_.capacity && meta[1] >= 0 &&
                meta[1] < o_.capacity,
            ValueError, "ReplayBuffer::load_state: invalid meta (size, next)");
  std::vector<float> v = images.to_vector<float>();
  if (o_.storage == BufferStorage::UInt8)
    for (size_t i = 0; i < v.size(); ++i) q_[i] = static_cast<uint8_t>(v[i]);
  else
    f_ = v;
  if (o_.labels) labels_ = find("labels").to_vector<int64_t>();
  size_ = meta[0];
  next_ = meta[1];
}

}  // namespace ebm::samplers
