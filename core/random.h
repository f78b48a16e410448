// Generator: the (seed, offset) state of one Philox4x32-10 stream (core/philox.h). Every draw
// reserves a range of stream words and advances the offset, so successive draws never overlap
// and a run is reproduced exactly from the saved state (checkpoints store seed and offset, like
// torch.cuda's philox seed/offset pair). Host-side bookkeeping only; not thread-safe.
#pragma once

#include <cstdint>

namespace ebm {

class Generator {
 public:
  struct State {
    uint64_t seed = 0;
    uint64_t offset = 0;
    bool operator==(const State& o) const { return seed == o.seed && offset == o.offset; }
    bool operator!=(const State& o) const { return !(*this == o); }
  };

  explicit Generator(uint64_t seed = 0, uint64_t offset = 0) : state_{seed, offset} {}

  // Returns the current offset and advances it by n_words rounded up to a multiple of 4, so
  // every draw starts on a Philox block boundary (one block = 4 words) and the Box–Muller pairs
  // of a normal fill (words 2j, 2j+1 of the draw) never straddle two draws. Starting from an
  // offset that is a multiple of 4, every returned offset is a multiple of 4.
  uint64_t reserve(uint64_t n_words) {
    uint64_t start = state_.offset;
    state_.offset += (n_words + 3) & ~uint64_t(3);
    return start;
  }

  uint64_t seed() const { return state_.seed; }
  uint64_t offset() const { return state_.offset; }
  // Starts the stream of `seed` from its beginning (like torch.manual_seed).
  void manual_seed(uint64_t seed) { state_ = {seed, 0}; }
  void set_offset(uint64_t offset) { state_.offset = offset; }

  State state() const { return state_; }
  void set_state(const State& s) { state_ = s; }

 private:
  State state_;
};

// The use of one generator by a captured CUDA graph (core/graph.h), as host arithmetic. While
// capturing, draws reserve words exactly as eager code would and are recorded relative to the
// offset the capture found (`base`); the capture itself draws nothing, so finish() puts the
// generator back there. Each replay then reserves the capture's whole span and returns the base
// its draws are relative to: replay k draws words [b_k + r, ...) for the recorded r, which are
// the words the k-th eager run from the same generator state would reserve (the span is a sum of
// multiples of 4, so reserving it again rounds nothing). Offsets wrap mod 2^64 like reserve's.
class CapturedGenerator {
 public:
  explicit CapturedGenerator(Generator& gen)
      : gen_(&gen), seed_(gen.seed()), base_(gen.offset()) {}

  // A draw of n_words while capturing: its offset relative to the base.
  uint64_t reserve(uint64_t n_words) { return gen_->reserve(n_words) - base_; }
  // End of the capture: records the span reserved and restores the generator's offset.
  void finish() {
    span_ = gen_->offset() - base_;
    gen_->set_offset(base_);
  }
  // One replay: reserves the span; returns the replay's base offset.
  uint64_t replay() { return gen_->reserve(span_); }

  Generator& generator() const { return *gen_; }
  uint64_t seed() const { return seed_; }  // the seed at capture (a reseed in capture is an error)
  uint64_t base() const { return base_; }
  uint64_t span() const { return span_; }  // words per replay (after finish)

 private:
  Generator* gen_;
  uint64_t seed_, base_;
  uint64_t span_ = 0;
};

}  // namespace ebm
