// CUDA graph capture (core/graph.h) where it cannot happen: a build without CUDA or a machine
// without a usable device refuses with DeviceError carrying the reason ("not compiled with
// CUDA", "no CUDA device", ...), a CPU device with ValueError, and an empty graph refuses to
// replay. Runs in CI; the device tests skip where a device is present (tests/cuda/
// test_graph_cuda.cpp covers capture there).
#include <gtest/gtest.h>

#include <string>
#include <utility>

#include "core/device_hooks.h"
#include "core/graph.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::expect_error;

TEST(CudaGraphUnavailable, CaptureSaysWhyItCannotStart) {
  if (device_hooks::cuda_device_count() > 0)
    GTEST_SKIP() << "a CUDA device is present; tests/cuda/test_graph_cuda.cpp covers capture";
  const std::string reason = device_hooks::cuda_unavailable_reason();
  ASSERT_FALSE(reason.empty());
  expect_error<DeviceError>([] { CudaGraphCapture capture(Device::cuda()); },
                            {"CUDA graph capture on cuda:0", reason});
  expect_error<DeviceError>([] { CudaGraphCapture capture(Device::cuda(1)); },
                            {"CUDA graph capture on cuda:1", reason});
}

TEST(CudaGraphUnavailable, CpuDeviceIsRefused) {
  expect_error<ValueError>([] { CudaGraphCapture capture(Device::cpu()); },
                           {"CUDA graph capture needs a CUDA device", "got cpu"});
}

TEST(CudaGraphUnavailable, EmptyGraphRefusesToReplay) {
  CudaGraph graph;
  EXPECT_FALSE(graph.valid());
  EXPECT_EQ(graph.replays(), 0);
  EXPECT_EQ(graph.nodes(), 0u);
  EXPECT_EQ(graph.memory_stats().reserved_bytes, 0);
  expect_error<ValueError>([&] { graph.replay(); }, {"CudaGraph::replay", "empty"});
  expect_error<ValueError>([&] { graph.device(); }, {"empty"});
  CudaGraph moved = std::move(graph);
  EXPECT_FALSE(moved.valid());
}

}  // namespace
}  // namespace ebm
