// EBM_CUDA_CHECK_LAUNCH turns a bad launch configuration into a CudaError at the launcher's line,
// and the error does not linger to fail the next, good launch.
#include <gtest/gtest.h>

#include <string>

#include "cuda_test_util.h"

namespace {

__global__ void write_index(int* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) out[i] = i;
}

TEST(CudaLaunchCheck, BadConfigurationThrowsAndClears) {
  EBM_REQUIRE_CUDA();
  ebm::test::DeviceBuffer<int> buf(1000);
  cudaStream_t s = ebm::cuda::current_stream();
  try {
    write_index<<<1, 4096, 0, s>>>(buf.get(), 1000);  // more threads per block than allowed
    EBM_CUDA_CHECK_LAUNCH();
    FAIL() << "a 4096-thread block launched";
  } catch (const ebm::CudaError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("kernel launch"), std::string::npos) << msg;
    EXPECT_NE(msg.find("cudaErrorInvalidConfiguration"), std::string::npos) << msg;
  }
  buf.poison(0xFF);
  write_index<<<ebm::cuda::ceil_div(1000, 256), 256, 0, s>>>(buf.get(), 1000);
  EXPECT_NO_THROW(EBM_CUDA_CHECK_LAUNCH());
  std::vector<int> got = buf.download(0, 1000);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got[i], i);
}

}  // namespace
