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

}  // namespace ebm
