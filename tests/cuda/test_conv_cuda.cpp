// conv2d (forward + bias, backward data, backward filter, backward bias) through cuDNN and the
// spatial kernels (avg_pool2d, upsample_nearest2d and their backwards) on cuda against the CPU
// backend on fresh random inputs, with the shapes of tests/cpu/test_conv.cpp (stride, padding,
// 1x1, 3x3, 5x5, 7x1, 1x5). The raw launchers write into NaN-poisoned buffers, so any element
// left unwritten fails. Tolerances (tests/cuda/cpu_compare.h): float32 with TF32 off 1e-5, on
// 5e-3, float64 1e-12 (norm-wise relative); pooling and upsampling bit for bit. Also: the
// algorithm cache searches once per shape and math mode, the op entry points dispatch cuda
// tensors, and the Langevin hot path ∇ₓ sum(avg_pool(leaky_relu(conv(x)))) equals the CPU's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <iostream>

#include <iterator>
#include <vector>

#include "autograd/ops.h"
#include "core/ops/conv.h"
#include "core/settings.h"
#include "conv_cases.h"
#include "cpu_compare.h"
#include "cuda/cudnn_conv.h"
#include "cuda/pool.h"
#include "cuda_test_util.h"
#include "kernel_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::kTolFloat32;
using test::kTolFloat64;
using test::kTolTF32;
using test::randn;
using test::rel_error;

using test::ConvCase;

// The CPU conv tests' cases, plus a CIFAR-sized layer of the IGEBM/DRL networks.
std::vector<ConvCase> cuda_conv_cases() {
  std::vector<ConvCase> cases(std::begin(test::kConvCases), std::end(test::kConvCases));
  cases.push_back({8, 64, 32, 32, 64, 3, 3, 1, 1, true});
  return cases;
}

int64_t out_size(int64_t in, int64_t k, int s, int p) { return (in + 2 * p - k) / s + 1; }

cuda::ConvGeom2d geom_of(const ConvCase& c) {
  cuda::ConvGeom2d g;
  g.n = c.n, g.c = c.cin, g.h = c.h, g.w = c.w;
  g.co = c.cout, g.kh = c.kh, g.kw = c.kw;
  g.ho = out_size(c.h, c.kh, c.s, c.p), g.wo = out_size(c.w, c.kw, c.s, c.p);
  g.stride = c.s, g.padding = c.p;
  return g;
}

// The three directions and the bias gradient of one case through the raw launchers, into
// poisoned buffers, against the CPU ops on the same inputs.
template <class T>
void check_conv(const ConvCase& c, bool tf32, double tol) {
  const DType dt = dtype_of<T>::value;
  const cuda::ConvGeom2d g = geom_of(c);
  const Shape xs{c.n, c.cin, c.h, c.w}, ws{c.cout, c.cin, c.kh, c.kw}, ys{c.n, c.cout, g.ho, g.wo};
  Tensor x = randn(xs, dt), w = randn(ws, dt), gy = randn(ys, dt);
  Tensor b = c.bias ? randn({c.cout}, dt) : Tensor();
  auto dx_in = test::upload<T>(x), dw_in = test::upload<T>(w), dgy = test::upload<T>(gy);
  std::unique_ptr<test::DeviceBuffer<T>> db_in;
  if (c.bias) db_in = test::upload<T>(b);
  cudaStream_t s = cuda::current_stream(0);
  const auto nx = static_cast<size_t>(xs.numel()), nw = static_cast<size_t>(ws.numel());
  const auto ny = static_cast<size_t>(ys.numel()), nb = static_cast<size_t>(c.cout);

  test::DeviceBuffer<T> y(ny), dx(nx), dw(nw), dbias(nb);
  for (auto* buf : {&y, &dx, &dw, &dbias}) buf->poison(0xFF);
  cuda::conv2d_forward(dt, g, dx_in->get(), dw_in->get(), c.bias ? db_in->get() : nullptr, y.get(),
                       tf32, 0, s);
  cuda::conv2d_backward_data(dt, g, dgy->get(), dw_in->get(), dx.get(), tf32, 0, s);
  cuda::conv2d_backward_filter(dt, g, dgy->get(), dx_in->get(), dw.get(), tf32, 0, s);
  cuda::conv2d_backward_bias(dt, g, dgy->get(), dbias.get(), 0, s);

  EXPECT_LE(rel_error(test::download(y, ny), ops::conv2d(x, w, b, c.s, c.p).to_vector<double>()),
            tol) << "forward";
  EXPECT_LE(rel_error(test::download(dx, nx),
                      ops::conv2d_backward_input(gy, w, xs, c.s, c.p).to_vector<double>()),
            tol) << "backward data";
  EXPECT_LE(rel_error(test::download(dw, nw),
                      ops::conv2d_backward_weight(gy, x, ws, c.s, c.p).to_vector<double>()),
            tol) << "backward filter";
  // A plain sum of n·ho·wo values: no TF32 involved.
  EXPECT_LE(rel_error(test::download(dbias, nb), ops::conv2d_backward_bias(gy).to_vector<double>()),
            dt == DType::Float64 ? kTolFloat64 : kTolFloat32) << "backward bias";
}

class ConvCudaTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvCudaTest, Float32MatchesCpuWithoutTf32) {
  EBM_REQUIRE_CUDA();
  check_conv<float>(GetParam(), false, kTolFloat32);
}

TEST_P(ConvCudaTest, Float32MatchesCpuWithTf32) {
  EBM_REQUIRE_CUDA();
  check_conv<float>(GetParam(), true, kTolTF32);
}

TEST_P(ConvCudaTest, Float64MatchesCpu) {
  EBM_REQUIRE_CUDA();
  try {
    check_conv<double>(GetParam(), false, kTolFloat64);
  } catch (const DTypeError& e) {
    // cudnn_conv.h's contract when this cuDNN has no float64 algorithm: a DTypeError naming it.
    GTEST_SKIP() << "cuDNN offers no float64 convolution here: " << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvCudaTest, ::testing::ValuesIn(cuda_conv_cases()),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(ConvCuda, AlgorithmCacheSearchesOncePerShapeAndMathMode) {
  EBM_REQUIRE_CUDA();
  // A shape no other test uses, so that the first call must search.
  const ConvCase c{3, 5, 13, 11, 7, 3, 3, 1, 1, false};
  const cuda::ConvGeom2d g = geom_of(c);
  Tensor x = randn({c.n, c.cin, c.h, c.w}, DType::Float32);
  Tensor w = randn({c.cout, c.cin, c.kh, c.kw}, DType::Float32);
  auto dx = test::upload<float>(x), dw = test::upload<float>(w);
  test::DeviceBuffer<float> y(static_cast<size_t>(c.n * c.cout * g.ho * g.wo));
  cudaStream_t s = cuda::current_stream(0);
  auto searches = [] { return cuda::conv_algo_cache_stats(0).searches; };

  const int64_t s0 = searches();
  cuda::conv2d_forward(DType::Float32, g, dx->get(), dw->get(), nullptr, y.get(), false, 0, s);
  EXPECT_EQ(searches(), s0 + 1) << "the first call of a shape searches";
  cuda::conv2d_forward(DType::Float32, g, dx->get(), dw->get(), nullptr, y.get(), false, 0, s);
  cuda::conv2d_forward(DType::Float32, g, dx->get(), dw->get(), nullptr, y.get(), false, 0, s);
  EXPECT_EQ(searches(), s0 + 1) << "a repeated shape must use the cached algorithm";
  // The other math mode is another key; the backward directions are searched on first use.
  cuda::conv2d_forward(DType::Float32, g, dx->get(), dw->get(), nullptr, y.get(), true, 0, s);
  EXPECT_EQ(searches(), s0 + 2);
  test::DeviceBuffer<float> gx(static_cast<size_t>(x.numel()));
  cuda::conv2d_backward_data(DType::Float32, g, y.get(), dw->get(), gx.get(), false, 0, s);
  cuda::conv2d_backward_data(DType::Float32, g, y.get(), dw->get(), gx.get(), false, 0, s);
  EXPECT_EQ(searches(), s0 + 3);
  // Through the op entry point (fresh tensors, same shape and mode): no search.
  Tensor xg = x.to(Device::cuda(0)), wg = w.to(Device::cuda(0));
  ops::conv2d(xg, wg, Tensor(), c.s, c.p);
  EXPECT_EQ(searches(), s0 + 3);
  cuda::synchronize(0);
  const cuda::ConvAlgoCacheStats st = cuda::conv_algo_cache_stats(0);
  EXPECT_GE(st.entries, 3);
  for (const std::string& line : cuda::conv_algo_cache_entries(0))
    std::cout << "[ algo     ] " << line << "\n";
}

TEST(ConvCuda, OpsDispatchCudaTensorsAndHonourTf32Setting) {
  EBM_REQUIRE_CUDA();
  const Device gpu = Device::cuda(0);
  const ConvCase c{4, 8, 12, 12, 16, 3, 3, 2, 1, true};
  Tensor x = randn({c.n, c.cin, c.h, c.w}, DType::Float32);
  Tensor w = randn({c.cout, c.cin, c.kh, c.kw}, DType::Float32);
  Tensor b = randn({c.cout}, DType::Float32);
  Tensor y_cpu = ops::conv2d(x, w, b, c.s, c.p);
  Tensor gy = randn(y_cpu.shape(), DType::Float32);
  for (bool tf32 : {false, true}) {
    SCOPED_TRACE(tf32 ? "tf32" : "fp32");
    AllowTF32Guard mode(tf32);
    const double tol = tf32 ? kTolTF32 : kTolFloat32;
    Tensor y = ops::conv2d(x.to(gpu), w.to(gpu), b.to(gpu), c.s, c.p);
    EXPECT_EQ(y.device(), gpu);
    EXPECT_LE(rel_error(y.to(Device::cpu()), y_cpu), tol);
    EXPECT_LE(rel_error(ops::conv2d_backward_input(gy.to(gpu), w.to(gpu), x.shape(), c.s, c.p)
                            .to(Device::cpu()),
                        ops::conv2d_backward_input(gy, w, x.shape(), c.s, c.p)),
              tol);
    EXPECT_LE(rel_error(ops::conv2d_backward_weight(gy.to(gpu), x.to(gpu), w.shape(), c.s, c.p)
                            .to(Device::cpu()),
                        ops::conv2d_backward_weight(gy, x, w.shape(), c.s, c.p)),
              tol);
    EXPECT_LE(rel_error(ops::conv2d_backward_bias(gy.to(gpu)).to(Device::cpu()),
                        ops::conv2d_backward_bias(gy)),
              kTolFloat32);
  }
  // No input channels: the sum is empty and only the bias is left, as on the CPU.
  Tensor x0 = Tensor::empty({2, 0, 5, 5}, DType::Float32, gpu);
  Tensor w0 = Tensor::empty({3, 0, 3, 3}, DType::Float32, gpu);
  EXPECT_EQ(ops::conv2d(x0, w0, b.slice(0, 3).to(gpu), 1, 1).to(Device::cpu()).to_vector<double>(),
            ops::conv2d(x0.to(Device::cpu()), w0.to(Device::cpu()), b.slice(0, 3), 1, 1)
                .to_vector<double>());
  // dtypes cuDNN is not asked to do are a DTypeError naming the op.
  test::expect_error<DTypeError>(
      [&] {
        ops::conv2d(Tensor::zeros({1, 1, 3, 3}, DType::BFloat16, gpu),
                    Tensor::zeros({1, 1, 3, 3}, DType::BFloat16, gpu));
      },
      {"conv2d"});
}

// ---- pooling and upsampling: bit for bit (the kernels sum in the CPU's order, pool_body.h)

struct PoolCase {
  Shape x;
  int k, s, p;
  bool include_pad;
};
const PoolCase kPoolCases[] = {
    {{2, 3, 8, 8}, 2, 2, 0, true},  {{2, 3, 7, 9}, 2, 2, 0, true},  {{1, 2, 7, 7}, 3, 2, 1, true},
    {{1, 2, 7, 7}, 3, 2, 1, false}, {{2, 2, 6, 5}, 3, 1, 1, false}, {{3, 4, 5, 6}, 2, 1, 0, true},
    {{2, 1, 6, 6}, 4, 3, 2, true},  {{2, 1, 6, 6}, 4, 3, 2, false}, {{128, 64, 32, 32}, 2, 2, 0, true},
};

template <class T>
void check_pool(const PoolCase& c) {
  const DType dt = dtype_of<T>::value;
  const int64_t ho = (c.x[2] + 2 * c.p - c.k) / c.s + 1, wo = (c.x[3] + 2 * c.p - c.k) / c.s + 1;
  const PoolGeom g{c.x[0] * c.x[1], c.x[2], c.x[3], ho, wo, c.k, c.s, c.p, c.include_pad};
  Tensor x = randn(c.x, dt), gy = randn({c.x[0], c.x[1], ho, wo}, dt);
  auto dx_in = test::upload<T>(x), dgy = test::upload<T>(gy);
  test::DeviceBuffer<T> y(static_cast<size_t>(gy.numel())), dx(static_cast<size_t>(x.numel()));
  y.poison(0xFF);
  dx.poison(0xFF);
  cudaStream_t s = cuda::current_stream(0);
  cuda::avg_pool2d_forward<T>(dx_in->get(), y.get(), g, 0, s);
  cuda::avg_pool2d_backward<T>(dgy->get(), dx.get(), g, 0, s);
  test::expect_bitwise_equal(y.download(0, static_cast<size_t>(gy.numel())),
                   ops::avg_pool2d(x, c.k, c.s, c.p, c.include_pad));
  test::expect_bitwise_equal(dx.download(0, static_cast<size_t>(x.numel())),
                   ops::avg_pool2d_backward(gy, c.x, c.k, c.s, c.p, c.include_pad));
}

TEST(AvgPool2dCuda, ForwardAndBackwardEqualCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  for (const PoolCase& c : kPoolCases) {
    SCOPED_TRACE(str(c.x, " k", c.k, " s", c.s, " p", c.p, " cip", c.include_pad));
    check_pool<float>(c);
    check_pool<double>(c);
  }
  // And through the op entry points.
  Tensor x = randn({4, 3, 9, 9}, DType::Float32);
  Tensor y = ops::avg_pool2d(x.to(Device::cuda(0)), 3, 2, 1, false);
  test::expect_bitwise_equal(y.to(Device::cpu()).to_vector<float>(), ops::avg_pool2d(x, 3, 2, 1, false));
  Tensor gy = randn(y.shape(), DType::Float32);
  test::expect_bitwise_equal(ops::avg_pool2d_backward(gy.to(Device::cuda(0)), x.shape(), 3, 2, 1, false)
                       .to(Device::cpu())
                       .to_vector<float>(),
                   ops::avg_pool2d_backward(gy, x.shape(), 3, 2, 1, false));
}

template <class T>
void check_upsample(const Shape& s, int scale) {
  const DType dt = dtype_of<T>::value;
  Tensor x = randn(s, dt), gy = randn({s[0], s[1], s[2] * scale, s[3] * scale}, dt);
  auto dx_in = test::upload<T>(x), dgy = test::upload<T>(gy);
  test::DeviceBuffer<T> y(static_cast<size_t>(gy.numel())), dx(static_cast<size_t>(x.numel()));
  y.poison(0xFF);
  dx.poison(0xFF);
  cudaStream_t st = cuda::current_stream(0);
  cuda::upsample_nearest2d_forward<T>(dx_in->get(), y.get(), s[0] * s[1], s[2], s[3], scale, 0, st);
  cuda::upsample_nearest2d_backward<T>(dgy->get(), dx.get(), s[0] * s[1], s[2], s[3], scale, 0, st);
  test::expect_bitwise_equal(y.download(0, static_cast<size_t>(gy.numel())), ops::upsample_nearest2d(x, scale));
  test::expect_bitwise_equal(dx.download(0, static_cast<size_t>(x.numel())),
                   ops::upsample_nearest2d_backward(gy, scale));
}

TEST(UpsampleNearest2dCuda, ForwardAndBackwardEqualCpuBitForBit) {
  EBM_REQUIRE_CUDA();
  for (int scale : {1, 2, 3})
    for (Shape s : {Shape{1, 1, 2, 3}, Shape{2, 3, 5, 4}, Shape{64, 32, 16, 16}}) {
      SCOPED_TRACE(str(s, " scale ", scale));
      check_upsample<float>(s, scale);
      check_upsample<double>(s, scale);
    }
  Tensor x = randn({2, 3, 4, 5}, DType::Float32);
  test::expect_bitwise_equal(ops::upsample_nearest2d(x.to(Device::cuda(0)), 2).to(Device::cpu()).to_vector<float>(),
                   ops::upsample_nearest2d(x, 2));
}

// ---- the Langevin hot path through autograd

TEST(ConvCuda, AutogradInputGradientOfPooledConvEqualsCpu) {
  EBM_REQUIRE_CUDA();
  // ∇ₓ sum(avg_pool(leaky_relu(conv(x, w, b)))) with frozen weights: the sampler's call. Needs
  // leaky_relu and sum on cuda as well (elementwise / reduce backends).
  const Device gpu = Device::cuda(0);
  Tensor w = randn({16, 3, 3, 3}, DType::Float32, 0.3), b = randn({16}, DType::Float32);
  // leaky_relu's slope jumps at 0, so a pre-activation that CPU and GPU round to opposite sides
  // of 0 would change the gradient by O(1) there. Their difference is ~1e-7 (28 terms of O(1)),
  // so draw x until no pre-activation lies within 1e-6 of 0 (most first draws pass: ~0.06
  // expected of 131072); then the comparison is a float32 one.
  Tensor x;
  for (int attempt = 0; attempt < 20; ++attempt) {
    x = randn({8, 3, 32, 32}, DType::Float32);
    auto pre = ops::conv2d(x, w, b, 1, 1).to_vector<float>();
    bool near_zero = false;
    for (float v : pre) near_zero = near_zero || std::fabs(v) < 1e-6f;
    if (!near_zero) break;
  }
  auto energy_grad = [&](const Device& d) {
    Tensor xd = x.to(d).detach().set_requires_grad();
    Tensor e = sum(avg_pool2d(leaky_relu(conv2d(xd, w.to(d), b.to(d), 1, 1), 0.2), 2, 2));
    return grad(e, {xd})[0].to(Device::cpu());
  };
  Tensor g_cpu = energy_grad(Device::cpu());
  Tensor g_gpu = energy_grad(gpu);
  // Backward data conv of 16·9 = 144 terms per element: the float32 tolerance.
  EXPECT_LE(rel_error(g_gpu, g_cpu), kTolFloat32);
}

}  // namespace
}  // namespace ebm
