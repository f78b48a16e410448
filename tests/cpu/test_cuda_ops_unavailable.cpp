// Without a usable GPU, the ops on cuda tensors (elementwise, reductions, indexing, random fills),
// Tensor::fill_ and the CUDA launchers behind them fail with a typed error that says why
// (DeviceError or CudaError carrying the reason: "no CUDA device", "not compiled with CUDA", ...),
// never a crash. Runs in CI; skips where a device is present (tests/cuda covers the ops there).
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "core/device_hooks.h"
#include "core/ops/elementwise.h"
#include "core/ops/index.h"
#include "core/ops/random.h"
#include "core/ops/reduce.h"
#include "core/random.h"
#include "core/tensor.h"

#if defined(EBM_WITH_CUDA)
#include "cuda/elementwise.h"
#include "cuda/index.h"
#include "cuda/philox_fill.h"
#include "cuda/reduce.h"
#endif

namespace ebm {
namespace {

// The message of the DeviceError or CudaError that f throws ("" and a failure if none).
std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const DeviceError& e) {
    return e.what();
  } catch (const CudaError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no DeviceError or CudaError";
  return "";
}

Tensor on_cuda(double v) { return Tensor::full({3, 4}, v, DType::Float32, Device::cuda()); }

TEST(CudaOpsUnavailable, OpsOnCudaTensorsSayWhy) {
  if (device_hooks::cuda_device_count() > 0)
    GTEST_SKIP() << "a CUDA device is present; tests/cuda covers the ops on it";
  const std::string reason = device_hooks::cuda_unavailable_reason();
  ASSERT_FALSE(reason.empty());
  const std::vector<std::pair<const char*, std::function<void()>>> calls = {
      {"fill_", [] { Tensor::empty({3}, DType::Float32, Device::cuda()).fill_(2.0); }},
      {"unary", [] { ops::unary(UnaryOp::Exp, on_cuda(1.0)); }},
      {"binary", [] { ops::binary(BinaryOp::Add, on_cuda(1.0), on_cuda(2.0)); }},
      {"binary_", [] {
         Tensor x = on_cuda(1.0);
         ops::binary_(BinaryOp::Mul, x, on_cuda(2.0));
       }},
      {"axpy_", [] {
         Tensor x = on_cuda(1.0);
         ops::axpy_(x, 0.5, on_cuda(2.0));
       }},
      {"sum", [] { ops::sum(on_cuda(1.0), {1}); }},
      {"max", [] { ops::max(on_cuda(1.0)); }},
      {"mean", [] { ops::mean(on_cuda(1.0), {0}); }},
      {"logsumexp", [] { ops::logsumexp(on_cuda(1.0), {1}); }},
      {"concat", [] { ops::concat({on_cuda(1.0), on_cuda(2.0)}, 1); }},
      {"split", [] { ops::split(on_cuda(1.0), {1, 2}, 0); }},
      {"index_select", [] {
         ops::index_select(on_cuda(1.0), Tensor::zeros({2}, DType::Int64, Device::cuda()));
       }},
      {"one_hot", [] { ops::one_hot(Tensor::zeros({2}, DType::Int64, Device::cuda()), 3); }},
      {"cross_entropy", [] {
         ops::cross_entropy(on_cuda(1.0), Tensor::zeros({3}, DType::Int64, Device::cuda()));
       }},
      {"fill_uniform_", [] {
         Tensor t = Tensor::empty({5}, DType::Float32, Device::cuda());
         ops::fill_uniform_(t, 1, 0);
       }},
      {"randn", [] {
         Generator gen(1);
         ops::randn({5}, gen, DType::Float32, Device::cuda());
       }},
      {"dropout_mask", [] { ops::dropout_mask({5}, 0.5, 1, 0, DType::Float32, Device::cuda()); }},
  };
  for (const auto& [name, call] : calls) {
    SCOPED_TRACE(name);
    const std::string msg = error_of(call);
    EXPECT_NE(msg.find(reason), std::string::npos) << msg;
  }
}

#if defined(EBM_WITH_CUDA)
// The launchers themselves (what the op dispatch calls) check their arguments first, then refuse
// to launch without a device, naming the reason; nothing to do is never an error.
TEST(CudaOpsUnavailable, LaunchersSayWhy) {
  if (device_hooks::cuda_device_count() > 0)
    GTEST_SKIP() << "a CUDA device is present; tests/cuda covers the launchers on it";
  const std::string reason = device_hooks::cuda_unavailable_reason();
  float h[8] = {};
  double dh[4] = {};
  int64_t ix[4] = {};
  float* misaligned = reinterpret_cast<float*>(reinterpret_cast<char*>(h) + 2);
  const BroadcastPlan plan = plan_broadcast({8}, {8}, {8});
  const std::vector<std::pair<const char*, std::function<void()>>> calls = {
      {"unary", [&] { cuda::unary(UnaryOp::Exp, h, h, 8, 0.f, 0.f, nullptr); }},
      {"binary", [&] { cuda::binary(BinaryOp::Add, plan, h, h, h, nullptr); }},
      {"axpy", [&] { cuda::axpy(h, 2.f, h, 8, nullptr); }},
      {"fill", [&] { cuda::fill(h, 8, 4, 0x3f800000u, nullptr); }},
      {"reduce_axis", [&] { cuda::reduce_axis(ReduceOp::Sum, h, h, 2, 4, 1, nullptr, 0, nullptr); }},
      {"copy_rows", [&] { cuda::copy_rows(h, 16, h + 4, 16, 16, 2, nullptr, nullptr); }},
      {"index_add", [&] { cuda::index_add(h, ix, ix, h, 2, 2, nullptr); }},
      {"gather", [&] { cuda::gather(h, ix, h, 2, 2, nullptr); }},
      {"scatter", [&] { cuda::scatter(nullptr, ix, h, 2, 2, nullptr); }},
      {"cross_entropy", [&] { cuda::cross_entropy(h, ix, 2, 2, dh, h, nullptr); }},
      {"cross_entropy_backward",
       [&] { cuda::cross_entropy_backward(h, ix, 2, 2, nullptr, 1.0, h, h, nullptr); }},
      {"fill_uniform", [&] { cuda::fill_uniform(h, 8, 1, 0, 0.f, 1.f, nullptr); }},
      {"fill_normal", [&] { cuda::fill_normal(dh, 4, 1, 3, 0.0, 1.0, nullptr); }},
      {"fill_dropout_mask", [&] { cuda::fill_dropout_mask(h, 8, 1, 0, 0.5, 2.f, nullptr); }},
      {"philox_fill_uniform", [&] { cuda::philox_fill_uniform(h, 8, 1, 0, 0.f, 1.f, nullptr); }},
  };
  for (const auto& [name, call] : calls) {
    SCOPED_TRACE(name);
    const std::string msg = error_of(call);
    EXPECT_NE(msg.find(reason), std::string::npos) << msg;
  }
  EXPECT_NO_THROW(cuda::unary(UnaryOp::Exp, h, h, 0, 0.f, 0.f, nullptr));
  EXPECT_NO_THROW(cuda::fill(nullptr, 0, 8, 1, nullptr));
  EXPECT_NO_THROW(cuda::reduce_axis(ReduceOp::Max, h, h, 0, 5, 3, nullptr, 0, nullptr));
  EXPECT_THROW(cuda::unary(UnaryOp::Exp, nullptr, h, 4, 0.f, 0.f, nullptr), ValueError);
  EXPECT_THROW(cuda::axpy(h, 1.f, h, -1, nullptr), ValueError);
  EXPECT_THROW(cuda::fill(h, 4, 3, 0, nullptr), ValueError);
  // The indexing and random launchers: nothing to do is fine, bad arguments are ValueErrors.
  EXPECT_NO_THROW(cuda::copy_rows(nullptr, 0, nullptr, 0, 0, 5, nullptr, nullptr));
  EXPECT_NO_THROW(cuda::gather(static_cast<const float*>(nullptr), nullptr,
                               static_cast<float*>(nullptr), 0, 3, nullptr));
  EXPECT_NO_THROW(cuda::index_add(h, ix, ix, h, 0, 4, nullptr));
  EXPECT_NO_THROW(cuda::fill_normal(static_cast<float*>(nullptr), 0, 1, 0, 0.f, 1.f, nullptr));
  EXPECT_THROW(cuda::copy_rows(h, 4, nullptr, 4, 4, 2, nullptr, nullptr), ValueError);
  EXPECT_THROW(cuda::scatter(h, ix, h, 2, 0, nullptr), ValueError);
  EXPECT_THROW(cuda::cross_entropy(h, ix, 0, 2, dh, h, nullptr), ValueError);
  EXPECT_THROW(cuda::cross_entropy_backward(h, ix, 2, 2, nullptr, 1.0, nullptr, h, nullptr),
               ValueError);
  EXPECT_THROW(cuda::fill_uniform(static_cast<float*>(nullptr), 4, 1, 0, 0.f, 1.f, nullptr),
               ValueError);
  EXPECT_THROW(cuda::fill_dropout_mask(dh, -1, 1, 0, 0.5, 2.0, nullptr), ValueError);
  double* misaligned_d = reinterpret_cast<double*>(reinterpret_cast<char*>(dh) + 4);
  EXPECT_THROW(cuda::fill_normal(misaligned_d, 2, 1, 0, 0.0, 1.0, nullptr), ValueError);
  EXPECT_THROW(cuda::gather(h, ix, misaligned, 2, 2, nullptr), ValueError);
  EXPECT_THROW(cuda::binary(BinaryOp::Mul, plan, misaligned, h, h, nullptr), ValueError);
  EXPECT_EQ(cuda::reduce_workspace_bytes(ReduceOp::Sum, DType::Float32, 4096, 64, 1), 0u);
  // Few rows of a long axis: two passes through a workspace of double partial sums.
  EXPECT_GT(cuda::reduce_workspace_bytes(ReduceOp::Sum, DType::Float32, 1, 1 << 20, 1), 0u);
  EXPECT_EQ(cuda::reduce_workspace_bytes(ReduceOp::Sum, DType::Float32, 1, 1 << 20, 1),
            2 * cuda::reduce_workspace_bytes(ReduceOp::Max, DType::Float32, 1, 1 << 20, 1));
}
#endif

}  // namespace
}  // namespace ebm
