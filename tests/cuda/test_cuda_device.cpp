// CUDA device detection, streams, checked-call errors on a real device, and the device hooks
// behind CUDA tensors (allocation, out-of-memory message, copies, memset). Skips with the reason
// when there is no device.
#include <gtest/gtest.h>

#include <cstring>
#include <iostream>
#include <random>
#include <string>
#include <thread>

#include "core/storage.h"
#include "core/tensor.h"
#include "cuda_test_util.h"

namespace {

using ebm::Device;
using ebm::DType;
using ebm::Tensor;

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CudaDevice, DetectsADeviceAndDescribesIt) {
  EBM_REQUIRE_CUDA();
  EXPECT_GT(ebm::cuda::device_count(), 0);
  ebm::cuda::DeviceInfo info = ebm::cuda::device_info(0);
  std::cout << "[ device ] " << info.to_string() << "\n";
  EXPECT_FALSE(info.name.empty());
  EXPECT_GE(info.sm(), 50);
  EXPECT_GT(info.multiprocessors, 0);
  EXPECT_EQ(info.multiprocessors, ebm::cuda::multiprocessor_count(0));
  EXPECT_GT(info.total_memory, size_t(1) << 30);
  EXPECT_GE(info.driver_version, info.runtime_version);  // else the reason would say "too old"
  EXPECT_THROW(ebm::cuda::device_info(ebm::cuda::device_count()), ebm::DeviceError);
}

TEST(CudaDevice, DefaultStreamIsNonBlockingAndStable) {
  EBM_REQUIRE_CUDA();
  cudaStream_t s = ebm::cuda::current_stream();
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(ebm::cuda::current_stream(0), s);
  unsigned flags = 0;
  EBM_CUDA_CHECK(cudaStreamGetFlags(s, &flags));
  EXPECT_EQ(flags & cudaStreamNonBlocking, unsigned(cudaStreamNonBlocking));
  cudaStream_t other_thread = nullptr;
  std::thread([&] { other_thread = ebm::cuda::current_stream(0); }).join();
  EXPECT_EQ(other_thread, s);  // one default stream per device, shared by threads

  cudaStream_t mine = nullptr;
  EBM_CUDA_CHECK(cudaStreamCreateWithFlags(&mine, cudaStreamNonBlocking));
  {
    ebm::cuda::StreamGuard guard(mine);
    EXPECT_EQ(ebm::cuda::current_stream(), mine);
    cudaStream_t seen_elsewhere = nullptr;
    std::thread([&] { seen_elsewhere = ebm::cuda::current_stream(0); }).join();
    EXPECT_EQ(seen_elsewhere, s);  // the guard is per thread
  }
  EXPECT_EQ(ebm::cuda::current_stream(), s);
  EBM_CUDA_CHECK(cudaStreamDestroy(mine));
}

TEST(CudaDevice, CheckMacrosThrowWithExpressionAndClearTheError) {
  EBM_REQUIRE_CUDA();
  void* p = nullptr;
  try {
    EBM_CUDA_CHECK(cudaMalloc(&p, size_t(1) << 60));
    FAIL() << "an exabyte allocation succeeded";
  } catch (const ebm::CudaError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(has(msg, "cudaMalloc(&p, size_t(1) << 60)")) << msg;
    EXPECT_TRUE(has(msg, "cudaErrorMemoryAllocation")) << msg;
    EXPECT_TRUE(has(msg, "test_cuda_device.cpp:")) << msg;
  }
  // The failure was cleared: the next launch check does not report it.
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_NO_THROW(EBM_CUDA_CHECK_LAUNCH());
}

TEST(CudaDevice, OutOfMemoryNamesSizeAndDeviceMemory) {
  EBM_REQUIRE_CUDA();
  try {
    Tensor t = Tensor::empty({int64_t(1) << 40}, DType::Float32, Device::cuda());  // 4 TiB
    FAIL() << "a 4 TiB tensor was allocated";
  } catch (const ebm::CudaError& e) {
    const std::string msg = e.what();
    EXPECT_TRUE(has(msg, "out of memory")) << msg;
    EXPECT_TRUE(has(msg, "4398046511104 bytes (4.00 TiB)")) << msg;
    EXPECT_TRUE(has(msg, "free of")) << msg;
    EXPECT_TRUE(has(msg, "cuda:0")) << msg;
  }
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
  EXPECT_NO_THROW(Tensor::empty({16}, DType::Float32, Device::cuda()));
}

template <class T>
std::vector<T> random_values(size_t n) {
  std::mt19937_64 gen(std::random_device{}());
  std::vector<T> v(n);
  for (auto& x : v) {
    uint64_t r = gen();
    std::memcpy(&x, &r, sizeof(T));  // arbitrary bit patterns: NaNs and denormals must survive
  }
  return v;
}

template <class T>
void expect_bitwise_equal(const std::vector<T>& a, const std::vector<T>& b) {
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(T)), 0);
}

template <class T>
std::vector<T> host_values(const Tensor& t) {
  Tensor h = t.to(Device::cpu());
  const T* p = h.data<T>();
  return std::vector<T>(p, p + h.numel());
}

TEST(CudaDevice, TensorRoundTripIsExact) {
  EBM_REQUIRE_CUDA();
  const auto before = ebm::memory_stats(ebm::DeviceType::CUDA);
  for (int64_t n : {1, 3, 1000, 262147}) {
    SCOPED_TRACE(n);
    Tensor f = Tensor::empty({n}, DType::Float32);
    auto fv = random_values<float>(n);
    std::memcpy(f.data<float>(), fv.data(), n * sizeof(float));
    Tensor fd = f.to(Device::cuda());
    EXPECT_TRUE(fd.device().is_cuda());
    expect_bitwise_equal(host_values<float>(fd), fv);
    expect_bitwise_equal(host_values<float>(fd.clone()), fv);  // device-to-device copy

    auto dv = random_values<double>(n);
    Tensor d = Tensor::from_vector(dv, {n}, Device::cuda());
    expect_bitwise_equal(host_values<double>(d), dv);

    auto iv = random_values<int64_t>(n);
    Tensor i = Tensor::from_vector(iv, {n}, Device::cuda());
    expect_bitwise_equal(host_values<int64_t>(i), iv);
  }
  // A view with a storage offset, and a zero fill (cudaMemsetAsync) of a poisoned tensor.
  auto v = random_values<float>(6 * 5);
  Tensor m = Tensor::from_vector(std::vector<float>(v.begin(), v.end()), {6, 5}, Device::cuda());
  auto rows = host_values<float>(m.slice(2, 4));
  expect_bitwise_equal(rows, std::vector<float>(v.begin() + 10, v.begin() + 20));
  Tensor z = Tensor::full({7}, 1.0, DType::Float32).to(Device::cuda());
  z.fill_(0.0);
  EXPECT_EQ(host_values<float>(z), std::vector<float>(7, 0.0f));
  // Everything above was freed again.
  m = Tensor();
  z = Tensor();
  EXPECT_EQ(ebm::memory_stats(ebm::DeviceType::CUDA).allocated_bytes, before.allocated_bytes);
}

}  // namespace
