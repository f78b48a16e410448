// Tensor core: creation, views sharing storage, slicing, copies and dtype conversion, the
// storage version counter, memory counters, device parsing and the error messages.
#include "core/device_hooks.h"
#include "test_util.h"

namespace ebm {
namespace {

TEST(Tensor, CreationAndDescription) {
  Tensor t = Tensor::full({2, 3, 4}, 1.5);
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.dtype(), DType::Float32);
  EXPECT_TRUE(t.device().is_cpu());
  EXPECT_EQ(t.description(), "float32[2, 3, 4] on cpu");
  for (float v : t.to_vector<float>()) EXPECT_EQ(v, 1.5f);
  EXPECT_EQ(Tensor::scalar(3.0).item(), 3.0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data_ptr()) % 64, 0u) << "storage is 64-byte aligned";
}

TEST(Tensor, FiveDimsMaxAndShapeErrors) {
  EXPECT_NO_THROW(Tensor::zeros({1, 2, 3, 4, 5}));
  try {
    Shape({1, 2, 3, 4, 5, 6});
    FAIL();
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("at most 5"), std::string::npos) << e.what();
  }
  EXPECT_THROW(Shape({2, -1}), ShapeError);
  EXPECT_THROW(Tensor::from_vector(std::vector<float>{1, 2, 3}, {2, 2}), ShapeError);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor t = test::randn({4, 6}, DType::Float32);
  Tensor v = t.view({2, 12});
  EXPECT_TRUE(v.shares_storage_with(t));
  v.data<float>()[5] = 42.f;
  EXPECT_EQ(t.data<float>()[5], 42.f);
  EXPECT_THROW(t.view({5, 5}), ShapeError);
}

TEST(Tensor, SliceAndSelectAlongFirstDim) {
  Tensor t = Tensor::from_vector(std::vector<double>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, {4, 3});
  Tensor s = t.slice(1, 3);
  EXPECT_EQ(s.shape(), Shape({2, 3}));
  EXPECT_EQ(s.to_vector<double>(), (std::vector<double>{3, 4, 5, 6, 7, 8}));
  EXPECT_TRUE(s.shares_storage_with(t));
  EXPECT_EQ(t.select(3).to_vector<double>(), (std::vector<double>{9, 10, 11}));
  EXPECT_EQ(t.slice(2, 2).numel(), 0);
  try {
    t.slice(2, 5);
    FAIL();
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("[2, 5)"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 3]"), std::string::npos) << m;
  }
  // A slice of a slice keeps the right offset.
  EXPECT_EQ(t.slice(1, 4).slice(1, 2).to_vector<double>(), (std::vector<double>{6, 7, 8}));
}

TEST(Tensor, CloneCopyAndConvert) {
  Tensor a = test::randn({3, 5}, DType::Float64);
  Tensor b = a.clone();
  EXPECT_FALSE(b.shares_storage_with(a));
  EXPECT_EQ(a.to_vector<double>(), b.to_vector<double>());
  Tensor f = a.to(DType::Float32);
  EXPECT_EQ(f.dtype(), DType::Float32);
  auto av = a.to_vector<double>();
  auto fv = f.to_vector<float>();
  for (size_t i = 0; i < av.size(); ++i) EXPECT_EQ(fv[i], static_cast<float>(av[i]));
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{3, -1, 7}, {3});
  EXPECT_EQ(labels.to(DType::Float32).to_vector<float>(), (std::vector<float>{3, -1, 7}));
  EXPECT_THROW(a.copy_(test::randn({5, 3})), ShapeError);
  EXPECT_THROW(a.data<float>(), DTypeError);
}

TEST(Tensor, InPlaceWritesBumpVersion) {
  Tensor t = Tensor::zeros({8});
  uint64_t v0 = t.storage().version();
  t.fill_(2.0);
  EXPECT_GT(t.storage().version(), v0);
  uint64_t v1 = t.storage().version();
  t.slice(0, 4).copy_(Tensor::ones({4}));  // a view writes the shared storage
  EXPECT_GT(t.storage().version(), v1);
}

TEST(Tensor, MemoryCountersTrackLiveBytes) {
  MemoryStats before = memory_stats(DeviceType::CPU);
  {
    Tensor t = Tensor::empty({1024, 1024});
    MemoryStats during = memory_stats(DeviceType::CPU);
    EXPECT_EQ(during.allocated_bytes - before.allocated_bytes, 4 * 1024 * 1024);
    EXPECT_GE(during.peak_bytes, during.allocated_bytes);
    EXPECT_EQ(during.allocations, before.allocations + 1);
    Tensor view = t.view({1024 * 1024});  // views allocate nothing
    EXPECT_EQ(memory_stats(DeviceType::CPU).allocations, during.allocations);
  }
  EXPECT_EQ(memory_stats(DeviceType::CPU).allocated_bytes, before.allocated_bytes);
}

TEST(Device, ParseAndPrint) {
  EXPECT_EQ(Device::parse("cpu"), Device::cpu());
  EXPECT_EQ(Device::parse("cuda"), Device::cuda(0));
  EXPECT_EQ(Device::parse("cuda:3").index, 3);
  EXPECT_EQ(Device::cuda(2).to_string(), "cuda:2");
  try {
    Device::parse("gpu0");
    FAIL();
  } catch (const ValueError& e) {
    EXPECT_NE(std::string(e.what()).find("'gpu0'"), std::string::npos);
  }
  EXPECT_THROW(Device::parse("cuda:x"), ValueError);
}

TEST(Tensor, CrossDeviceOpsNameBothDevicesOrTheMissingBackend) {
  // Without a usable GPU, creating a CUDA tensor fails with a clear reason.
  if (device_hooks::cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  try {
    Tensor::empty({2}, DType::Float32, Device::cuda());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string m = e.what();
    EXPECT_TRUE(m.find("not compiled with CUDA") != std::string::npos ||
                m.find("no CUDA device") != std::string::npos)
        << m;
  }
}

}  // namespace
}  // namespace ebm
