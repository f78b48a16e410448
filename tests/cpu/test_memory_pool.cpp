// The caching allocator's bookkeeping (cuda/memory_pool.h) on a fake device, without a GPU:
// size classes, reuse after free, split and merge, streams, the steady state of a training step
// (no new raw allocation after the first step), empty_cache, peaks, the out-of-memory retry and
// message, the EBM_CUDA_POOL=0 mode, thread safety, and a random stress run that checks that
// live blocks never overlap and that the counters add up.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include "core/device_hooks.h"
#include "cpu/fake_device.h"
#include "cuda/memory_pool.h"
#include "test_util.h"

namespace {

using ebm::CudaError;
using ebm::cuda::CachingPool;
using ebm::cuda::PoolStats;

using ebm::test::expect_consistent;
using ebm::test::FakeDevice;
using ebm::test::KiB;
using ebm::test::MiB;

TEST(MemoryPool, RoundsRequestsToSizeClasses) {
  EXPECT_EQ(CachingPool::round_size(0), 512u);
  EXPECT_EQ(CachingPool::round_size(1), 512u);
  EXPECT_EQ(CachingPool::round_size(512), 512u);
  EXPECT_EQ(CachingPool::round_size(513), 1024u);
  EXPECT_EQ(CachingPool::round_size(MiB), MiB);
  EXPECT_EQ(CachingPool::round_size(MiB + 1), MiB + 512);
  EXPECT_EQ(CachingPool::round_size(10 * MiB - 513), 10 * MiB - 512);
  EXPECT_EQ(CachingPool::round_size(10 * MiB - 1), 10 * MiB);  // 512-rounded into large
  EXPECT_EQ(CachingPool::round_size(10 * MiB), 10 * MiB);  // large: multiples of 2 MiB
  EXPECT_EQ(CachingPool::round_size(10 * MiB + 1), 12 * MiB);
  EXPECT_EQ(CachingPool::round_size(64 * MiB), 64 * MiB);
  using Kind = CachingPool::Kind;
  EXPECT_EQ(CachingPool::kind_of(MiB), Kind::Small);
  EXPECT_EQ(CachingPool::kind_of(MiB + 512), Kind::Medium);
  EXPECT_EQ(CachingPool::kind_of(10 * MiB - 512), Kind::Medium);
  EXPECT_EQ(CachingPool::kind_of(10 * MiB), Kind::Large);
  // Small blocks come from 2 MiB segments, medium from 20 MiB, large from their own.
  EXPECT_EQ(CachingPool::segment_size(512), 2 * MiB);
  EXPECT_EQ(CachingPool::segment_size(MiB), 2 * MiB);
  EXPECT_EQ(CachingPool::segment_size(MiB + 512), 20 * MiB);
  EXPECT_EQ(CachingPool::segment_size(10 * MiB - 512), 20 * MiB);
  EXPECT_EQ(CachingPool::segment_size(10 * MiB), 10 * MiB);
  EXPECT_EQ(CachingPool::segment_size(12 * MiB), 12 * MiB);

  FakeDevice dev;
  CachingPool pool(dev);
  void* p = pool.allocate(1000, 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % 512, 0u);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.requested_bytes, 1000);
  EXPECT_EQ(s.allocated_bytes, 1024);
  EXPECT_EQ(s.reserved_bytes, int64_t(2 * MiB));
  EXPECT_EQ(s.cached_bytes, int64_t(2 * MiB - 1024));
  expect_consistent(s);
  pool.deallocate(p);
}

TEST(MemoryPool, ReusesAFreedBlockWithoutANewRawAllocation) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* a = pool.allocate(3000, 0);
  pool.deallocate(a);
  void* b = pool.allocate(2900, 0);  // same size class: the same block
  EXPECT_EQ(a, b);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.cuda_mallocs, 1);
  EXPECT_EQ(s.cache_hits, 1);
  EXPECT_EQ(s.allocations, 2);
  EXPECT_EQ(s.frees, 1);
  EXPECT_EQ(dev.calls, 1);
  expect_consistent(s);
  pool.deallocate(b);
  EXPECT_EQ(pool.stats().allocated_bytes, 0);
  EXPECT_EQ(pool.stats().requested_bytes, 0);
}

TEST(MemoryPool, SmallBlocksShareASegmentAndMergeBack) {
  FakeDevice dev;
  CachingPool pool(dev);
  std::vector<char*> p;
  for (int i = 0; i < 4; ++i) p.push_back(static_cast<char*>(pool.allocate(512 * KiB, 0)));
  EXPECT_EQ(dev.calls, 1);  // four 512 KiB blocks fill one 2 MiB segment
  for (int i = 1; i < 4; ++i) EXPECT_EQ(p[i], p[i - 1] + 512 * KiB);
  void* fifth = pool.allocate(512 * KiB, 0);
  EXPECT_EQ(dev.calls, 2);
  pool.deallocate(fifth);  // its segment is whole again (2 MiB), at a higher address
  // Freed in an order that needs both merges (with the previous and the next block).
  pool.deallocate(p[1]);
  pool.deallocate(p[3]);
  pool.deallocate(p[2]);
  pool.deallocate(p[0]);
  // The segment is whole again: two 1 MiB blocks fit without a new raw allocation.
  void* x = pool.allocate(MiB, 0);
  void* y = pool.allocate(MiB, 0);
  EXPECT_EQ(x, p[0]);
  EXPECT_EQ(static_cast<char*>(y), p[0] + MiB);
  EXPECT_EQ(dev.calls, 2);
  expect_consistent(pool.stats());
  for (void* q : {x, y}) pool.deallocate(q);
}

TEST(MemoryPool, MediumBlocksSplitAndLargeBlocksMatchTheirSize) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* a = pool.allocate(3 * MiB, 0);  // medium: from a 20 MiB segment, 17 MiB left over
  void* b = pool.allocate(5 * MiB, 0);  // from the leftover: 12 MiB left
  void* c = pool.allocate(9 * MiB + 512 * KiB, 0);  // from the 12 MiB: 2.5 MiB left
  EXPECT_EQ(static_cast<char*>(b), static_cast<char*>(a) + 3 * MiB);
  EXPECT_EQ(static_cast<char*>(c), static_cast<char*>(b) + 5 * MiB);
  EXPECT_EQ(dev.calls, 1);
  EXPECT_EQ(pool.stats().cached_bytes, int64_t(2 * MiB + 512 * KiB));
  // 2 MiB takes the 2.5 MiB rest whole: a 0.5 MiB fragment is not split off.
  void* d = pool.allocate(2 * MiB, 0);
  EXPECT_EQ(dev.calls, 1);
  EXPECT_EQ(pool.stats().cached_bytes, 0);
  EXPECT_EQ(pool.stats().allocated_bytes, int64_t(20 * MiB));

  // Large: 13 MiB + 1 B rounds to 14 MiB, in a segment of its own.
  void* e = pool.allocate(13 * MiB + 1, 0);
  EXPECT_EQ(dev.calls, 2);
  EXPECT_EQ(pool.stats().allocated_bytes, int64_t(34 * MiB));
  EXPECT_EQ(pool.stats().requested_bytes, int64_t(19 * MiB + 512 * KiB + 13 * MiB + 1));
  pool.deallocate(e);
  void* f = pool.allocate(12 * MiB + 512 * KiB, 0);  // also 14 MiB: the same block
  EXPECT_EQ(f, e);
  pool.deallocate(f);
  void* g = pool.allocate(12 * MiB, 0);  // 12 MiB: not the cached 14 MiB block
  EXPECT_EQ(dev.calls, 3);
  pool.deallocate(a);
  void* h = pool.allocate(MiB, 0);  // small: never from a medium segment
  EXPECT_EQ(dev.calls, 4);
  expect_consistent(pool.stats());
  for (void* q : {b, c, d, g, h}) pool.deallocate(q);
}

TEST(MemoryPool, BlocksAreReusedOnlyOnTheStreamTheyWereAllocatedOn) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* a = pool.allocate(64 * KiB, /*stream=*/1);
  pool.deallocate(a);
  void* b = pool.allocate(64 * KiB, /*stream=*/2);  // another stream: not a's block
  EXPECT_EQ(dev.calls, 2);
  EXPECT_NE(a, b);
  void* c = pool.allocate(64 * KiB, /*stream=*/1);
  EXPECT_EQ(c, a);
  EXPECT_EQ(dev.calls, 2);
  pool.deallocate(b);
  pool.deallocate(c);
}

// One training step of an IGEBM-like model on CIFAR-10 (batch 128, fp32): parameter gradients,
// a positive pass whose activations live until backward, a Langevin chain of `steps` steps
// (each a forward and an input gradient whose temporaries die within the step), a negative
// pass, the backward, and an optimizer that creates its moment buffers on its first step.
struct StepPattern {
  std::vector<size_t> params;  // bytes of each parameter tensor
  std::vector<size_t> acts;    // bytes of the activations of one forward pass
  int steps = 60;
};

StepPattern igebm_like() {
  StepPattern p;
  const size_t f = 4;
  for (size_t c : {3u, 128u, 128u, 256u, 256u, 256u}) {
    p.params.push_back(c * 128 * 9 * f);  // conv weight
    p.params.push_back(c * f);            // bias
  }
  p.params.push_back(256 * f);
  for (size_t hw : {32u, 32u, 16u, 16u, 8u, 8u}) {
    const size_t ch = hw == 32 ? 128 : 256;
    p.acts.push_back(128 * ch * hw * hw * f);  // conv output
    p.acts.push_back(128 * ch * hw * hw * f);  // activation
  }
  p.acts.push_back(128 * f);  // energies
  return p;
}

// Runs one step; `state` holds the optimizer's buffers (made on the first call).
void run_step(CachingPool& pool, const StepPattern& p, std::vector<void*>& state) {
  const size_t image = 128 * 3 * 32 * 32 * 4;
  std::vector<void*> grads;
  for (size_t b : p.params) grads.push_back(pool.allocate(b, 0));
  void* x = pool.allocate(image, 0);  // the chain's samples, alive through the step
  std::vector<void*> pos;
  for (size_t b : p.acts) pos.push_back(pool.allocate(b, 0));
  for (int k = 0; k < p.steps; ++k) {
    std::vector<void*> fwd;
    for (size_t b : p.acts) fwd.push_back(pool.allocate(b, 0));
    std::vector<void*> back;
    for (auto it = p.acts.rbegin(); it != p.acts.rend(); ++it) {
      back.push_back(pool.allocate(*it, 0));
      pool.deallocate(fwd.back());
      fwd.pop_back();
      if (back.size() > 1) {  // the gradient of the layer above is no longer needed
        pool.deallocate(back.front());
        back.erase(back.begin());
      }
    }
    void* noise = pool.allocate(image, 0);
    void* x_new = pool.allocate(image, 0);
    pool.deallocate(noise);
    pool.deallocate(back.front());
    pool.deallocate(x);
    x = x_new;
  }
  std::vector<void*> neg;
  for (size_t b : p.acts) neg.push_back(pool.allocate(b, 0));
  for (int i = int(p.acts.size()) - 1; i >= 0; --i) {
    pool.deallocate(neg[i]);
    pool.deallocate(pos[i]);
  }
  if (state.empty())
    for (size_t b : p.params)
      for (int m = 0; m < 2; ++m) state.push_back(pool.allocate(b, 0));  // Adam's moments
  void* tmp = pool.allocate(p.params[1], 0);
  pool.deallocate(tmp);
  for (void* g : grads) pool.deallocate(g);
  pool.deallocate(x);
}

TEST(MemoryPool, SteadyStateOfATrainingStepMakesNoRawAllocation) {
  FakeDevice dev;
  CachingPool pool(dev);
  const StepPattern pattern = igebm_like();
  std::vector<void*> state;
  run_step(pool, pattern, state);
  const PoolStats first = pool.stats();
  expect_consistent(first);
  EXPECT_GT(first.cache_hits, first.cuda_mallocs);
  pool.reset_peak();
  for (int step = 2; step <= 60; ++step) {
    run_step(pool, pattern, state);
    const PoolStats s = pool.stats();
    ASSERT_EQ(s.cuda_mallocs, first.cuda_mallocs) << "step " << step;
    EXPECT_EQ(s.reserved_bytes, first.reserved_bytes);
    EXPECT_EQ(s.allocated_bytes, first.allocated_bytes);  // only the optimizer state lives on
    EXPECT_EQ(s.peak_reserved_bytes, first.reserved_bytes);
    expect_consistent(s);
  }
  EXPECT_EQ(dev.calls, first.cuda_mallocs);
  for (void* m : state) pool.deallocate(m);
  EXPECT_EQ(pool.stats().allocated_bytes, 0);
  EXPECT_EQ(pool.empty_cache(), size_t(first.reserved_bytes));
  EXPECT_EQ(dev.used, 0u);
}

// A random schedule repeated as steps: 1,000 operations on two streams, allocations of 1 B to
// 40 MiB (log-uniform) and frees of a random live block; what is live at the end of a step is
// freed, except the "persistent" allocations, which only the first step makes (like optimizer
// state). Returns the number of cudaMallocs of each of 60 steps.
std::vector<int64_t> mallocs_per_step(uint64_t seed, bool persistent) {
  std::mt19937_64 r(seed);
  enum Op { Alloc, Free, Keep };
  struct Step {
    Op op;
    size_t v;
    CachingPool::Stream stream;
  };
  std::vector<Step> ops;
  for (int i = 0; i < 1000; ++i) {
    const int k = int(r() % 10);
    const Op op = k < 6 ? Alloc : k < 9 || !persistent ? Free : Keep;
    const double log_size = std::uniform_real_distribution<double>(0, 25.3)(r);
    ops.push_back({op, op == Free ? size_t(r()) : size_t(std::exp2(log_size)), r() % 2});
  }
  FakeDevice dev;
  CachingPool pool(dev);
  std::vector<void*> kept;
  std::vector<int64_t> counts;
  for (int step = 0; step < 60; ++step) {
    const int64_t before = pool.stats().cuda_mallocs;
    std::vector<void*> live;
    for (const Step& o : ops) {
      if (o.op == Alloc) {
        live.push_back(pool.allocate(o.v, o.stream));
      } else if (o.op == Keep) {
        if (step == 0) kept.push_back(pool.allocate(o.v, o.stream));
      } else if (!live.empty()) {
        const size_t i = o.v % live.size();
        pool.deallocate(live[i]);
        live.erase(live.begin() + i);
      }
    }
    for (void* p : live) pool.deallocate(p);
    counts.push_back(pool.stats().cuda_mallocs - before);
    EXPECT_EQ(pool.stats().allocations - pool.stats().frees, int64_t(kept.size()));
  }
  for (void* p : kept) pool.deallocate(p);
  expect_consistent(pool.stats());
  pool.empty_cache();
  EXPECT_EQ(dev.used, 0u);
  return counts;
}

// The steady state argued in memory_pool.h: a repeated step makes cudaMallocs only in its first
// run, or in its first two when the first run leaves allocations behind.
TEST(MemoryPool, SteadyStateOfARepeatedRandomSchedule) {
  for (int trial = 0; trial < 20; ++trial) {
    const uint64_t seed = ebm::test::rng()();
    SCOPED_TRACE(seed);
    const std::vector<int64_t> plain = mallocs_per_step(seed, false);
    EXPECT_GT(plain[0], 0);
    for (size_t i = 1; i < plain.size(); ++i) ASSERT_EQ(plain[i], 0) << "step " << i + 1;
    const std::vector<int64_t> kept = mallocs_per_step(seed, true);
    for (size_t i = 2; i < kept.size(); ++i) ASSERT_EQ(kept[i], 0) << "step " << i + 1;
  }
}

TEST(MemoryPool, EmptyCacheReleasesOnlyWhollyFreeSegments) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* a = pool.allocate(100 * KiB, 0);   // segment 1 (2 MiB), stays in use
  void* b = pool.allocate(1536 * KiB, 0);  // segment 2 (20 MiB)
  void* c = pool.allocate(30 * MiB, 0);    // segment 3 (30 MiB)
  pool.deallocate(b);
  pool.deallocate(c);
  EXPECT_EQ(pool.empty_cache(), 50 * MiB);
  PoolStats s = pool.stats();
  EXPECT_EQ(s.reserved_bytes, int64_t(2 * MiB));
  EXPECT_EQ(s.cached_bytes, int64_t(2 * MiB - 100 * KiB));
  EXPECT_EQ(s.cuda_frees, 2);
  EXPECT_EQ(dev.used, 2 * MiB);
  expect_consistent(s);
  pool.deallocate(a);
  EXPECT_EQ(pool.empty_cache(), 2 * MiB);
  EXPECT_EQ(pool.stats().reserved_bytes, 0);
  EXPECT_EQ(dev.used, 0u);
}

TEST(MemoryPool, PeakCountersFollowTheHighestUse) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* a = pool.allocate(40 * MiB, 0);
  void* b = pool.allocate(24 * MiB, 0);
  pool.deallocate(a);
  void* c = pool.allocate(4 * MiB, 0);  // medium: a new 20 MiB segment (a's block stays cached)
  PoolStats s = pool.stats();
  EXPECT_EQ(s.peak_allocated_bytes, int64_t(64 * MiB));
  EXPECT_EQ(s.peak_reserved_bytes, int64_t(84 * MiB));
  EXPECT_EQ(s.allocated_bytes, int64_t(28 * MiB));
  pool.reset_peak();
  s = pool.stats();
  EXPECT_EQ(s.peak_allocated_bytes, int64_t(28 * MiB));
  EXPECT_EQ(s.peak_reserved_bytes, int64_t(84 * MiB));
  pool.deallocate(b);
  pool.deallocate(c);
  pool.empty_cache();
  s = pool.stats();
  EXPECT_EQ(s.peak_allocated_bytes, int64_t(28 * MiB));
  EXPECT_EQ(s.peak_reserved_bytes, int64_t(84 * MiB));
  EXPECT_EQ(s.reserved_bytes, 0);
}

TEST(MemoryPool, OutOfMemoryReleasesTheCacheAndRetriesOnce) {
  FakeDevice dev(64 * MiB);
  CachingPool pool(dev);
  pool.deallocate(pool.allocate(40 * MiB, 0));  // 40 MiB cached
  void* p = pool.allocate(50 * MiB, 0);         // fails, releases the 40 MiB, succeeds
  ASSERT_NE(p, nullptr);
  PoolStats s = pool.stats();
  EXPECT_EQ(dev.failures, 1);
  EXPECT_EQ(s.oom_retries, 1);
  EXPECT_EQ(s.cuda_frees, 1);
  EXPECT_EQ(s.reserved_bytes, int64_t(50 * MiB));
  expect_consistent(s);
  pool.deallocate(p);
}

TEST(MemoryPool, OutOfMemoryMessageNamesSizeDeviceAndMemory) {
  FakeDevice dev(64 * MiB);
  CachingPool pool(dev);
  void* live = pool.allocate(30 * MiB, 0);
  pool.deallocate(pool.allocate(20 * KiB, 0));  // 2 MiB cached, released by the retry
  ebm::test::expect_error<CudaError>([&] { pool.allocate(100 * MiB, 0); },
                                     {"CUDA out of memory", "104857600 bytes (100.00 MiB)",
                                      "cuda:3", "after releasing 2.00 MiB",
                                      "holds 30.00 MiB allocated and 0 B cached",
                                      "34.00 MiB free of 64.00 MiB total", "memory_pool.h:"});
  EXPECT_EQ(pool.stats().oom_retries, 1);
  // Nothing cached: no retry, and the message says what the cache held.
  void* small = pool.allocate(KiB, 0);  // 2 MiB segment, mostly cached
  dev.fail_all = true;
  ebm::test::expect_error<CudaError>([&] { pool.allocate(31 * MiB, 0); },
                                     {"32505856 bytes (31.00 MiB)",
                                      "cudaMalloc of 32.00 MiB failed)",
                                      "and 2.00 MiB cached", "32.00 MiB free of 64.00 MiB"});
  EXPECT_EQ(pool.stats().oom_retries, 1);
  dev.fail_all = false;
  // The pool is still usable and its counters consistent.
  void* q = pool.allocate(16 * MiB, 0);
  expect_consistent(pool.stats());
  for (void* x : {live, small, q}) pool.deallocate(x);
  EXPECT_EQ(pool.stats().allocated_bytes, 0);
}

TEST(MemoryPool, UncachedModeAllocatesExactSizesAndFreesAtOnce) {
  FakeDevice dev;
  CachingPool pool(dev, /*caching=*/false);
  void* a = pool.allocate(1000, 0);
  EXPECT_EQ(dev.used, 1000u);  // exact bounds, for compute-sanitizer
  void* b = pool.allocate(5 * MiB, 0);
  PoolStats s = pool.stats();
  EXPECT_FALSE(s.caching);
  EXPECT_EQ(s.cuda_mallocs, 2);
  EXPECT_EQ(s.cache_hits, 0);
  EXPECT_EQ(s.allocated_bytes, int64_t(1000 + 5 * MiB));
  EXPECT_EQ(s.reserved_bytes, s.allocated_bytes);
  pool.deallocate(a);
  EXPECT_EQ(dev.used, 5 * MiB);
  void* c = pool.allocate(1000, 0);
  EXPECT_EQ(pool.stats().cuda_mallocs, 3);
  pool.deallocate(b);
  pool.deallocate(c);
  s = pool.stats();
  EXPECT_EQ(s.cuda_frees, 3);
  EXPECT_EQ(s.reserved_bytes, 0);
  EXPECT_EQ(dev.used, 0u);
  dev.fail_all = true;
  ebm::test::expect_error<CudaError>([&] { pool.allocate(123, 0); }, {"123 bytes", "cuda:3"});
}

TEST(MemoryPool, EnvironmentSettingTurnsTheCacheOff) {
  EXPECT_TRUE(ebm::cuda::pool_enabled_by(nullptr));
  EXPECT_TRUE(ebm::cuda::pool_enabled_by("1"));
  EXPECT_TRUE(ebm::cuda::pool_enabled_by(""));
  for (const char* off : {"0", "off", "false", "no", "OFF"})
    EXPECT_FALSE(ebm::cuda::pool_enabled_by(off)) << off;
}

TEST(MemoryPool, FreeOfAForeignPointerIsReportedAndIgnored) {
  FakeDevice dev;
  CachingPool pool(dev);
  void* a = pool.allocate(KiB, 0);
  int x = 0;
  testing::internal::CaptureStderr();
  pool.deallocate(&x);
  pool.deallocate(nullptr);  // silently nothing
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("which it did not allocate"), std::string::npos) << err;
  EXPECT_EQ(pool.stats().frees, 0);
  pool.deallocate(a);
}

// Random allocations and frees on three streams: live blocks never overlap, lie inside a raw
// segment, are 512-byte aligned and at least as big as asked; the counters add up throughout.
TEST(MemoryPool, RandomUseKeepsBlocksDisjointAndCountersConsistent) {
  const uint64_t seed = std::random_device{}();
  SCOPED_TRACE(seed);
  std::mt19937_64 r(seed);
  FakeDevice dev(size_t(2) << 30);
  CachingPool pool(dev);
  std::map<uintptr_t, size_t> live;  // address -> requested bytes
  int64_t requested = 0;
  for (int i = 0; i < 20000; ++i) {
    const bool alloc = live.empty() || r() % 2 == 0;
    if (alloc) {
      size_t n = size_t(std::exp2(std::uniform_real_distribution<double>(0, 25)(r)));
      void* p = nullptr;
      try {
        p = pool.allocate(n, r() % 3);
      } catch (const CudaError&) {
        continue;  // the 2 GiB fake device is full: allowed
      }
      const uintptr_t a = reinterpret_cast<uintptr_t>(p);
      ASSERT_EQ(a % 512, 0u);
      ASSERT_TRUE(dev.contains(a, n));
      auto next = live.lower_bound(a);
      if (next != live.end()) {
        ASSERT_LE(a + n, next->first);
      }
      if (next != live.begin()) {
        auto prev = std::prev(next);
        ASSERT_LE(prev->first + prev->second, a);
      }
      live[a] = n;
      requested += int64_t(n);
    } else {
      auto it = live.begin();
      std::advance(it, r() % live.size());
      pool.deallocate(reinterpret_cast<void*>(it->first));
      requested -= int64_t(it->second);
      live.erase(it);
    }
    if (i % 97 == 0) {
      const PoolStats s = pool.stats();
      expect_consistent(s);
      ASSERT_EQ(s.requested_bytes, requested);
      ASSERT_EQ(size_t(s.reserved_bytes), dev.used);
    }
    if (i % 5000 == 4999) pool.empty_cache();
  }
  for (auto& [a, n] : live) pool.deallocate(reinterpret_cast<void*>(a));
  expect_consistent(pool.stats());
  pool.empty_cache();
  EXPECT_EQ(dev.used, 0u);
}

TEST(MemoryPool, ThreadsShareAPoolSafely) {
  FakeDevice dev;
  CachingPool pool(dev);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&pool, t] {
      std::mt19937_64 r(t);
      std::vector<void*> mine;
      for (int i = 0; i < 5000; ++i) {
        if (mine.empty() || r() % 2) {
          mine.push_back(pool.allocate(1 + r() % (3 * MiB), t % 2));
        } else {
          const size_t k = r() % mine.size();
          pool.deallocate(mine[k]);
          mine.erase(mine.begin() + k);
        }
      }
      for (void* p : mine) pool.deallocate(p);
    });
  for (auto& th : threads) th.join();
  const PoolStats s = pool.stats();
  EXPECT_EQ(s.allocated_bytes, 0);
  EXPECT_EQ(s.allocations, s.frees);
  expect_consistent(s);
  pool.empty_cache();
  EXPECT_EQ(dev.used, 0u);
}

// Through core's hooks, without a usable device: zero counters and nothing to empty.
TEST(MemoryPool, HooksWithoutADeviceReportZero) {
  if (ebm::device_hooks::cuda_device_count() > 0)
    GTEST_SKIP() << "a CUDA device is present; tests/cuda covers the pool on it";
  const ebm::device_hooks::CudaPoolStats s = ebm::device_hooks::cuda_pool_stats(0);
  EXPECT_EQ(s.reserved_bytes, 0);
  EXPECT_EQ(s.cuda_mallocs, 0);
  EXPECT_NO_THROW(ebm::device_hooks::cuda_empty_cache(0));
  EXPECT_NO_THROW(ebm::device_hooks::cuda_reset_peak_pool_stats(0));
}

}  // namespace
