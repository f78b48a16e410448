// The caching allocator on a real device (cuda/memory_pool.h), through CUDA tensors: a loop of
// Tensor::empty makes no cudaMalloc after its first iteration, the counters add up, blocks cut
// from one segment hold their own data, blocks stay on their stream, the out-of-memory message
// names the size and the device's memory, and empty_cache gives memory back to the driver.
// The bookkeeping itself is tested without a GPU in tests/cpu/test_memory_pool.cpp.
#include <gtest/gtest.h>

#include <iostream>
#include <string>
#include <vector>

#include "core/device_hooks.h"
#include "core/storage.h"
#include "core/tensor.h"
#include "cuda/memory_pool.h"
#include "cuda_test_util.h"

namespace {

using ebm::Device;
using ebm::DType;
using ebm::Tensor;
using ebm::device_hooks::CudaPoolStats;

bool has(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

CudaPoolStats stats() { return ebm::device_hooks::cuda_pool_stats(0); }

void expect_consistent(const CudaPoolStats& s) {
  EXPECT_EQ(s.allocated_bytes + s.cached_bytes, s.reserved_bytes);
  EXPECT_GE(s.cached_bytes, 0);
  EXPECT_LE(s.requested_bytes, s.allocated_bytes);
  EXPECT_LE(s.allocated_bytes, s.peak_allocated_bytes);
  if (s.caching) {
    EXPECT_EQ(s.allocations, s.cache_hits + s.cuda_mallocs);
  } else {
    EXPECT_EQ(s.allocations, s.cuda_mallocs);
  }
}

#define EBM_REQUIRE_POOL()                                                                   \
  do {                                                                                       \
    EBM_REQUIRE_CUDA();                                                                      \
    if (!ebm::cuda::pool_enabled()) GTEST_SKIP() << "EBM_CUDA_POOL=0: the cache is bypassed"; \
  } while (0)

TEST(CudaMemoryPool, FormatsBytesAsTheDeviceHelperDoes) {
  for (double b : {0.0, 512.0, 1023.0, 1024.0, 1536.0, 12.0 * 1048576, 4398046511104.0})
    EXPECT_EQ(ebm::cuda::detail::pool_format_bytes(b), ebm::cuda::format_bytes(b)) << b;
}

TEST(CudaMemoryPool, ModeAndCountersAreConsistent) {
  EBM_REQUIRE_CUDA();
  Tensor t = Tensor::empty({1000}, DType::Float32, Device::cuda());
  const CudaPoolStats s = stats();
  EXPECT_EQ(s.caching, ebm::cuda::pool_enabled());
  EXPECT_GT(s.allocations, 0);
  expect_consistent(s);
  std::cout << "[ pool ] caching " << s.caching << ", reserved " << s.reserved_bytes
            << " B, cudaMallocs " << s.cuda_mallocs << ", hits " << s.cache_hits << "\n";
}

TEST(CudaMemoryPool, StatsFollowATensor) {
  EBM_REQUIRE_POOL();
  const CudaPoolStats before = stats();
  const auto core_before = ebm::memory_stats(ebm::DeviceType::CUDA);
  {
    Tensor t = Tensor::empty({1000}, DType::Float32, Device::cuda());  // 4000 B
    const CudaPoolStats s = stats();
    EXPECT_EQ(s.requested_bytes - before.requested_bytes, 4032);  // Storage pads to 64 B
    EXPECT_EQ(s.allocated_bytes - before.allocated_bytes, 4096);  // the pool rounds to 512 B
    EXPECT_EQ(s.allocations - before.allocations, 1);
    const auto core_now = ebm::memory_stats(ebm::DeviceType::CUDA);
    EXPECT_EQ(core_now.allocated_bytes - core_before.allocated_bytes, 4000);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 512, 0u);
    expect_consistent(s);
  }
  const CudaPoolStats after = stats();
  EXPECT_EQ(after.allocated_bytes, before.allocated_bytes);
  EXPECT_EQ(after.requested_bytes, before.requested_bytes);
  EXPECT_EQ(after.frees - before.frees, 1);
  EXPECT_EQ(after.reserved_bytes - after.cached_bytes, before.reserved_bytes - before.cached_bytes);
}

// The tensors of a small conv net's step on CIFAR-sized batches: some live through the
// iteration, others are temporaries of an inner loop (a Langevin chain).
TEST(CudaMemoryPool, RepeatedTensorEmptyMakesNoCudaMallocAfterTheFirstIteration) {
  EBM_REQUIRE_POOL();
  const std::vector<ebm::Shape> shapes = {{128, 3, 32, 32},  {128, 128, 32, 32}, {128, 128, 32, 32},
                                          {128, 256, 16, 16}, {128, 256, 8, 8},  {256, 128, 3, 3},
                                          {256},              {128},             {7}};
  const CudaPoolStats start = stats();
  int64_t mallocs_after_first = -1;
  for (int it = 0; it < 30; ++it) {
    std::vector<Tensor> live;
    for (const auto& s : shapes) live.push_back(Tensor::empty(s, DType::Float32, Device::cuda()));
    for (int k = 0; k < 10; ++k) {
      std::vector<Tensor> tmp;
      for (auto s = shapes.rbegin(); s != shapes.rend(); ++s)
        tmp.push_back(Tensor::empty(*s, DType::Float32, Device::cuda()));
      tmp.back().zero_();  // touch the memory: a bad pointer would fault here
      Tensor x = Tensor::empty({128, 3, 32, 32}, DType::Float32, Device::cuda());
    }
    live.clear();
    const CudaPoolStats s = stats();
    expect_consistent(s);
    EXPECT_EQ(s.allocated_bytes, start.allocated_bytes) << "iteration " << it;
    if (it == 0)
      mallocs_after_first = s.cuda_mallocs;
    else
      ASSERT_EQ(s.cuda_mallocs, mallocs_after_first) << "a cudaMalloc in iteration " << it + 1;
  }
  ebm::cuda::synchronize(0);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

// Many small tensors share 2 MiB segments: each must hold its own values.
TEST(CudaMemoryPool, BlocksOfOneSegmentHoldTheirOwnData) {
  EBM_REQUIRE_CUDA();
  std::vector<Tensor> ts;
  std::vector<std::vector<float>> want;
  auto add = [&](int i) {
    const int64_t n = 1 + (i * 7919) % 3000;
    want.emplace_back(n, float(i) + 0.5f);
    ts.push_back(Tensor::from_vector(want.back(), {n}, Device::cuda()));
  };
  for (int i = 0; i < 64; ++i) add(i);
  for (int i = 0; i < 64; i += 2) ts[i] = Tensor();  // free every other one, then refill
  for (int i = 64; i < 96; ++i) add(i);
  for (size_t i = 0; i < ts.size(); ++i) {
    if (ts[i].defined()) {
      EXPECT_EQ(ts[i].to_vector<float>(), want[i]) << "tensor " << i;
    }
  }
}

TEST(CudaMemoryPool, BlocksAreReusedOnTheirOwnStreamOnly) {
  EBM_REQUIRE_POOL();
  cudaStream_t mine = nullptr;
  EBM_CUDA_CHECK(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking));
  ebm::device_hooks::cuda_empty_cache(0);  // no segment cached for a reused stream handle
  const ebm::Shape shape = {3, 1000, 37};  // 444000 B: a small block
  { Tensor warm = Tensor::empty(shape, DType::Float32, Device::cuda()); }
  const int64_t m0 = stats().cuda_mallocs;
  { Tensor again = Tensor::empty(shape, DType::Float32, Device::cuda()); }
  EXPECT_EQ(stats().cuda_mallocs, m0);  // the default stream's block
  {
    ebm::cuda::StreamGuard guard(mine);
    Tensor other = Tensor::empty(shape, DType::Float32, Device::cuda());
    other.zero_();
    // Not the default stream's cached block: a new segment for `mine`.
    EXPECT_EQ(stats().cuda_mallocs, m0 + 1);
    ebm::cuda::synchronize(0);
  }
  { Tensor back = Tensor::empty(shape, DType::Float32, Device::cuda()); }
  EXPECT_EQ(stats().cuda_mallocs, m0 + 1);
  EBM_CUDA_CHECK(cudaStreamDestroy(mine));
  ebm::device_hooks::cuda_empty_cache(0);  // drops the segment cached for `mine`
}

TEST(CudaMemoryPool, OutOfMemoryNamesSizeDeviceAndMemory) {
  EBM_REQUIRE_CUDA();
  size_t free_b = 0, total_b = 0;
  EBM_CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
  try {
    Tensor t = Tensor::empty({int64_t(1) << 40}, DType::Float32, Device::cuda());  // 4 TiB
    FAIL() << "a 4 TiB tensor was allocated";
  } catch (const ebm::CudaError& e) {
    const std::string msg = e.what();
    std::cout << "[ oom ] " << msg << "\n";
    EXPECT_TRUE(has(msg, "CUDA out of memory")) << msg;
    EXPECT_TRUE(has(msg, "4398046511104 bytes (4.00 TiB)")) << msg;
    EXPECT_TRUE(has(msg, "on cuda:0")) << msg;
    EXPECT_TRUE(has(msg, "allocated and")) << msg;
    EXPECT_TRUE(has(msg, " cached")) << msg;
    EXPECT_TRUE(has(msg, "free of " + ebm::cuda::format_bytes(double(total_b)) + " total")) << msg;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  Tensor ok = Tensor::zeros({16}, DType::Float32, Device::cuda());
  EXPECT_EQ(ok.to_vector<float>(), std::vector<float>(16, 0.0f));
  expect_consistent(stats());
}

TEST(CudaMemoryPool, EmptyCacheGivesMemoryBackToTheDevice) {
  EBM_REQUIRE_POOL();
  const size_t bytes = size_t(256) << 20;
  { Tensor big = Tensor::empty({int64_t(bytes / 4)}, DType::Float32, Device::cuda()); }
  const CudaPoolStats cached = stats();
  EXPECT_GE(cached.cached_bytes, int64_t(bytes));
  size_t free_before = 0, free_after = 0, total = 0;
  EBM_CUDA_CHECK(cudaMemGetInfo(&free_before, &total));
  ebm::device_hooks::cuda_empty_cache(0);
  EBM_CUDA_CHECK(cudaMemGetInfo(&free_after, &total));
  const CudaPoolStats s = stats();
  EXPECT_LE(s.reserved_bytes, cached.reserved_bytes - int64_t(bytes));
  EXPECT_GT(s.cuda_frees, cached.cuda_frees);
  EXPECT_EQ(s.allocated_bytes, cached.allocated_bytes);
  // The driver sees the 256 MiB again (other processes on the GPU could blur this; allow 16 MiB).
  EXPECT_GE(free_after, free_before + bytes - (size_t(16) << 20))
      << "free before " << free_before << ", after " << free_after;
  expect_consistent(s);
}

}  // namespace
