// Reference-counted memory of one device. Views share a Storage; its version counter is bumped
// by every in-place write so that autograd can refuse to use a saved tensor that changed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "core/device.h"

namespace ebm {

class Storage {
 public:
  // Allocates `bytes` on `device` (CPU: 64-byte aligned; CUDA: through the CUDA backend).
  Storage(size_t bytes, Device device);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }
  uint64_t version() const { return version_.load(std::memory_order_relaxed); }
  void bump_version() { version_.fetch_add(1, std::memory_order_relaxed); }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
  Device device_;
  std::atomic<uint64_t> version_{0};
};

// Byte counters per device type, for tests that prove a step allocates nothing new.
struct MemoryStats {
  int64_t allocated_bytes = 0;  // currently held by live storages
  int64_t peak_bytes = 0;
  int64_t allocations = 0;      // number of allocations ever made
};
MemoryStats memory_stats(DeviceType type);
void reset_peak_memory(DeviceType type);

}  // namespace ebm
