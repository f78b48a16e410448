// The private memory pools of CUDA graphs (core/graph.h) and where a device's frees go while
// graphs live. Plain C++ over CachingPool (memory_pool.h), so tests/cpu/test_graph_pool.cpp
// checks the bookkeeping on a fake device without a GPU; memory_pool.cpp keeps one PoolSet per
// device and routes a capturing thread's allocations and frees to it.
//
// Why a private pool: a captured graph bakes the addresses of every buffer its kernels touch, and
// replays write them again and again. So the memory the capture allocates must stay the graph's
// for the graph's whole life: blocks freed during the capture may be reused by later allocations
// of the same capture (stream order inside the graph makes that safe), but never by other work,
// and tensors made during the capture that are still referenced afterwards must stay valid even
// after the graph is destroyed. A GraphPool is a CachingPool (same size classes, best fit, split
// and merge) whose raw memory is whole segments lent by the device pool (allocate_segment), and
// which gives them back only when the graph is closed and its blocks are free.
//
// Blocks of other pools (the device pool, or another graph's) that the capturing thread frees
// during the capture are held by the GraphPool and freed only at close: the graph may read them
// at every replay, so they must not be handed out meanwhile.
#pragma once

#include <algorithm>
#include <cstdio>
#include <mutex>
#include <vector>

#include "cuda/memory_pool.h"

namespace ebm::cuda {

class GraphPool {
 public:
  using Stream = CachingPool::Stream;

  // Segments are lent by device_pool from its cache of `origin`; the private blocks are filed
  // under `capture` (only compared).
  GraphPool(CachingPool& device_pool, Stream origin, Stream capture)
      : lender_(device_pool, origin), pool_(lender_, /*caching=*/true), capture_(capture) {}
  GraphPool(const GraphPool&) = delete;
  GraphPool& operator=(const GraphPool&) = delete;

  // A block for the captured work (a lent segment on a miss; CudaError when none can be had).
  void* allocate(size_t bytes) { return pool_.allocate(bytes, capture_); }
  // p back to the private free list; false when p is not one of this pool's blocks.
  bool try_deallocate(void* p) noexcept { return pool_.try_deallocate(p); }
  // Another pool's block freed by the capturing thread: kept until take_held().
  void hold(void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    held_.push_back(p);
  }
  std::vector<void*> take_held() {
    std::lock_guard<std::mutex> lock(mutex_);
    return std::move(held_);
  }
  size_t held() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return held_.size();
  }

  // After close (the graph is gone and its work done): gives the wholly free segments back.
  void trim() noexcept { pool_.empty_cache(); }
  bool empty() const { return pool_.stats().allocated_bytes == 0; }
  PoolStats stats() const { return pool_.stats(); }

 private:
  friend class PoolSet;

  // The raw allocator of the private pool: whole segments of the device pool.
  class Lender final : public RawAllocator {
   public:
    Lender(CachingPool& from, Stream stream) : from_(from), stream_(stream) {}
    void* allocate(size_t bytes) override { return from_.allocate_segment(bytes, stream_); }
    void deallocate(void* p, size_t) noexcept override { from_.deallocate_segment(p); }
    void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept override {
      from_.raw().memory_info(free_bytes, total_bytes);
    }
    std::string device_name() const override { return from_.raw().device_name(); }

   private:
    CachingPool& from_;
    Stream stream_;
  };

  Lender lender_;
  CachingPool pool_;  // after lender_: destroyed first, giving its segments back
  Stream capture_;
  mutable std::mutex mutex_;
  std::vector<void*> held_;
  bool closed_ = false;  // guarded by the PoolSet's mutex
};

// The device pool of one device and the graph pools alive on it. Thread-safe. Lock order: the
// set's mutex, then a graph pool's, then the device pool's.
class PoolSet {
 public:
  using Stream = CachingPool::Stream;

  explicit PoolSet(CachingPool& device_pool) : device_(device_pool) {}
  // Graph pools still alive (blocks in use after their graph) are left to the process.
  ~PoolSet() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!graphs_.empty())
      std::fprintf(stderr, "ebm: memory pool of %s destroyed with %zu graph pools alive\n",
                   device_.raw().device_name().c_str(), graphs_.size());
  }
  PoolSet(const PoolSet&) = delete;
  PoolSet& operator=(const PoolSet&) = delete;

  CachingPool& device_pool() const { return device_; }

  GraphPool* open(Stream origin, Stream capture) {
    std::lock_guard<std::mutex> lock(mutex_);
    graphs_.push_back(new GraphPool(device_, origin, capture));
    return graphs_.back();
  }

  // A free outside a capture: the device pool's block, else a graph pool's (a closed pool gives
  // back what became wholly free, and is deleted when empty). False when nobody owns p.
  bool free(void* p) noexcept {
    if (device_.try_deallocate(p)) return true;
    std::lock_guard<std::mutex> lock(mutex_);
    for (auto it = graphs_.begin(); it != graphs_.end(); ++it) {
      GraphPool* g = *it;
      if (!g->try_deallocate(p)) continue;
      if (g->closed_) tidy(it);
      return true;
    }
    return false;
  }

  // A free by the thread capturing into `capture`: its own block goes back to its free list (for
  // reuse within the capture); any other block is held until the graph is closed.
  void free_capturing(GraphPool* capture, void* p) noexcept {
    if (!p || capture->try_deallocate(p)) return;
    try {
      capture->hold(p);
    } catch (...) {  // out of host memory: leak p rather than hand it out while the graph lives
      std::fprintf(stderr, "ebm: could not hold back %p freed during a CUDA graph capture\n", p);
    }
  }

  // The graph is gone and its work is done (or the capture failed): frees the held blocks, gives
  // the wholly free segments back, and deletes the pool once none of its blocks is in use.
  void close(GraphPool* g) noexcept {
    for (void* p : g->take_held())
      if (!free(p))
        std::fprintf(stderr, "ebm: memory pool of %s: free of %p, which it did not allocate "
                     "(held during a CUDA graph capture; ignored)\n",
                     device_.raw().device_name().c_str(), p);
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = std::find(graphs_.begin(), graphs_.end(), g);
    if (it == graphs_.end()) return;
    g->closed_ = true;
    tidy(it);
  }

  size_t graph_pools() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return graphs_.size();
  }

 private:
  // A closed pool: back with its free segments, and away once empty. Holds mutex_.
  void tidy(std::vector<GraphPool*>::iterator it) noexcept {
    GraphPool* g = *it;
    g->trim();
    if (!g->empty()) return;
    graphs_.erase(it);
    delete g;
  }

  CachingPool& device_;
  mutable std::mutex mutex_;
  std::vector<GraphPool*> graphs_;
};

}  // namespace ebm::cuda
