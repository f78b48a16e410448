// Without a usable GPU, asking for CUDA memory is a clear, typed error that says why, never a
// crash or a bare runtime code. Runs in CI: in a CUDA build on a machine with no GPU it checks
// the "no CUDA device" message; in a CPU-only build, the "not compiled with CUDA" one.
#include <gtest/gtest.h>

#include <string>

#include "core/device_hooks.h"
#include "core/tensor.h"

namespace {

// Calls Tensor::empty on cuda:0 and returns the message of the DeviceError or CudaError thrown.
std::string cuda_empty_error() {
  try {
    ebm::Tensor t = ebm::Tensor::empty({2}, ebm::DType::Float32, ebm::Device::cuda());
  } catch (const ebm::DeviceError& e) {
    return e.what();
  } catch (const ebm::CudaError& e) {
    return e.what();
  }
  ADD_FAILURE() << "Tensor::empty on cuda:0 did not throw";
  return "";
}

TEST(CudaUnavailable, EmptyCudaTensorSaysWhy) {
#ifdef EBM_WITH_CUDA
  if (ebm::device_hooks::cuda_device_count() > 0)
    GTEST_SKIP() << "a CUDA device is present; tests/cuda covers allocation on it";
  const std::string reason = ebm::device_hooks::cuda_unavailable_reason();
  EXPECT_FALSE(reason.empty());
  const std::string msg = cuda_empty_error();
  EXPECT_NE(msg.find(reason), std::string::npos) << msg;
  if (reason.rfind("CUDA driver too old", 0) != 0)  // a driver without a GPU says so instead
    EXPECT_NE(msg.find("no CUDA device"), std::string::npos) << msg;
  EXPECT_NE(msg.find("cuda:0"), std::string::npos) << msg;
#else
  EXPECT_EQ(ebm::device_hooks::cuda_device_count(), 0);
  const std::string msg = cuda_empty_error();
  EXPECT_NE(msg.find("not compiled with CUDA"), std::string::npos) << msg;
#endif
}

}  // namespace
