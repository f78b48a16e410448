// Caching allocator for device memory (style.md practice 9: no cudaMalloc inside a training
// step). Freed blocks are kept in per-device free lists and handed out again, so that once a
// step has run, later steps are served from the cache: CudaPoolStats::cuda_mallocs stays still.
// Plain C++ on purpose: the bookkeeping (CachingPool) takes a RawAllocator, which is cudaMalloc
// in memory_pool.cpp and a fake in tests/cpu/test_memory_pool.cpp, so CI tests it without a GPU.
//
// Size classes (after PyTorch's CUDACachingAllocator, simplified), in three kinds of segment:
//   - small requests (<= 1 MiB) are rounded up to a multiple of 512 B and cut from 2 MiB
//     segments; any remainder is split off;
//   - medium requests (1-10 MiB) are rounded up to a multiple of 512 B and cut from 20 MiB
//     segments; a remainder is split off only when it is over 1 MiB (no tiny fragments);
//   - large requests (>= 10 MiB) are rounded up to a multiple of 2 MiB, get a segment of their
//     own, are never split, and are reused only by requests of the same rounded size.
// Every pointer is therefore 512-byte aligned. Small and medium lookups are best fit (the
// smallest free block of the kind and stream that is big enough; ties go to the lowest address),
// and a freed block merges with free neighbours of its segment.
//
// Why this scheme: it reaches a steady state after one step. Let two steps make the same
// sequence of requests and frees, each freeing what it allocates. The second starts with what
// the first left plus whole free segments. A small or medium request then finds the block it
// took in the first step, or, where the first step took a whole segment or made one, a whole
// segment: that is the largest block of its kind, so best fit takes one nowhere else, and the
// two layouts stay the same up to renaming segments. Large blocks of a size are interchangeable,
// and the first step left as many as it ever used at once. So the second step makes no
// cudaMalloc. Allocations that outlive the first step (optimizer state) can make the second
// step differ; the third then repeats the second, so it is the first without a cudaMalloc.
// tests/cpu/test_memory_pool.cpp checks both on random schedules. (Splitting large blocks or
// sharing them across sizes breaks the argument: random schedules of 1,000 requests of up to
// 40 MiB then went on calling cudaMalloc until the fifth step.)
//
// One cudaMalloc per miss; cudaFree only in empty_cache() or when a cudaMalloc fails, in which
// case the pool releases every wholly free segment and retries once before throwing CudaError
// with the requested size, the device, the pool's allocated/cached bytes and the device's
// free/total memory. (Cached large blocks of sizes no longer asked for are released that way.)
//
// Streams: a block belongs to the stream that was current when it was allocated, and goes back
// to that stream's free list. It is reused only by requests on the same stream, where stream
// order makes immediate reuse safe (the next kernel that writes it runs after the last one that
// used it). There are no events: memory that was used on another stream than the one it was
// allocated on must be synchronised by the caller before it is freed. The engine queues all work
// on cuda::current_stream(), one stream per device (StreamGuard redirects it for a thread, e.g.
// for graph capture), so this is the normal case. Blocks cached on a stream that is no longer
// used stay until empty_cache().
//
// CUDA graphs (core/graph.h): while a thread captures on a device, its allocations for the
// capture stream come from the graph's private pool (cuda/graph_pool.h), a CachingPool whose
// segments are whole segments lent by the device pool (allocate_segment: from the cache when a
// wholly free segment of the right size is there, so a recapture after the first graph is gone
// makes no cudaMalloc; else a cudaMalloc in relaxed capture mode, which is legal during capture
// and not recorded in the graph). The private pool keeps its memory until the graph is
// destroyed and the last tensor made in the capture is freed, so the addresses baked into the
// graph stay valid across replays and are never handed to other work meanwhile. The same holds
// for device-pool blocks the capturing thread frees during the capture: they are held back until
// the graph is gone (the graph may read them at every replay). Lent segments count as allocated
// in the device's counters (and in graph_bytes); replays allocate nothing.
//
// Debugging: EBM_CUDA_POOL=0 (also "off", "false", "no"), read once at the first device
// allocation, bypasses the cache: every allocation is a cudaMalloc of exactly the requested size
// and every free a cudaFree, so compute-sanitizer's memcheck sees each tensor's real bounds.
// The counters keep working in that mode.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>

#include "core/common.h"
#include "core/device_hooks.h"
#include "cuda/stream.h"

namespace ebm::cuda {

using PoolStats = device_hooks::CudaPoolStats;

// Whether the cache is on, from the value of EBM_CUDA_POOL (nullptr when unset).
inline bool pool_enabled_by(const char* env_value) {
  if (!env_value) return true;
  for (const char* off : {"0", "off", "OFF", "false", "FALSE", "no", "NO"})
    if (std::strcmp(env_value, off) == 0) return false;
  return true;
}

// Where device memory comes from: cudaMalloc/cudaFree (memory_pool.cpp) or a test's fake.
class RawAllocator {
 public:
  virtual ~RawAllocator() = default;
  // `bytes` of fresh memory; nullptr when the device is out of memory; throws on other failures.
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* p, size_t bytes) noexcept = 0;
  // The device's free and total memory, for the out-of-memory message (0 and 0 when unknown).
  virtual void memory_info(size_t& free_bytes, size_t& total_bytes) noexcept = 0;
  // "cuda:0", for messages.
  virtual std::string device_name() const = 0;
};

// The bookkeeping of one device's pool: size classes, best-fit free lists per stream, split and
// merge, counters. Thread-safe (one mutex per pool).
class CachingPool {
 public:
  static constexpr size_t kAlignment = 512;                // small and medium block sizes
  static constexpr size_t kSmallMax = size_t(1) << 20;     // requests up to 1 MiB are small
  static constexpr size_t kSmallSegment = size_t(2) << 20;
  static constexpr size_t kLargeMin = size_t(10) << 20;    // requests from 10 MiB are large
  static constexpr size_t kMediumSegment = size_t(20) << 20;
  static constexpr size_t kLargeRound = size_t(2) << 20;   // large block sizes

  using Stream = std::uintptr_t;  // a cudaStream_t as an integer; only compared

  // caching = false is the EBM_CUDA_POOL=0 mode: exact-size raw allocations, freed at once.
  explicit CachingPool(RawAllocator& raw, bool caching = true) : raw_(raw), caching_(caching) {}
  // Releases the cached segments; blocks still in use are left to the process (and reported).
  ~CachingPool();
  CachingPool(const CachingPool&) = delete;
  CachingPool& operator=(const CachingPool&) = delete;

  // A block of at least `bytes` (512-byte aligned) for work on `stream`. Throws CudaError when
  // the device is out of memory even after releasing the cache.
  void* allocate(size_t bytes, Stream stream);
  // Returns the block of `p` to its stream's free list (nullptr: nothing). Never throws; a
  // pointer the pool did not hand out is reported on stderr and ignored.
  void deallocate(void* p) noexcept;
  // deallocate() for a pointer that may be another pool's: false (and nothing done, nothing
  // printed) when this pool did not hand out p, or lent it (a lent segment starts at the
  // address of a block of the graph pool it was lent to: that block's free is not ours).
  bool try_deallocate(void* p) noexcept;
  // A whole segment of exactly `bytes` (a size segment_size() gives) lent to a CUDA graph's
  // private pool (cuda/graph_pool.h): a wholly free cached segment of `stream` when there is
  // one, else a new raw allocation. Counted as allocated (and in graph_bytes) until it comes
  // back through deallocate_segment(). Never releases the cache (it is called while a stream is
  // being captured, when cudaFree is not allowed): throws CudaError when the raw allocation fails.
  void* allocate_segment(size_t bytes, Stream stream);
  void deallocate_segment(void* p) noexcept;
  // Gives every wholly free segment back to the raw allocator; returns the bytes released.
  size_t empty_cache();
  PoolStats stats() const;
  // Peak counters restart from the current values.
  void reset_peak();
  bool caching() const { return caching_; }
  RawAllocator& raw() const { return raw_; }

  enum class Kind : unsigned char { Small, Medium, Large };
  // The block size of a request: a multiple of 512 B (of 2 MiB for large ones), at least 512 B.
  static size_t round_size(size_t bytes) {
    const size_t r = bytes <= kAlignment ? kAlignment : round_up(bytes, kAlignment);
    return r < kLargeMin ? r : round_up(r, kLargeRound);
  }
  static Kind kind_of(size_t rounded) {
    return rounded <= kSmallMax ? Kind::Small : rounded < kLargeMin ? Kind::Medium : Kind::Large;
  }
  // The raw allocation made for a block of `rounded` bytes when the cache has none.
  static size_t segment_size(size_t rounded) {
    switch (kind_of(rounded)) {
      case Kind::Small: return kSmallSegment;
      case Kind::Medium: return kMediumSegment;
      default: return rounded;
    }
  }

 private:
  struct Block {
    char* ptr = nullptr;
    size_t size = 0;          // rounded size (the whole segment for an unsplit block)
    size_t requested = 0;     // what the caller asked for, while allocated
    Stream stream = 0;        // the stream current at allocation
    Kind kind = Kind::Small;  // of the segment: which free list
    bool allocated = false;
    bool lent = false;        // a whole segment lent to a graph's pool (allocate_segment)
    Block* prev = nullptr;    // neighbours in the same segment
    Block* next = nullptr;
  };
  // Best-fit order: stream, then size, then address.
  struct BySize {
    bool operator()(const Block* a, const Block* b) const {
      if (a->stream != b->stream) return a->stream < b->stream;
      if (a->size != b->size) return a->size < b->size;
      return a->ptr < b->ptr;
    }
  };
  using FreeList = std::set<Block*, BySize>;

  static size_t round_up(size_t x, size_t m) { return (x + m - 1) / m * m; }
  FreeList& free_list(Kind k) { return free_[static_cast<int>(k)]; }
  Block* take_best_fit(Kind kind, size_t size, Stream stream);
  Block* take_whole_segment(size_t bytes, Stream stream);
  bool release_block(void* p, bool lent) noexcept;
  Block* new_segment(size_t bytes, size_t size, Stream stream, Kind kind);
  void split(Block* b, size_t size);
  size_t release_cached();
  [[noreturn]] void throw_out_of_memory(size_t bytes, size_t raw_bytes, size_t released);
  void note_allocated(Block* b, size_t bytes);

  RawAllocator& raw_;
  const bool caching_;
  mutable std::mutex mutex_;
  FreeList free_[3];  // by Kind
  std::unordered_map<void*, Block*> live_;
  PoolStats stats_;  // cached_bytes is derived in stats()
};

namespace detail {
// "1.50 GiB", "12.00 MiB", "512 B": the text of cuda::format_bytes (device.h), repeated here
// because that header needs CUDA's; tests/cuda/test_memory_pool_cuda.cpp checks that they agree.
inline std::string pool_format_bytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  int u = 0;
  while (bytes >= 1024.0 && u < 6) {
    bytes /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return buf;
}
}  // namespace detail

// ---- the device pools (memory_pool.cpp; CUDA builds only). The stats and empty_cache of a
// device are also reachable without CUDA headers through core/device_hooks.h.

// False when EBM_CUDA_POOL disables the cache (read once).
bool pool_enabled();
// A block on `device` for work on cuda::current_stream(device).
void* pool_allocate(size_t bytes, int device);
void pool_free(void* p, int device) noexcept;
// Counters of `device` (zeros, with `caching` set, before its first allocation).
PoolStats pool_stats(int device);
// Gives the wholly free cached segments of `device` back with cudaFree (which waits for the
// device's pending work); returns the bytes released.
size_t empty_cache(int device);
void reset_peak_pool_stats(int device);

// ---- private pools of CUDA graphs (memory_pool.cpp; used by cuda/graph.cpp)

class GraphPool;  // cuda/graph_pool.h

// Opens a private pool on `device` for a capture on stream `capture` by this thread, lent
// segments from the device pool's cache of stream `origin` (the stream work was queued on before
// the capture). Until graph_pool_stop_routing(device), this thread's allocations on `device` for
// work on `capture` come from it, and its frees of other blocks of `device` are held back until
// graph_pool_close. One routed pool per device and thread.
GraphPool* graph_pool_open(int device, StreamHandle origin, StreamHandle capture);
// The end of the capture: this thread's allocations and frees on `device` go the normal way.
void graph_pool_stop_routing(int device) noexcept;
// A block from the pool (for the graph's own device-side state).
void* graph_pool_allocate(GraphPool* pool, size_t bytes);
// The graph is gone and its work done: the held-back blocks are freed, the wholly free segments
// go back to the device pool, and the pool is deleted once the last of its blocks is freed.
void graph_pool_close(int device, GraphPool* pool) noexcept;
// The private pool's own counters (reserved = lent segments, allocated = its live blocks).
PoolStats graph_pool_stats(const GraphPool* pool);

// ------------------------------------------------------------------------------------------
// CachingPool, inline so that the CPU tests can use it in a build without CUDA.

inline CachingPool::~CachingPool() {
  std::lock_guard<std::mutex> lock(mutex_);
  release_cached();
  if (!live_.empty())
    std::fprintf(stderr, "ebm: memory pool of %s destroyed with %zu blocks still in use\n",
                 raw_.device_name().c_str(), live_.size());
}

inline CachingPool::Block* CachingPool::take_best_fit(Kind kind, size_t size, Stream stream) {
  FreeList& list = free_list(kind);
  Block key;
  key.stream = stream;
  key.size = size;
  auto it = list.lower_bound(&key);
  if (it == list.end() || (*it)->stream != stream) return nullptr;
  if (kind == Kind::Large && (*it)->size != size) return nullptr;  // large: the same size only
  Block* b = *it;
  list.erase(it);
  return b;
}

inline CachingPool::Block* CachingPool::new_segment(size_t bytes, size_t size, Stream stream,
                                                    Kind kind) {
  const size_t raw_bytes = caching_ ? segment_size(size) : (bytes ? bytes : 1);
  void* p = raw_.allocate(raw_bytes);
  size_t released = 0;
  if (!p && caching_) {
    released = release_cached();
    if (released > 0) {
      ++stats_.oom_retries;
      p = raw_.allocate(raw_bytes);
    }
  }
  if (!p) throw_out_of_memory(bytes, raw_bytes, released);
  Block* b = new Block();
  b->ptr = static_cast<char*>(p);
  b->size = raw_bytes;
  b->stream = stream;
  b->kind = kind;
  ++stats_.cuda_mallocs;
  stats_.reserved_bytes += static_cast<int64_t>(raw_bytes);
  if (stats_.reserved_bytes > stats_.peak_reserved_bytes)
    stats_.peak_reserved_bytes = stats_.reserved_bytes;
  return b;
}

inline void CachingPool::split(Block* b, size_t size) {
  const size_t rest = b->size - size;
  // Small blocks split down to any multiple of 512 B; medium ones only when the rest could serve
  // a medium request; large ones never.
  if (rest == 0 || b->kind == Kind::Large || (b->kind == Kind::Medium && rest <= kSmallMax))
    return;
  Block* r = new Block();
  r->ptr = b->ptr + size;
  r->size = rest;
  r->stream = b->stream;
  r->kind = b->kind;
  r->prev = b;
  r->next = b->next;
  if (b->next) b->next->prev = r;
  b->next = r;
  b->size = size;
  free_list(r->kind).insert(r);
}

inline void CachingPool::note_allocated(Block* b, size_t bytes) {
  b->allocated = true;
  b->requested = bytes;
  live_.emplace(b->ptr, b);
  ++stats_.allocations;
  stats_.allocated_bytes += static_cast<int64_t>(b->size);
  stats_.requested_bytes += static_cast<int64_t>(bytes);
  if (stats_.allocated_bytes > stats_.peak_allocated_bytes)
    stats_.peak_allocated_bytes = stats_.allocated_bytes;
}

inline void* CachingPool::allocate(size_t bytes, Stream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!caching_) {
    Block* b = new_segment(bytes, 0, stream, Kind::Large);
    note_allocated(b, bytes);
    return b->ptr;
  }
  const size_t size = round_size(bytes);
  const Kind kind = kind_of(size);
  Block* b = take_best_fit(kind, size, stream);
  if (b)
    ++stats_.cache_hits;
  else
    b = new_segment(bytes, size, stream, kind);
  split(b, size);
  note_allocated(b, bytes);
  return b->ptr;
}

inline void CachingPool::deallocate(void* p) noexcept {
  if (p && !release_block(p, false))
    std::fprintf(stderr,
                 "ebm: memory pool of %s: free of %p, which it did not allocate (ignored)\n",
                 raw_.device_name().c_str(), p);
}

inline bool CachingPool::try_deallocate(void* p) noexcept { return !p || release_block(p, false); }

inline void CachingPool::deallocate_segment(void* p) noexcept {
  if (p && !release_block(p, true))
    std::fprintf(stderr,
                 "ebm: memory pool of %s: return of segment %p, which it did not lend (ignored)\n",
                 raw_.device_name().c_str(), p);
}

// Frees the live block at p if it is a lent segment exactly when `lent`; false otherwise.
inline bool CachingPool::release_block(void* p, bool lent) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = live_.find(p);
  if (it == live_.end() || it->second->lent != lent) return false;
  Block* b = it->second;
  live_.erase(it);
  ++stats_.frees;
  stats_.allocated_bytes -= static_cast<int64_t>(b->size);
  stats_.requested_bytes -= static_cast<int64_t>(b->requested);
  if (b->lent) stats_.graph_bytes -= static_cast<int64_t>(b->size);
  b->allocated = false;
  b->lent = false;
  b->requested = 0;
  if (!caching_) {
    raw_.deallocate(b->ptr, b->size);
    ++stats_.cuda_frees;
    stats_.reserved_bytes -= static_cast<int64_t>(b->size);
    delete b;
    return true;
  }
  FreeList& list = free_list(b->kind);
  // Merge with free neighbours (taken out of the list before their size changes).
  if (b->prev && !b->prev->allocated) {
    Block* a = b->prev;
    list.erase(a);
    a->size += b->size;
    a->next = b->next;
    if (b->next) b->next->prev = a;
    delete b;
    b = a;
  }
  if (b->next && !b->next->allocated) {
    Block* c = b->next;
    list.erase(c);
    b->size += c->size;
    b->next = c->next;
    if (c->next) c->next->prev = b;
    delete c;
  }
  list.insert(b);
  return true;
}

inline CachingPool::Block* CachingPool::take_whole_segment(size_t bytes, Stream stream) {
  Block key;
  key.stream = stream;
  key.size = bytes;
  for (FreeList& list : free_) {
    for (auto it = list.lower_bound(&key);
         it != list.end() && (*it)->stream == stream && (*it)->size == bytes; ++it) {
      if ((*it)->prev || (*it)->next) continue;  // a free part of a segment still in use
      Block* b = *it;
      list.erase(it);
      return b;
    }
  }
  return nullptr;
}

inline void* CachingPool::allocate_segment(size_t bytes, Stream stream) {
  std::lock_guard<std::mutex> lock(mutex_);
  Block* b = caching_ ? take_whole_segment(bytes, stream) : nullptr;
  if (b) {
    ++stats_.cache_hits;
  } else {
    void* p = raw_.allocate(bytes);
    if (!p) throw_out_of_memory(bytes, bytes, 0);
    b = new Block();
    b->ptr = static_cast<char*>(p);
    b->size = bytes;
    b->stream = stream;
    // When it comes back it serves the requests of its size class (a 2 MiB or 20 MiB segment is
    // a whole small or medium segment; anything else is a large block).
    b->kind = bytes == kSmallSegment ? Kind::Small
              : bytes == kMediumSegment ? Kind::Medium : Kind::Large;
    ++stats_.cuda_mallocs;
    stats_.reserved_bytes += static_cast<int64_t>(bytes);
    if (stats_.reserved_bytes > stats_.peak_reserved_bytes)
      stats_.peak_reserved_bytes = stats_.reserved_bytes;
  }
  b->lent = true;
  stats_.graph_bytes += static_cast<int64_t>(b->size);
  note_allocated(b, bytes);
  return b->ptr;
}

inline size_t CachingPool::release_cached() {
  size_t released = 0;
  for (FreeList& list : free_) {
    for (auto it = list.begin(); it != list.end();) {
      Block* b = *it;
      if (b->prev || b->next) {  // part of a segment that is still partly in use
        ++it;
        continue;
      }
      it = list.erase(it);
      raw_.deallocate(b->ptr, b->size);
      ++stats_.cuda_frees;
      stats_.reserved_bytes -= static_cast<int64_t>(b->size);
      released += b->size;
      delete b;
    }
  }
  return released;
}

inline size_t CachingPool::empty_cache() {
  std::lock_guard<std::mutex> lock(mutex_);
  return release_cached();
}

inline PoolStats CachingPool::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  PoolStats s = stats_;
  s.caching = caching_;
  s.cached_bytes = s.reserved_bytes - s.allocated_bytes;
  return s;
}

inline void CachingPool::reset_peak() {
  std::lock_guard<std::mutex> lock(mutex_);
  stats_.peak_allocated_bytes = stats_.allocated_bytes;
  stats_.peak_reserved_bytes = stats_.reserved_bytes;
}

inline void CachingPool::throw_out_of_memory(size_t bytes, size_t raw_bytes, size_t released) {
  size_t free_b = 0, total_b = 0;
  raw_.memory_info(free_b, total_b);
  auto fmt = [](size_t b) { return detail::pool_format_bytes(static_cast<double>(b)); };
  const int64_t cached = stats_.reserved_bytes - stats_.allocated_bytes;
  EBM_THROW(CudaError, "CUDA out of memory: cannot allocate ", bytes, " bytes (", fmt(bytes),
            ") on ", raw_.device_name(), " (cudaMalloc of ", fmt(raw_bytes), " failed",
            released ? str(" again after releasing ", fmt(released), " of cached blocks") : "",
            "); the memory pool holds ", fmt(static_cast<size_t>(stats_.allocated_bytes)),
            " allocated and ", fmt(static_cast<size_t>(cached)), " cached; the device has ",
            fmt(free_b), " free of ", fmt(total_b), " total");
}

}  // namespace ebm::cuda
