// The ops the FID Inception needs beyond the training networks' (issue 7): max_pool2d and bilinear
// resize (align_corners=False). Forward against naive loops (float32 and float64) and PyTorch
// goldens (tests/data/eval/ops_goldens.safetensors, tests/reference/make_eval_goldens.py),
// gradients by finite differences and against PyTorch's, ties and NaN, the second-order
// behaviour, errors, and the CUDA kernels' per-thread bodies run over their launch grids on the
// CPU (each output written once, equal to the CPU op bit for bit).
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "autograd/ops.h"
#include "core/io/safetensors.h"
#include "cuda/kernels/pool_body.h"
#include "cuda/kernels/resize_body.h"
#include "kernel_test_util.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::randn;

const std::string kGoldens = std::string(EBM_TEST_DATA_DIR) + "/eval/ops_goldens.safetensors";

// ---- max pooling

struct MaxCase {
  Shape x;
  int k, s, p;
};
const MaxCase kMaxCases[] = {
    {{2, 3, 8, 8}, 2, 2, 0}, {{1, 2, 7, 7}, 3, 2, 1}, {{2, 2, 9, 7}, 3, 2, 0},
    {{1, 3, 6, 5}, 3, 1, 1}, {{2, 1, 6, 6}, 4, 3, 2}, {{1, 2, 5, 9}, 2, 3, 0},
};

// y and the first-maximum index of every window (row-major scan, NaN wins), by a plain loop.
template <class T>
void naive_max_pool(const Tensor& x, const MaxCase& c, Tensor& y, std::vector<int64_t>& arg) {
  const int64_t N = c.x[0], C = c.x[1], H = c.x[2], W = c.x[3];
  const int64_t Ho = (H + 2 * c.p - c.k) / c.s + 1, Wo = (W + 2 * c.p - c.k) / c.s + 1;
  y = Tensor::empty({N, C, Ho, Wo}, x.dtype());
  arg.assign(N * C * Ho * Wo, -1);
  const T* xp = x.data<T>();
  T* yp = y.data<T>();
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        T best = -std::numeric_limits<T>::infinity();
        int64_t at = -1;
        for (int64_t i = 0; i < c.k; ++i)
          for (int64_t j = 0; j < c.k; ++j) {
            const int64_t ih = oh * c.s - c.p + i, iw = ow * c.s - c.p + j;
            if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
            const T v = xp[(pl * H + ih) * W + iw];
            const bool take = at < 0 || (!std::isnan(best) && (std::isnan(v) || v > best));
            if (take) best = v, at = ih * W + iw;
          }
        const int64_t o = (pl * Ho + oh) * Wo + ow;
        yp[o] = best;
        arg[o] = pl * H * W + at;
      }
}

template <class T>
void check_max_pool_naive() {
  const DType dt = dtype_of<T>::value;
  for (const MaxCase& c : kMaxCases) {
    SCOPED_TRACE(::testing::Message() << c.x << " k" << c.k << " s" << c.s << " p" << c.p);
    // Small integers: many ties, so the first-maximum rule matters.
    std::vector<double> v = randn(c.x, DType::Float64, 2.0).to_vector<double>();
    for (double& e : v) e = std::round(e);
    Tensor x = Tensor::from_vector(v, c.x).to(dt);
    Tensor y_ref;
    std::vector<int64_t> arg;
    naive_max_pool<T>(x, c, y_ref, arg);
    Tensor y = ops::max_pool2d(x, c.k, c.s, c.p);
    EXPECT_TENSOR_NEAR(y, y_ref, 0.0, 0.0);
    Tensor gy = randn(y.shape(), dt);
    std::vector<T> dx_ref(x.numel(), T(0));
    const T* g = gy.data<T>();
    for (size_t o = 0; o < arg.size(); ++o) dx_ref[arg[o]] += g[o];
    std::vector<double> dx_ref_d(dx_ref.begin(), dx_ref.end());
    Tensor dx = ops::max_pool2d_backward(gy, x, c.k, c.s, c.p);
    const double tol = dt == DType::Float32 ? 1e-6 : 1e-14;  // a few adds in another order
    EXPECT_TENSOR_NEAR(dx, Tensor::from_vector(dx_ref_d, c.x).to(dt), tol, tol);
  }
}

TEST(EvalOps, MaxPoolMatchesNaiveFloat32) { check_max_pool_naive<float>(); }
TEST(EvalOps, MaxPoolMatchesNaiveFloat64) { check_max_pool_naive<double>(); }

TEST(EvalOps, MaxPoolMatchesPyTorch) {
  SafetensorsFile g = read_safetensors(kGoldens);
  struct P { const char* name; int k, s, p; };
  for (const P& c : {P{"k3s2", 3, 2, 0}, P{"k3s1p1", 3, 1, 1}, P{"k2s2", 2, 2, 0},
                     P{"k3s2p1", 3, 2, 1}}) {
    SCOPED_TRACE(c.name);
    const std::string pre = std::string("maxpool.") + c.name + ".";
    for (DType dt : {DType::Float64, DType::Float32}) {
      Tensor x = g.at(pre + "x").to(dt).set_requires_grad(true);
      Tensor y = max_pool2d(x, c.k, c.s, c.p);
      EXPECT_TENSOR_NEAR(y, g.at(pre + "y").to(dt), 0.0, 0.0);
      Tensor dx = grad(sum(y * g.at(pre + "w").to(dt)), {x})[0];
      const double tol = dt == DType::Float32 ? 1e-6 : 1e-14;
      EXPECT_TENSOR_NEAR(dx, g.at(pre + "grad").to(dt), tol, tol);
    }
  }
}

TEST(EvalOps, MaxPoolGradcheck) {
  // Distinct random values: finite differences never cross a tie.
  test::gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 2, 1); },
                  {randn({2, 2, 7, 6})});
  test::gradcheck([](const std::vector<Tensor>& in) { return max_pool2d(in[0], 3, 1, 1); },
                  {randn({1, 3, 5, 5})});
}

TEST(EvalOps, MaxPoolNanAndInfinity) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  Tensor x = Tensor::from_vector(std::vector<double>{1, nan, 3, 2, -inf, -inf, -inf, -inf},
                                 {1, 2, 2, 2});
  Tensor y = ops::max_pool2d(x, 2, 2, 0);
  EXPECT_TRUE(std::isnan(y.to_vector<double>()[0]));  // NaN wins, as in PyTorch
  EXPECT_EQ(y.to_vector<double>()[1], -inf);           // all -inf: -inf, gradient to the first
  Tensor dx = ops::max_pool2d_backward(Tensor::ones({1, 2, 1, 1}, DType::Float64), x, 2, 2, 0);
  EXPECT_EQ(dx.to_vector<double>(), (std::vector<double>{0, 1, 0, 0, 1, 0, 0, 0}));
}

TEST(EvalOps, MaxPoolSecondOrderIsAnError) {
  Tensor x = randn({1, 1, 4, 4}).set_requires_grad(true);
  Tensor y = max_pool2d(x, 2);
  Tensor dx = grad(sum(square(y)), {x}, Tensor(), /*create_graph=*/true)[0];
  test::expect_error<ValueError>([&] { grad(sum(dx), {x}); }, {"max_pool2d", "second-order"});
}

TEST(EvalOps, MaxPoolErrors) {
  Tensor x = randn({1, 1, 4, 4});
  test::expect_error<ValueError>([&] { ops::max_pool2d(x, 2, 2, 2); }, {"max_pool2d", "padding"});
  test::expect_error<ShapeError>([&] { ops::max_pool2d(x, 5, 1, 0); }, {"max_pool2d", "larger"});
  test::expect_error<ShapeError>([&] { ops::max_pool2d(randn({4, 4}), 2, 2, 0); },
                                 {"max_pool2d", "4-D"});
  test::expect_error<ShapeError>(
      [&] { ops::max_pool2d_backward(randn({1, 1, 3, 3}), x, 2, 2, 0); },
      {"max_pool2d_backward", "grad_out"});
  test::expect_error<DTypeError>(
      [&] { ops::max_pool2d_backward(randn({1, 1, 2, 2}, DType::Float32), x, 2, 2, 0); },
      {"max_pool2d_backward"});
}

// ---- bilinear resize

// A plain reference in double: the source coordinate of each axis by PyTorch's rule, then the
// four-tap sum, without the shared arithmetic of core/ops/resize.h.
Tensor naive_resize(const Tensor& x, int64_t Ho, int64_t Wo) {
  const int64_t N = x.size(0), C = x.size(1), H = x.size(2), W = x.size(3);
  std::vector<double> xv = x.to_vector<double>(), y(N * C * Ho * Wo);
  auto src = [](int64_t o, int64_t in, int64_t out, int64_t& i0, int64_t& i1, double& l1) {
    double s = (static_cast<double>(in) / out) * (o + 0.5) - 0.5;
    if (s < 0) s = 0;
    i0 = static_cast<int64_t>(std::floor(s));
    i1 = std::min(i0 + 1, in - 1);
    l1 = s - i0;
  };
  for (int64_t pl = 0; pl < N * C; ++pl)
    for (int64_t oh = 0; oh < Ho; ++oh)
      for (int64_t ow = 0; ow < Wo; ++ow) {
        int64_t h0, h1, w0, w1;
        double a, b;
        src(oh, H, Ho, h0, h1, a);
        src(ow, W, Wo, w0, w1, b);
        const double* p = xv.data() + pl * H * W;
        y[(pl * Ho + oh) * Wo + ow] = (1 - a) * ((1 - b) * p[h0 * W + w0] + b * p[h0 * W + w1]) +
                                      a * ((1 - b) * p[h1 * W + w0] + b * p[h1 * W + w1]);
      }
  return Tensor::from_vector(y, {N, C, Ho, Wo});
}

struct ResizeCase {
  Shape x;
  int64_t ho, wo;
};
const ResizeCase kResizeCases[] = {
    {{2, 3, 5, 7}, 9, 11}, {{1, 2, 13, 11}, 5, 4}, {{1, 1, 4, 6}, 4, 6},  {{1, 3, 32, 32}, 299, 299},
    {{2, 1, 1, 1}, 3, 2},  {{1, 2, 7, 6}, 3, 17},  {{1, 1, 28, 28}, 299, 299},
};

template <class T>
void check_resize_naive() {
  const DType dt = dtype_of<T>::value;
  for (const ResizeCase& c : kResizeCases) {
    SCOPED_TRACE(::testing::Message() << c.x << " -> " << c.ho << "x" << c.wo);
    Tensor x = test::uniform(c.x, 0, 1, dt);
    Tensor y = ops::resize_bilinear2d(x, c.ho, c.wo);
    // float32: the source coordinate itself is rounded (up to ~1e-7 · in), as in PyTorch.
    const double tol = dt == DType::Float32 ? 2e-6 : 1e-13;
    EXPECT_TENSOR_NEAR(y, naive_resize(x, c.ho, c.wo).to(dt), tol, tol);
  }
}

TEST(EvalOps, ResizeMatchesNaiveFloat32) { check_resize_naive<float>(); }
TEST(EvalOps, ResizeMatchesNaiveFloat64) { check_resize_naive<double>(); }

TEST(EvalOps, ResizeSameSizeIsExactCopy) {
  Tensor x = randn({2, 3, 6, 5}, DType::Float32);
  EXPECT_TENSOR_NEAR(ops::resize_bilinear2d(x, 6, 5), x, 0.0, 0.0);
}

TEST(EvalOps, ResizeMatchesPyTorch) {
  SafetensorsFile g = read_safetensors(kGoldens);
  for (const char* name : {"up_odd", "down", "same", "cifar_to_299_rows", "mixed"}) {
    SCOPED_TRACE(name);
    const std::string pre = std::string("resize.") + name + ".";
    const Tensor& yg = g.at(pre + "y");
    for (DType dt : {DType::Float64, DType::Float32}) {
      Tensor x = g.at(pre + "x").to(dt).set_requires_grad(true);
      Tensor y = resize_bilinear2d(x, yg.size(2), yg.size(3));
      const double tol = dt == DType::Float32 ? 2e-6 : 1e-14;
      EXPECT_TENSOR_NEAR(y, yg.to(dt), tol, tol);
      Tensor dx = grad(sum(y * g.at(pre + "w").to(dt)), {x})[0];
      const double gtol = dt == DType::Float32 ? 1e-5 : 1e-13;  // sums of up to ~100 terms
      EXPECT_TENSOR_NEAR(dx, g.at(pre + "grad").to(dt), gtol, gtol);
    }
  }
}

TEST(EvalOps, ResizeGradcheckAndSecondOrder) {
  test::gradcheck([](const std::vector<Tensor>& in) { return resize_bilinear2d(in[0], 7, 4); },
                  {randn({2, 2, 5, 6})});
  test::gradcheck([](const std::vector<Tensor>& in) { return resize_bilinear2d(in[0], 2, 3); },
                  {randn({1, 2, 5, 7})});
  // dx = Rᵀ gy is linear in gy; its derivative applied to v is R v.
  Tensor x = randn({1, 2, 4, 5}).set_requires_grad(true);
  Tensor gy = randn({1, 2, 9, 3}).set_requires_grad(true);
  Tensor dx = grad(sum(resize_bilinear2d(x, 9, 3) * gy), {x}, Tensor(), true)[0];
  Tensor v = randn(x.shape());
  Tensor back = grad(sum(dx * v), {gy})[0];
  EXPECT_TENSOR_NEAR(back, ops::resize_bilinear2d(v, 9, 3), 1e-12, 1e-12);
}

TEST(EvalOps, ResizeErrors) {
  test::expect_error<ValueError>([] { ops::resize_bilinear2d(randn({1, 1, 4, 4}), 0, 3); },
                                 {"resize_bilinear2d", "output size"});
  test::expect_error<ShapeError>([] { ops::resize_bilinear2d(randn({4, 4}), 3, 3); },
                                 {"resize_bilinear2d", "4-D"});
  test::expect_error<ShapeError>(
      [] { ops::resize_bilinear2d_backward(randn({1, 2, 3, 3}), Shape{1, 1, 4, 4}); },
      {"resize_bilinear2d_backward", "channels"});
}

// ---- the CUDA bodies over their launch grids, on the CPU

namespace k = cuda::kernels;

template <class T, class Body>
std::vector<T> run_grid(int64_t n, int64_t max_blocks, Body&& body) {
  std::vector<T> out(static_cast<size_t>(n), std::numeric_limits<T>::quiet_NaN());
  std::vector<int> count(static_cast<size_t>(n), 0);
  int out_of_range = 0;
  const k::PoolLaunchDims d = k::pool_launch_dims(n, max_blocks);
  test::CountingOut<T> sink{out.data(), count.data(), n, &out_of_range};
  for (uint32_t b = 0; b < d.grid; ++b)
    for (uint32_t t = 0; t < d.block; ++t) body(sink, b, t, d.grid, d.block);
  EXPECT_EQ(out_of_range, 0);
  int64_t wrong = 0;
  for (int c : count) wrong += c != 1;
  EXPECT_EQ(wrong, 0) << "outputs not written exactly once";
  return out;
}

template <class T>
void check_bodies() {
  const DType dt = dtype_of<T>::value;
  for (int64_t max_blocks : {1, 3, 1056}) {
    for (const MaxCase& c : kMaxCases) {
      const int64_t ho = (c.x[2] + 2 * c.p - c.k) / c.s + 1, wo = (c.x[3] + 2 * c.p - c.k) / c.s + 1;
      const PoolGeom g{c.x[0] * c.x[1], c.x[2], c.x[3], ho, wo, c.k, c.s, c.p, false};
      Tensor x = randn(c.x, dt), gy = randn({c.x[0], c.x[1], ho, wo}, dt);
      auto y = run_grid<T>(g.planes * ho * wo, max_blocks, [&](auto& out, uint32_t b, uint32_t t,
                                                               uint32_t gd, uint32_t bd) {
        k::max_pool_forward_body(g, x.data<T>(), out, b, t, gd, bd);
      });
      test::expect_bitwise_equal(y, ops::max_pool2d(x, c.k, c.s, c.p));
      auto dx = run_grid<T>(x.numel(), max_blocks, [&](auto& out, uint32_t b, uint32_t t,
                                                       uint32_t gd, uint32_t bd) {
        k::max_pool_backward_body(g, gy.data<T>(), x.data<T>(), out, b, t, gd, bd);
      });
      test::expect_bitwise_equal(dx, ops::max_pool2d_backward(gy, x, c.k, c.s, c.p));
    }
    for (const ResizeCase& c : kResizeCases) {
      if (c.ho * c.wo > 20000 && max_blocks == 1) continue;  // keep the 1-block wrap cheap
      Tensor x = randn(c.x, dt), gy = randn({c.x[0], c.x[1], c.ho, c.wo}, dt);
      const int64_t planes = c.x[0] * c.x[1];
      auto y = run_grid<T>(planes * c.ho * c.wo, max_blocks, [&](auto& out, uint32_t b,
                                                                 uint32_t t, uint32_t gd,
                                                                 uint32_t bd) {
        k::resize_forward_body(x.data<T>(), out, planes, c.x[2], c.x[3], c.ho, c.wo, b, t, gd, bd);
      });
      test::expect_bitwise_equal(y, ops::resize_bilinear2d(x, c.ho, c.wo));
      auto dx = run_grid<T>(x.numel(), max_blocks, [&](auto& out, uint32_t b, uint32_t t,
                                                       uint32_t gd, uint32_t bd) {
        k::resize_backward_body(gy.data<T>(), out, planes, c.x[2], c.x[3], c.ho, c.wo, b, t, gd,
                                bd);
      });
      test::expect_bitwise_equal(dx, ops::resize_bilinear2d_backward(gy, c.x));
    }
  }
}

TEST(EvalOps, KernelBodiesOverLaunchGridFloat32) { check_bodies<float>(); }
TEST(EvalOps, KernelBodiesOverLaunchGridFloat64) { check_bodies<double>(); }

}  // namespace
}  // namespace ebm
