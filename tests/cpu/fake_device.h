// A fake device for the memory pools' bookkeeping tests (test_memory_pool.cpp,
// test_graph_pool.cpp): a RawAllocator that hands out never-dereferenced addresses, and the
// counters' invariants.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>

#include "cuda/memory_pool.h"

namespace ebm::test {

using cuda::PoolStats;

inline constexpr size_t KiB = size_t(1) << 10;
inline constexpr size_t MiB = size_t(1) << 20;

// A device with `capacity` bytes: hands out addresses (never dereferenced) from a counter, with
// gaps between segments, and checks that every deallocation matches an allocation.
class FakeDevice final : public cuda::RawAllocator {
 public:
  explicit FakeDevice(size_t capacity = size_t(1) << 40) : capacity_(capacity) {}
  ~FakeDevice() override {
    EXPECT_TRUE(segments_.empty()) << segments_.size() << " segments leaked";
  }

  void* allocate(size_t bytes) override {
    ++calls;
    if (fail_all || used + bytes > capacity_) {
      ++failures;
      return nullptr;
    }
    used += bytes;
    const uintptr_t p = next_;
    next_ += (bytes + MiB - 1) / MiB * MiB + MiB;
    segments_[p] = bytes;
    return reinterpret_cast<void*>(p);
  }
  void deallocate(void* p, size_t bytes) noexcept override {
    auto it = segments_.find(reinterpret_cast<uintptr_t>(p));
    if (it == segments_.end()) {
      ADD_FAILURE() << "deallocate of " << p << ", which was not allocated";
      return;
    }
    EXPECT_EQ(it->second, bytes);
    used -= it->second;
    segments_.erase(it);
  }
  void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept override {
    free_bytes = capacity_ - used;
    total_bytes = capacity_;
  }
  std::string device_name() const override { return "cuda:3"; }

  // True when [p, p + n) lies inside one segment.
  bool contains(uintptr_t p, size_t n) const {
    auto it = segments_.upper_bound(p);
    if (it == segments_.begin()) return false;
    --it;
    return p + n <= it->first + it->second;
  }

  int calls = 0, failures = 0;
  size_t used = 0;
  bool fail_all = false;

 private:
  size_t capacity_;
  uintptr_t next_ = uintptr_t(1) << 40;
  std::map<uintptr_t, size_t> segments_;
};

// The counters' invariants in the caching mode.
inline void expect_consistent(const PoolStats& s) {
  EXPECT_EQ(s.allocated_bytes + s.cached_bytes, s.reserved_bytes);
  EXPECT_GE(s.cached_bytes, 0);
  EXPECT_LE(s.requested_bytes, s.allocated_bytes);
  EXPECT_LE(s.allocated_bytes, s.peak_allocated_bytes);
  EXPECT_LE(s.reserved_bytes, s.peak_reserved_bytes);
  if (s.caching) {
    EXPECT_EQ(s.allocations, s.cache_hits + s.cuda_mallocs);
  }
}

}  // namespace ebm::test
