// The private memory pools of CUDA graphs (cuda/graph_pool.h) on a fake device, without a GPU:
// whole segments lent from the device pool's cache (no raw allocation when one is free, and a
// recapture after the graph is gone reuses them), counters (graph_bytes, allocated + cached =
// reserved), blocks freed during a capture reused only by the capture, device-pool blocks freed
// during a capture held back until the graph is closed, tensors that outlive their graph, and a
// random run checking that the memory of a live graph is never handed to other work.
#include <gtest/gtest.h>

#include <algorithm>
#include <iterator>
#include <map>
#include <random>
#include <vector>

#include "cpu/fake_device.h"
#include "cuda/graph_pool.h"
#include "test_util.h"

namespace {

using ebm::CudaError;
using ebm::cuda::CachingPool;
using ebm::cuda::GraphPool;
using ebm::cuda::PoolSet;
using ebm::cuda::PoolStats;
using ebm::test::expect_consistent;
using ebm::test::FakeDevice;
using ebm::test::KiB;
using ebm::test::MiB;

constexpr CachingPool::Stream kOrigin = 1, kOther = 2, kCapture = 77;

uintptr_t addr(const void* p) { return reinterpret_cast<uintptr_t>(p); }

// Leaves wholly free segments in the cache of kOrigin: two small ones (2 MiB each), a medium
// one (20 MiB) and a large one (12 MiB): 36 MiB.
void warm(CachingPool& pool) {
  std::vector<void*> blocks;
  for (size_t bytes : {MiB, MiB, 100 * KiB, 3 * MiB, 12 * MiB})
    blocks.push_back(pool.allocate(bytes, kOrigin));
  for (void* p : blocks) pool.deallocate(p);
}

TEST(GraphPool, DevicePoolLendsWholeFreeSegmentsFromItsCache) {
  FakeDevice dev;
  CachingPool pool(dev);
  warm(pool);
  const int calls = dev.calls;
  const PoolStats before = pool.stats();
  void* small = pool.allocate_segment(CachingPool::kSmallSegment, kOrigin);
  void* medium = pool.allocate_segment(CachingPool::kMediumSegment, kOrigin);
  void* large = pool.allocate_segment(12 * MiB, kOrigin);
  EXPECT_EQ(dev.calls, calls) << "all three were cached";
  PoolStats s = pool.stats();
  EXPECT_EQ(s.cache_hits, before.cache_hits + 3);
  EXPECT_EQ(s.graph_bytes, int64_t(34 * MiB));
  EXPECT_EQ(s.allocated_bytes, int64_t(34 * MiB));
  EXPECT_EQ(s.cached_bytes, int64_t(2 * MiB));  // the second small segment
  expect_consistent(s);
  // Another stream's cache is not lent from, and a segment in use is not lent.
  void* other = pool.allocate_segment(CachingPool::kSmallSegment, kOther);
  EXPECT_EQ(dev.calls, calls + 1);
  pool.deallocate_segment(other);  // a whole small segment of kOther now
  void* part = pool.allocate(4 * KiB, kOther);  // splits it
  void* fresh = pool.allocate_segment(CachingPool::kSmallSegment, kOther);
  EXPECT_EQ(dev.calls, calls + 2) << "a partly used segment is never lent";
  EXPECT_NE(addr(fresh), addr(part));
  // A lent segment starts where the graph pool's first block does: only its return frees it.
  EXPECT_FALSE(pool.try_deallocate(small));
  EXPECT_EQ(pool.stats().graph_bytes, int64_t(36 * MiB));
  // Back from the graph: ordinary cached segments again, served without raw allocations.
  for (void* p : {small, medium, large, fresh}) pool.deallocate_segment(p);
  pool.deallocate(part);
  s = pool.stats();
  EXPECT_EQ(s.graph_bytes, 0);
  EXPECT_EQ(s.allocated_bytes, 0);
  expect_consistent(s);
  void* again = pool.allocate(200 * KiB, kOrigin);
  EXPECT_EQ(addr(again), addr(small));
  void* again_medium = pool.allocate(5 * MiB, kOrigin);
  EXPECT_EQ(addr(again_medium), addr(medium));
  EXPECT_EQ(dev.calls, calls + 2);
  pool.deallocate(again);
  pool.deallocate(again_medium);
  pool.empty_cache();
}

TEST(GraphPool, LendingNeverReleasesTheCacheAndFailsClearly) {
  FakeDevice dev(64 * MiB);
  CachingPool pool(dev);
  warm(pool);  // 36 MiB reserved, all cached
  const PoolStats before = pool.stats();
  // 32 MiB more does not fit; a normal allocation would release the cache and retry, a lent one
  // (made during a capture, where cudaFree is not allowed) must not.
  ebm::test::expect_error<CudaError>([&] { pool.allocate_segment(32 * MiB, kOrigin); },
                                     {"CUDA out of memory", "cuda:3"});
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.reserved_bytes, before.reserved_bytes);
  EXPECT_EQ(s.cuda_frees, 0);
  EXPECT_EQ(s.graph_bytes, 0);
  expect_consistent(s);
  pool.empty_cache();
}

TEST(GraphPool, UncachedDevicePoolLendsFreshSegmentsAndFreesThemAtOnce) {
  FakeDevice dev;
  CachingPool pool(dev, /*caching=*/false);
  void* p = pool.allocate_segment(CachingPool::kSmallSegment, kOrigin);
  EXPECT_EQ(dev.used, CachingPool::kSmallSegment);
  EXPECT_EQ(pool.stats().graph_bytes, int64_t(CachingPool::kSmallSegment));
  pool.deallocate_segment(p);
  EXPECT_EQ(dev.used, 0u);
  EXPECT_EQ(pool.stats().graph_bytes, 0);
}

TEST(GraphPool, TryDeallocateLeavesForeignPointersAlone) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* p = pool.allocate(1000, kOrigin);
  ::testing::internal::CaptureStderr();
  EXPECT_FALSE(pool.try_deallocate(reinterpret_cast<void*>(addr(p) + 512)));
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");
  EXPECT_TRUE(pool.try_deallocate(p));
  EXPECT_FALSE(pool.try_deallocate(p)) << "a second free is not ours any more";
  pool.empty_cache();
}

// The life of one graph: capture after an eager warm-up, blocks reused within the capture, a
// device block freed during the capture held back, a tensor that outlives the graph.
TEST(GraphPool, CaptureReplayAndCloseKeepTheGraphsMemoryApart) {
  FakeDevice dev;
  CachingPool pool(dev);
  PoolSet set(pool);
  warm(pool);
  void* input = pool.allocate(64 * KiB, kOrigin);  // made before the capture (e.g. x)
  const int calls = dev.calls;
  const PoolStats base = pool.stats();

  GraphPool* g = set.open(kOrigin, kCapture);
  void* t1 = g->allocate(100 * KiB);  // the capture's temporaries
  void* t2 = g->allocate(3 * MiB);
  void* t3 = g->allocate(12 * MiB);
  set.free_capturing(g, t1);
  void* t4 = g->allocate(100 * KiB);
  EXPECT_EQ(addr(t4), addr(t1)) << "a block freed in the capture is reused by the capture";
  set.free_capturing(g, t2);
  set.free_capturing(g, t3);
  set.free_capturing(g, input);  // the capture's last use of a device block
  EXPECT_EQ(g->held(), 1u);
  EXPECT_EQ(dev.calls, calls) << "the warm cache lent every segment";
  PoolStats s = pool.stats();
  EXPECT_EQ(s.graph_bytes, int64_t(34 * MiB));
  EXPECT_EQ(s.allocated_bytes, base.allocated_bytes + int64_t(34 * MiB)) << "input still counted";
  expect_consistent(s);
  const PoolStats gs = g->stats();
  EXPECT_EQ(gs.reserved_bytes, int64_t(34 * MiB));
  EXPECT_EQ(gs.allocated_bytes, int64_t(100 * KiB));  // t4 is still referenced
  expect_consistent(gs);

  // While the graph lives, other work never gets its memory nor the held block.
  std::vector<void*> eager;
  for (size_t bytes : {size_t(64 * KiB), size_t(100 * KiB), size_t(3 * MiB), size_t(12 * MiB)})
    eager.push_back(pool.allocate(bytes, kOrigin));
  for (void* e : eager)
    for (void* p : {input, t1, t2, t3}) EXPECT_NE(addr(e), addr(p));
  for (void* e : eager) EXPECT_TRUE(set.free(e));

  // The graph is destroyed while t4 (a tensor made in the capture) lives on.
  set.close(g);
  EXPECT_EQ(set.graph_pools(), 1u);
  s = pool.stats();
  EXPECT_EQ(s.graph_bytes, int64_t(CachingPool::kSmallSegment)) << "only t4's segment stays lent";
  EXPECT_EQ(s.allocated_bytes, base.allocated_bytes - int64_t(64 * KiB) + int64_t(2 * MiB))
      << "the held input block is freed at close";
  expect_consistent(s);
  EXPECT_TRUE(set.free(t4));
  EXPECT_EQ(set.graph_pools(), 0u) << "the last block gone, the pool is deleted";
  s = pool.stats();
  EXPECT_EQ(s.graph_bytes, 0);
  EXPECT_EQ(s.allocated_bytes, 0);
  expect_consistent(s);

  // A recapture of the same work makes no raw allocation either.
  const int calls_before_recapture = dev.calls;
  g = set.open(kOrigin, kCapture);
  for (size_t bytes : {size_t(100 * KiB), size_t(3 * MiB), size_t(12 * MiB)})
    set.free_capturing(g, g->allocate(bytes));
  set.close(g);
  EXPECT_EQ(dev.calls, calls_before_recapture);
  EXPECT_EQ(set.graph_pools(), 0u);
  EXPECT_EQ(pool.stats().graph_bytes, 0);
  pool.empty_cache();
}

TEST(GraphPool, AColdCacheLendsNewSegmentsThatStayInTheDevicePoolAfterwards) {
  FakeDevice dev;
  CachingPool pool(dev);
  PoolSet set(pool);
  GraphPool* g = set.open(kOrigin, kCapture);
  void* a = g->allocate(1000);
  EXPECT_EQ(dev.calls, 1);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.cuda_mallocs, 1);
  EXPECT_EQ(s.reserved_bytes, int64_t(CachingPool::kSmallSegment));
  set.free_capturing(g, a);
  set.close(g);
  s = pool.stats();
  EXPECT_EQ(s.cached_bytes, int64_t(CachingPool::kSmallSegment)) << "now an ordinary segment";
  void* b = pool.allocate(1000, kOrigin);
  EXPECT_EQ(addr(b), addr(a));
  EXPECT_EQ(dev.calls, 1);
  pool.deallocate(b);
  pool.empty_cache();
}

TEST(GraphPool, FreesOfUnknownPointersAreRefused) {
  FakeDevice dev;
  CachingPool pool(dev);
  PoolSet set(pool);
  GraphPool* g = set.open(kOrigin, kCapture);
  void* a = g->allocate(1000);
  EXPECT_FALSE(set.free(reinterpret_cast<void*>(addr(a) + 512)));
  EXPECT_TRUE(set.free(a));  // after the capture, before close: back to the graph's free list
  EXPECT_EQ(pool.stats().graph_bytes, int64_t(CachingPool::kSmallSegment));
  set.close(g);
  EXPECT_EQ(set.graph_pools(), 0u);
  pool.empty_cache();
}

// Random interleavings of eager work, captures and graph lifetimes. Invariants: the memory of a
// graph that is alive (its blocks, free or not, and the blocks it holds) never overlaps a live
// eager block; the counters add up; everything comes back.
TEST(GraphPool, RandomUseNeverHandsAGraphsMemoryToOtherWork) {
  const uint64_t seed = ebm::test::rng()();
  SCOPED_TRACE(::testing::Message() << "seed " << seed);
  std::mt19937_64 rng(seed);
  FakeDevice dev;
  CachingPool pool(dev);
  PoolSet set(pool);
  auto size = [&] {
    const size_t r = rng() % 10;
    return r < 6 ? size_t(1 + rng() % (512 * KiB)) : r < 9 ? size_t(MiB + rng() % (6 * MiB))
                                                          : size_t((10 + rng() % 6) * MiB);
  };
  struct Graph {
    GraphPool* pool;
    std::map<uintptr_t, size_t> memory;  // every block it ever handed out or held
    std::vector<void*> live;             // its blocks still referenced
  };
  std::map<uintptr_t, size_t> eager;  // live eager blocks
  std::vector<Graph> graphs;
  auto overlaps = [](const std::map<uintptr_t, size_t>& m, uintptr_t p, size_t n) {
    auto it = m.upper_bound(p);
    if (it != m.end() && it->first < p + n) return true;
    if (it == m.begin()) return false;
    --it;
    return it->first + it->second > p;
  };
  for (int round = 0; round < 40; ++round) {
    // Eager work, checked against every live graph.
    for (int i = 0; i < 20; ++i) {
      if (!eager.empty() && rng() % 3 == 0) {
        auto it = std::next(eager.begin(), static_cast<long>(rng() % eager.size()));
        EXPECT_TRUE(set.free(reinterpret_cast<void*>(it->first)));
        eager.erase(it);
      } else {
        const size_t n = size();
        void* p = pool.allocate(n, rng() % 4 ? kOrigin : kOther);
        for (const Graph& g : graphs) EXPECT_FALSE(overlaps(g.memory, addr(p), n));
        eager[addr(p)] = n;
      }
    }
    // A capture: temporaries, some kept, some eager blocks freed (held).
    if (rng() % 2) {
      Graph g{set.open(kOrigin, kCapture), {}, {}};
      std::vector<void*> temps;
      for (int i = 0; i < 15; ++i) {
        if (!temps.empty() && rng() % 3 == 0) {
          set.free_capturing(g.pool, temps.back());
          temps.pop_back();
        } else {
          const size_t n = size();
          void* p = g.pool->allocate(n);
          EXPECT_FALSE(overlaps(eager, addr(p), n));
          g.memory[addr(p)] = std::max(g.memory[addr(p)], n);
          temps.push_back(p);
        }
        if (!eager.empty() && rng() % 5 == 0) {
          auto it = eager.begin();
          g.memory[it->first] = it->second;
          set.free_capturing(g.pool, reinterpret_cast<void*>(it->first));
          eager.erase(it);
        }
      }
      for (void* p : temps) {
        if (rng() % 4 == 0)
          g.live.push_back(p);
        else
          set.free_capturing(g.pool, p);
      }
      graphs.push_back(std::move(g));
    }
    // A graph dies; its tensors may die before or after.
    if (!graphs.empty() && rng() % 3 == 0) {
      const size_t k = rng() % graphs.size();
      Graph g = std::move(graphs[k]);
      graphs.erase(graphs.begin() + static_cast<long>(k));
      const bool tensors_first = rng() % 2;
      if (tensors_first)
        for (void* p : g.live) EXPECT_TRUE(set.free(p));
      set.close(g.pool);
      if (!tensors_first)
        for (void* p : g.live) EXPECT_TRUE(set.free(p));
    }
    PoolStats s = pool.stats();
    expect_consistent(s);
    EXPECT_GE(s.graph_bytes, 0);
    EXPECT_LE(s.graph_bytes, s.allocated_bytes);
  }
  for (Graph& g : graphs) {
    set.close(g.pool);
    for (void* p : g.live) EXPECT_TRUE(set.free(p));
  }
  for (auto& [p, n] : eager) EXPECT_TRUE(set.free(reinterpret_cast<void*>(p)));
  EXPECT_EQ(set.graph_pools(), 0u);
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.allocated_bytes, 0);
  EXPECT_EQ(s.graph_bytes, 0);
  expect_consistent(s);
  pool.empty_cache();
}

}  // namespace
