// The random fills on cuda tensors against the CPU backend, bit for bit: ops::fill_uniform_,
// fill_normal_ and dropout_mask (float32 and float64), rand / randn / uniform / normal through a
// Generator (which must advance exactly as on the CPU), and autograd's dropout forward and
// backward. Several seeds (fresh each run and fixed), offsets in every residue mod 4 (odd ones
// included, as fill_*_(t, seed, offset) allows) and sizes that are not multiples of 4, of the
// block or of the grid. Fills write into a cuda view inside a buffer of NaN bytes whose guard
// elements must stay untouched; the launchers are also run on poisoned raw buffers.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "autograd/ops.h"
#include "core/ops/random.h"
#include "cuda/philox_fill.h"
#include "cuda_test_util.h"
#include "kernel_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::DeviceBuffer;

const int64_t kSizes[] = {1, 2, 3, 5, 7, 255, 257, 1025, 65539, 1000003};
const uint64_t kOffsets[] = {0, 1, 2, 3, 5, 7, 262143, (uint64_t(1) << 33) + 6};

std::vector<uint64_t> seeds() { return {test::rng()(), 0, 0x9E3779B97F4A7C15ull}; }

// A cuda tensor of n elements as a view at element 1 of a buffer of n + 4 elements, all NaN bytes.
struct Guarded {
  Tensor whole, view;
  Guarded(int64_t n, DType dt) {
    whole = Tensor::empty({n + 4}, dt, Device::cuda());
    EBM_CUDA_CHECK(cudaMemsetAsync(whole.data_ptr(), 0xFF, whole.nbytes(), cuda::current_stream()));
    view = whole.slice(1, n + 1);
  }
  ::testing::AssertionResult guards_intact() const {
    const std::vector<double> v = whole.to_vector<double>();
    for (size_t i : {size_t(0), v.size() - 3, v.size() - 2, v.size() - 1})
      if (!std::isnan(v[i])) return ::testing::AssertionFailure() << "guard " << i << " written";
    return ::testing::AssertionSuccess();
  }
};

template <class T>
void expect_same_bits(const Tensor& got, const Tensor& want) {
  ASSERT_TRUE(got.device().is_cuda());
  ASSERT_EQ(got.shape(), want.shape());
  test::expect_bitwise_equal(got.to_vector<T>(), want);
}

template <class T>
void check_fills(uint64_t seed, uint64_t offset, int64_t n) {
  const DType dt = dtype_of<T>::value;
  SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " seed " << seed << " offset " << offset
                                    << " n " << n);
  Tensor want = Tensor::empty({n}, dt);
  for (auto [lo, hi] : {std::pair{0.0, 1.0}, std::pair{-2.0, 3.5}}) {
    Guarded g(n, dt);
    ops::fill_uniform_(g.view, seed, offset, lo, hi);
    ops::fill_uniform_(want, seed, offset, lo, hi);
    expect_same_bits<T>(g.view, want);
    EXPECT_TRUE(g.guards_intact());
  }
  for (auto [mean, sd] : {std::pair{0.0, 1.0}, std::pair{0.5, 0.01}}) {
    Guarded g(n, dt);
    ops::fill_normal_(g.view, seed, offset, mean, sd);
    ops::fill_normal_(want, seed, offset, mean, sd);
    expect_same_bits<T>(g.view, want);
    EXPECT_TRUE(g.guards_intact());
  }
  for (double p : {0.0, 0.1, 0.5, 0.999, 1.0})
    expect_same_bits<T>(ops::dropout_mask({n}, p, seed, offset, dt, Device::cuda()),
                        ops::dropout_mask({n}, p, seed, offset, dt));
}

TEST(RandomCuda, FillsAndDropoutMasksMatchCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  for (uint64_t seed : seeds())
    for (uint64_t offset : kOffsets)
      for (int64_t n : kSizes) {
        check_fills<float>(seed, offset, n);
        check_fills<double>(seed, offset, n);
      }
}

TEST(RandomCuda, GeneratorOpsMatchCpuAndAdvanceAlike) {
  EBM_REQUIRE_CUDA();
  for (DType dt : {DType::Float32, DType::Float64})
    for (const Shape& s : {Shape{3}, Shape{5, 7}, Shape{64, 3, 32, 32}}) {
      SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " " << s);
      const uint64_t seed = test::rng()();
      Generator gc(seed, 4), gg(seed, 4);
      std::vector<Tensor> cpu, gpu;
      for (Device d : {Device::cpu(), Device::cuda()}) {
        Generator& gen = d.is_cpu() ? gc : gg;
        std::vector<Tensor>& out = d.is_cpu() ? cpu : gpu;
        out.push_back(ops::rand(s, gen, dt, d));
        out.push_back(ops::randn(s, gen, dt, d));
        out.push_back(ops::uniform(s, gen, -1.5, 0.25, dt, d));
        out.push_back(ops::normal(s, gen, 2.0, 0.5, dt, d));
        Tensor t = Tensor::empty(s, dt, d);
        ops::fill_normal_(t, gen, -1.0, 3.0);
        out.push_back(t);
      }
      EXPECT_EQ(gc.state(), gg.state());
      for (size_t k = 0; k < cpu.size(); ++k) {
        SCOPED_TRACE(::testing::Message() << "draw " << k);
        if (dt == DType::Float32)
          expect_same_bits<float>(gpu[k], cpu[k]);
        else
          expect_same_bits<double>(gpu[k], cpu[k]);
      }
    }
}

TEST(RandomCuda, DropoutOnCudaMatchesCpuForwardAndBackward) {
  EBM_REQUIRE_CUDA();
  const Tensor x0 = test::randn({16, 33}, DType::Float32);
  const Tensor w = test::randn({16, 33}, DType::Float32);
  const uint64_t seed = test::rng()();
  std::vector<float> y[2], gx[2];
  for (int on_gpu = 0; on_gpu < 2; ++on_gpu) {
    const Device d = on_gpu ? Device::cuda() : Device::cpu();
    Generator gen(seed, 8);
    Tensor x = x0.to(d).detach().set_requires_grad(true);
    Tensor out = dropout(x, 0.3, /*training=*/true, gen);
    backward(sum(out * w.to(d)));
    EXPECT_TRUE(out.device() == d);
    EXPECT_TRUE(x.grad().device() == d);
    y[on_gpu] = out.to_vector<float>();
    gx[on_gpu] = x.grad().to_vector<float>();
    EXPECT_EQ(gen.offset(), 8u + (16 * 33 + 3) / 4 * 4);
  }
  EXPECT_EQ(0, std::memcmp(y[0].data(), y[1].data(), y[0].size() * sizeof(float)));
  EXPECT_EQ(0, std::memcmp(gx[0].data(), gx[1].data(), gx[0].size() * sizeof(float)));
}

// The launchers on raw buffers poisoned with NaN bytes, output at element 1, 3 guards after.
template <class T>
void check_launchers(uint64_t seed, uint64_t offset, int64_t n) {
  const DType dt = dtype_of<T>::value;
  SCOPED_TRACE(::testing::Message() << dtype_name(dt) << " seed " << seed << " offset " << offset
                                    << " n " << n);
  cudaStream_t s = cuda::current_stream();
  auto run = [&](auto&& launch) {
    DeviceBuffer<T> buf(static_cast<size_t>(n), 4);
    buf.poison(0xFF);
    launch(buf.get() + 1);
    const std::vector<T> all = buf.download(0, static_cast<size_t>(n + 4));
    for (int64_t i : {int64_t(0), n + 1, n + 2, n + 3})
      EXPECT_TRUE(std::isnan(all[static_cast<size_t>(i)])) << "guard " << i << " written";
    return std::vector<T>(all.begin() + 1, all.begin() + 1 + n);
  };
  Tensor want = Tensor::empty({n}, dt);
  ops::fill_uniform_(want, seed, offset, 0.5, 2.0);
  test::expect_bitwise_equal(
      run([&](T* o) { cuda::fill_uniform(o, n, seed, offset, T(0.5), T(1.5), s); }), want);
  ops::fill_normal_(want, seed, offset, -0.25, 4.0);
  test::expect_bitwise_equal(
      run([&](T* o) { cuda::fill_normal(o, n, seed, offset, T(-0.25), T(4.0), s); }), want);
  test::expect_bitwise_equal(
      run([&](T* o) {
        cuda::fill_dropout_mask(o, n, seed, offset, 0.25, static_cast<T>(1.0 / 0.75), s);
      }),
      ops::dropout_mask({n}, 0.25, seed, offset, dt));
}

TEST(RandomCuda, LaunchersWriteExactlyTheirElements) {
  EBM_REQUIRE_CUDA();
  for (uint64_t offset : {uint64_t(0), uint64_t(1), uint64_t(3), uint64_t(6)})
    for (int64_t n : {int64_t(1), int64_t(6), int64_t(1023), int64_t(300001)}) {
      check_launchers<float>(test::rng()(), offset, n);
      check_launchers<double>(test::rng()(), offset, n);
    }
}

TEST(RandomCuda, LaunchersCheckTheirArguments) {
  EBM_REQUIRE_CUDA();
  cudaStream_t s = cuda::current_stream();
  EXPECT_NO_THROW(cuda::fill_uniform(static_cast<float*>(nullptr), 0, 1, 0, 0.f, 1.f, s));
  EXPECT_THROW(cuda::fill_uniform(static_cast<float*>(nullptr), 4, 1, 0, 0.f, 1.f, s), ValueError);
  EXPECT_THROW(cuda::fill_normal(static_cast<double*>(nullptr), -1, 1, 0, 0.0, 1.0, s),
               ValueError);
  DeviceBuffer<double> buf(8);
  double* misaligned = reinterpret_cast<double*>(reinterpret_cast<char*>(buf.get()) + 4);
  EXPECT_THROW(cuda::fill_dropout_mask(misaligned, 4, 1, 0, 0.5, 2.0, s), ValueError);
  // Ops: an integer tensor is a DTypeError on cuda as on the CPU.
  Tensor t = Tensor::empty({4}, DType::Int64, Device::cuda());
  EXPECT_THROW(ops::fill_uniform_(t, 1, 0), DTypeError);
  Tensor f = Tensor::empty({4}, DType::Float32, Device::cuda());
  EXPECT_THROW(ops::fill_normal_(f, 1, 0, 0.0, -1.0), ValueError);
}

}  // namespace
}  // namespace ebm
