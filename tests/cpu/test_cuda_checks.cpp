// The checked-call macros of cuda/check.h, exercised without a GPU (CUDA builds only): a failing
// runtime, cuBLAS, cuRAND or cuDNN status becomes an ebm::CudaError naming the expression, the
// status's enum name and text, and file:line; the _LOG variant prints instead of throwing and is
// quiet during runtime shutdown. tests/cuda/test_cuda_device.cpp repeats the runtime part on a GPU.
#ifdef EBM_WITH_CUDA

#include <cublas_api.h>
#include <curand.h>
#include <gtest/gtest.h>

#include <string>

#include "cuda/check.h"
#include "cuda/device.h"

namespace {

template <class F>
std::string thrown_message(F&& f) {
  try {
    f();
  } catch (const ebm::CudaError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no CudaError thrown";
  return "";
}

bool has(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

TEST(CudaChecks, RuntimeErrorNamesExpressionErrorAndLine) {
  // A null device pointer argument fails with or without a GPU.
  const std::string msg =
      thrown_message([] { EBM_CUDA_CHECK(cudaMemset(nullptr, 0, 16)); });
  EXPECT_TRUE(has(msg, "cudaMemset(nullptr, 0, 16)")) << msg;
  EXPECT_TRUE(has(msg, "cudaError")) << msg;  // the enum name, e.g. cudaErrorInvalidValue
  EXPECT_TRUE(has(msg, "test_cuda_checks.cpp:")) << msg;
}

TEST(CudaChecks, AbsurdMallocThrows) {
  void* p = nullptr;
  const std::string msg =
      thrown_message([&] { EBM_CUDA_CHECK(cudaMalloc(&p, size_t(1) << 62)); });
  EXPECT_TRUE(has(msg, "cudaMalloc(&p, size_t(1) << 62)")) << msg;
  EXPECT_EQ(p, nullptr);
}

TEST(CudaChecks, CuRandStatusIsNamed) {
  curandGenerator_t gen = nullptr;
  // No such generator type: cuRAND refuses it before touching any device.
  const std::string msg = thrown_message(
      [&] { EBM_CURAND_CHECK(curandCreateGeneratorHost(&gen, static_cast<curandRngType_t>(12345))); });
  EXPECT_TRUE(has(msg, "CURAND_STATUS_TYPE_ERROR")) << msg;
  EXPECT_TRUE(has(msg, "curandCreateGeneratorHost")) << msg;
  for (int s : {100, 101, 102, 103, 104, 105, 106, 201, 202, 203, 204, 999})
    EXPECT_TRUE(has(ebm::cuda::describe_curand_status(s), "CURAND_STATUS_")) << s;
  EXPECT_TRUE(has(ebm::cuda::describe_curand_status(77), "unknown")) << "77";
}

TEST(CudaChecks, CuBlasStatusIsNamed) {
  const std::string msg = thrown_message([] { EBM_CUBLAS_CHECK(CUBLAS_STATUS_NOT_SUPPORTED); });
  EXPECT_TRUE(has(msg, "cuBLAS error in `CUBLAS_STATUS_NOT_SUPPORTED`: CUBLAS_STATUS_NOT_SUPPORTED:"))
      << msg;
  for (int s : {1, 3, 7, 8, 11, 13, 14, 15, 16})
    EXPECT_TRUE(has(ebm::cuda::describe_cublas_status(s), "CUBLAS_STATUS_")) << s;
  EXPECT_NO_THROW(EBM_CUBLAS_CHECK(CUBLAS_STATUS_SUCCESS));
}

TEST(CudaChecks, CudnnStatusIsNamed) {
  // 2000 is CUDNN_STATUS_BAD_PARAM in cuDNN 9 (cudnn.h is not on this target's include path).
  const std::string msg = thrown_message([] { EBM_CUDNN_CHECK(2000); });
  EXPECT_TRUE(has(msg, "CUDNN_STATUS_BAD_PARAM")) << msg;
}

TEST(CudaChecks, LogVariantPrintsAndIsQuietAtShutdown) {
  testing::internal::CaptureStderr();
  EBM_CUDA_CHECK_LOG(cudaErrorInvalidValue);
  EBM_CUDA_CHECK_LOG(cudaErrorCudartUnloading);
  EBM_CUDA_CHECK_LOG(cudaSuccess);
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_TRUE(has(err, "cudaErrorInvalidValue")) << err;
  EXPECT_FALSE(has(err, "Unloading")) << err;
}

TEST(CudaChecks, Helpers) {
  static_assert(ebm::cuda::ceil_div(0, 256) == 0);
  static_assert(ebm::cuda::ceil_div(1, 256) == 1);
  static_assert(ebm::cuda::ceil_div(256, 256) == 1);
  static_assert(ebm::cuda::ceil_div(257, 256) == 2);
  static_assert(ebm::cuda::ceil_div<int64_t>(int64_t(1) << 40, 3) == 366503875926);
  EXPECT_EQ(ebm::cuda::version_string(13000), "13.0");
  EXPECT_EQ(ebm::cuda::version_string(12040), "12.4");
  EXPECT_EQ(ebm::cuda::format_bytes(512), "512 B");
  EXPECT_EQ(ebm::cuda::format_bytes(1.5 * 1024 * 1024 * 1024), "1.50 GiB");
}

TEST(CudaChecks, NoDeviceMeansAReasonAndTypedErrors) {
  if (ebm::cuda::device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  EXPECT_FALSE(ebm::cuda::unavailable_reason().empty());
  EXPECT_THROW(ebm::cuda::current_stream(), ebm::DeviceError);
  EXPECT_THROW(ebm::cuda::device_info(0), ebm::DeviceError);
  EXPECT_THROW(ebm::cuda::DeviceGuard g(0), ebm::DeviceError);
}

}  // namespace

#endif  // EBM_WITH_CUDA
