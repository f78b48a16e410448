#include "core/storage.h"

#include <cstdlib>
#include <mutex>

#include "core/common.h"
#include "core/device_hooks.h"

namespace ebm {

namespace {
struct Counters {
  std::atomic<int64_t> allocated{0}, peak{0}, count{0};
};
Counters& counters(DeviceType t) {
  static Counters c[2];
  return c[static_cast<int>(t)];
}
void count_alloc(DeviceType t, int64_t bytes) {
  Counters& c = counters(t);
  int64_t now = c.allocated.fetch_add(bytes) + bytes;
  c.count.fetch_add(1);
  int64_t peak = c.peak.load();
  while (now > peak && !c.peak.compare_exchange_weak(peak, now)) {
  }
}
}  // namespace

Storage::Storage(size_t bytes, Device device) : bytes_(bytes), device_(device) {
  size_t padded = (bytes + 63) / 64 * 64;  // aligned_alloc needs a multiple of the alignment
  if (padded == 0) padded = 64;
  if (device.is_cpu()) {
    data_ = std::aligned_alloc(64, padded);
    EBM_CHECK(data_ != nullptr, Error, "out of host memory allocating ", bytes, " bytes");
  } else {
    data_ = device_hooks::cuda_alloc(padded, device.index);
  }
  count_alloc(device.type, static_cast<int64_t>(bytes));
}

Storage::~Storage() {
  if (device_.is_cpu())
    std::free(data_);
  else
    device_hooks::cuda_free(data_, device_.index);
  counters(device_.type).allocated.fetch_sub(static_cast<int64_t>(bytes_));
}

MemoryStats memory_stats(DeviceType type) {
  Counters& c = counters(type);
  return {c.allocated.load(), c.peak.load(), c.count.load()};
}

void reset_peak_memory(DeviceType type) {
  Counters& c = counters(type);
  c.peak.store(c.allocated.load());
}

}  // namespace ebm
