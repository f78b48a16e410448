// conv2d (and its two adjoints), conv_transpose2d, avg_pool2d and upsample_nearest2d: forward
// against naive nested loops on fresh random inputs (float32 and float64; shapes with stride 2,
// padding 0/1/2, 1x1, 3x3, 5x5, 7x1, batches big enough for the threaded paths), gradients and
// second-order gradients by finite differences, the needs mask of the Langevin path (∇ₓE with
// frozen weights), and error messages.
#include <algorithm>
#include <cmath>
#include <limits>

#include "conv_cases.h"
#include "test_util.h"

namespace ebm {
namespace {

using test::randn;

using test::ConvCase;
using test::kConvCases;

int64_t out_size(int64_t in, int64_t k, int s, int p) { return (in + 2 * p - k) / s + 1; }

// Visits every (output element, weight element, input element) triple of a conv.
template <class F>
void for_each_tap(const ConvCase& c, F&& f) {
  int64_t ho = out_size(c.h, c.kh, c.s, c.p), wo = out_size(c.w, c.kw, c.s, c.p);
  for (int64_t n = 0; n < c.n; ++n)
    for (int64_t co = 0; co < c.cout; ++co)
      for (int64_t oh = 0; oh < ho; ++oh)
        for (int64_t ow = 0; ow < wo; ++ow)
          for (int64_t ci = 0; ci < c.cin; ++ci)
            for (int64_t ki = 0; ki < c.kh; ++ki)
              for (int64_t kj = 0; kj < c.kw; ++kj) {
                int64_t ih = oh * c.s - c.p + ki, iw = ow * c.s - c.p + kj;
                if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
                int64_t yi = ((n * c.cout + co) * ho + oh) * wo + ow;
                int64_t wi = ((co * c.cin + ci) * c.kh + ki) * c.kw + kj;
                int64_t xi = ((n * c.cin + ci) * c.h + ih) * c.w + iw;
                f(yi, wi, xi, co);
              }
}

// A reference value and its rounding scale mag = sum of |terms|.
struct Ref {
  Tensor value, mag;
};

Ref naive_conv(const ConvCase& c, const Tensor& x, const Tensor& w, const Tensor& b) {
  Shape ys{c.n, c.cout, out_size(c.h, c.kh, c.s, c.p), out_size(c.w, c.kw, c.s, c.p)};
  auto xv = x.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> y(ys.numel()), mag(ys.numel());
  for_each_tap(c, [&](int64_t yi, int64_t wi, int64_t xi, int64_t) {
    y[yi] += wv[wi] * xv[xi];
    mag[yi] += std::fabs(wv[wi] * xv[xi]);
  });
  if (b.defined()) {
    auto bv = b.to_vector<double>();
    int64_t hw = ys[2] * ys[3];
    for (int64_t i = 0; i < ys.numel(); ++i) {
      y[i] += bv[(i / hw) % c.cout];
      mag[i] += std::fabs(bv[(i / hw) % c.cout]);
    }
  }
  return {Tensor::from_vector(y, ys), Tensor::from_vector(mag, ys)};
}

Ref naive_conv_backward_input(const ConvCase& c, const Tensor& g, const Tensor& w) {
  Shape xs{c.n, c.cin, c.h, c.w};
  auto gv = g.to_vector<double>(), wv = w.to_vector<double>();
  std::vector<double> dx(xs.numel()), mag(xs.numel());
  for_each_tap(c, [&](int64_t yi, int64_t wi, int64_t xi, int64_t) {
    dx[xi] += gv[yi] * wv[wi];
    mag[xi] += std::fabs(gv[yi] * wv[wi]);
  });
  return {Tensor::from_vector(dx, xs), Tensor::from_vector(mag, xs)};
}

Ref naive_conv_backward_weight(const ConvCase& c, const Tensor& g, const Tensor& x) {
  Shape ws{c.cout, c.cin, c.kh, c.kw};
  auto gv = g.to_vector<double>(), xv = x.to_vector<double>();
  std::vector<double> dw(ws.numel()), mag(ws.numel());
  for_each_tap(c, [&](int64_t yi, int64_t wi, int64_t xi, int64_t) {
    dw[wi] += gv[yi] * xv[xi];
    mag[wi] += std::fabs(gv[yi] * xv[xi]);
  });
  return {Tensor::from_vector(dw, ws), Tensor::from_vector(mag, ws)};
}

// A sum of `terms` products in any order is within (terms + 1)·u·sum|products| of the exact
// value (Higham, Accuracy and Stability, Thm 3.1), u the unit roundoff of the dtype (2^-24 for
// float32, 2^-53 for float64). im2col + blocked/threaded GEMM only reorders the sums, so a correct
// conv meets this bound, and an indexing bug misses it by orders of magnitude.
void expect_within_sum_bound(const Tensor& actual, const Ref& ref, int64_t terms) {
  ASSERT_EQ(actual.shape(), ref.value.shape());
  double u = actual.dtype() == DType::Float32 ? std::numeric_limits<float>::epsilon() / 2
                                              : std::numeric_limits<double>::epsilon() / 2;
  auto a = actual.to_vector<double>(), r = ref.value.to_vector<double>();
  auto s = ref.mag.to_vector<double>();
  int bad = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    double bound = (terms + 2) * u * s[i] + 1e-300;
    if (!(std::fabs(a[i] - r[i]) <= bound) && bad++ < 5)
      ADD_FAILURE() << "element " << i << ": got " << a[i] << ", expected " << r[i] << " (bound "
                    << bound << ")";
  }
  EXPECT_EQ(bad, 0);
}

class ConvTest : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvTest, ForwardMatchesNaiveReference) {
  const ConvCase& c = GetParam();
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = randn({c.n, c.cin, c.h, c.w}, dt), w = randn({c.cout, c.cin, c.kh, c.kw}, dt);
    Tensor b = c.bias ? randn({c.cout}, dt) : Tensor();
    Tensor y = ops::conv2d(x, w, b, c.s, c.p);
    EXPECT_EQ(y.dtype(), dt);
    expect_within_sum_bound(y, naive_conv(c, x, w, b), c.cin * c.kh * c.kw + 1);
  }
}

TEST_P(ConvTest, BackwardOpsMatchNaiveAdjoints) {
  const ConvCase& c = GetParam();
  Shape xs{c.n, c.cin, c.h, c.w}, ws{c.cout, c.cin, c.kh, c.kw};
  Shape ys{c.n, c.cout, out_size(c.h, c.kh, c.s, c.p), out_size(c.w, c.kw, c.s, c.p)};
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    Tensor x = randn(xs, dt), w = randn(ws, dt), g = randn(ys, dt);
    expect_within_sum_bound(ops::conv2d_backward_input(g, w, xs, c.s, c.p),
                            naive_conv_backward_input(c, g, w), c.cout * c.kh * c.kw);
    expect_within_sum_bound(ops::conv2d_backward_weight(g, x, ws, c.s, c.p),
                            naive_conv_backward_weight(c, g, x), c.n * ys[2] * ys[3]);
  }
}

TEST_P(ConvTest, GradientMatchesFiniteDifferences) {
  // The same geometry (kernel, stride, padding, image size) with the batch and channels cut
  // down, so finite differences stay cheap.
  ConvCase c = GetParam();
  c.n = std::min<int64_t>(c.n, 2);
  c.cin = std::min<int64_t>(c.cin, 3);
  c.cout = std::min<int64_t>(c.cout, 3);
  c.h = std::min<int64_t>(c.h, 11);
  c.w = std::min<int64_t>(c.w, 11);
  std::vector<Tensor> in{randn({c.n, c.cin, c.h, c.w}), randn({c.cout, c.cin, c.kh, c.kw})};
  if (c.bias) in.push_back(randn({c.cout}));
  test::gradcheck(
      [&](const std::vector<Tensor>& t) {
        return conv2d(t[0], t[1], c.bias ? t[2] : Tensor(), c.s, c.p);
      },
      in);
}

INSTANTIATE_TEST_SUITE_P(Shapes, ConvTest, ::testing::ValuesIn(kConvCases),
                         [](const auto& info) { return "case" + std::to_string(info.index); });

TEST(Conv2d, SecondOrderGradientsMatchFiniteDifferences) {
  // Gradient-penalty style: d/dx and d/dw of sum(v ⊙ conv(x, w)²) recorded with create_graph
  // (this runs the backward ops' own derivatives), then differentiated again in x, w and b.
  ConvCase c{2, 2, 5, 4, 3, 3, 3, 2, 1, true};
  Tensor v = randn({2, 3, 3, 2});
  for (int wrt : {0, 1}) {
    SCOPED_TRACE(wrt == 0 ? "d/dx" : "d/dw");
    test::gradcheck(
        [&](const std::vector<Tensor>& t) {
          GradModeGuard on(true);
          Tensor e = sum(square(conv2d(t[0], t[1], t[2], c.s, c.p)) * v);
          return grad(e, {t[wrt]}, Tensor(), /*create_graph=*/true)[0];
        },
        {randn({c.n, c.cin, c.h, c.w}), randn({c.cout, c.cin, c.kh, c.kw}), randn({c.cout})});
  }
}

TEST(Conv2d, GradWrtInputOnlySkipsWeightGradient) {
  // The sampler's call: ∇ₓE with the weights requiring grad but not asked for. The weight is
  // much bigger than everything else, so forming its gradient would show in the peak bytes.
  Tensor x = randn({1, 16, 4, 4}).set_requires_grad();
  Tensor w = randn({128, 16, 7, 7}).set_requires_grad();  // 800 kB against ~100 kB of the rest
  Tensor b = randn({128}).set_requires_grad();
  Tensor e = sum(square(conv2d(x, w, b, 1, 3)));
  int64_t base = memory_stats(DeviceType::CPU).allocated_bytes;
  reset_peak_memory(DeviceType::CPU);
  Tensor gx = grad(e, {x})[0];
  int64_t peak_x_only = memory_stats(DeviceType::CPU).peak_bytes - base;
  EXPECT_LT(peak_x_only, static_cast<int64_t>(w.nbytes()) / 2) << "a weight gradient was formed";
  EXPECT_FALSE(w.grad().defined());
  EXPECT_FALSE(b.grad().defined());
  EXPECT_FALSE(x.grad().defined());

  base = memory_stats(DeviceType::CPU).allocated_bytes;
  reset_peak_memory(DeviceType::CPU);
  backward(e);
  EXPECT_GE(memory_stats(DeviceType::CPU).peak_bytes - base, static_cast<int64_t>(w.nbytes()))
      << "the full backward should form the weight gradient (test sensitivity)";
  ASSERT_TRUE(w.grad().defined() && b.grad().defined() && x.grad().defined());
  EXPECT_TENSOR_NEAR(gx, x.grad(), 1e-14, 1e-14);

  // Frozen weights (requires_grad off): backward fills x.grad only.
  Tensor wf = w.detach(), x2 = x.detach().set_requires_grad();
  backward(sum(square(conv2d(x2, wf, b.detach(), 1, 3))));
  EXPECT_FALSE(wf.grad().defined());
  EXPECT_TENSOR_NEAR(x2.grad(), gx, 1e-14, 1e-14);
}

TEST(Conv2d, ErrorsNameOpAndShapes) {
  Tensor x = randn({2, 3, 8, 8}), w = randn({4, 5, 3, 3});
  test::expect_error<ShapeError>([&] { ops::conv2d(x, w); }, {"conv2d", "[2, 3, 8, 8]", "[4, 5, 3, 3]"});
  test::expect_error<ShapeError>([&] { ops::conv2d(randn({3, 8, 8}), randn({4, 3, 3, 3})); },
                           {"conv2d", "[3, 8, 8]", "[4, 3, 3, 3]"});
  test::expect_error<ShapeError>([&] { ops::conv2d(x, randn({4, 3, 3, 3}), randn({5})); },
                           {"conv2d", "[5]", "[4, 3, 3, 3]"});
  test::expect_error<ShapeError>([&] { ops::conv2d(randn({1, 3, 2, 2}), randn({4, 3, 5, 5})); },
                           {"conv2d", "[1, 3, 2, 2]", "[4, 3, 5, 5]"});
  test::expect_error<DTypeError>([&] { ops::conv2d(x, randn({4, 3, 3, 3}, DType::Float32)); },
                           {"conv2d", "float64", "float32"});
  test::expect_error<ValueError>([&] { ops::conv2d(x, randn({4, 3, 3, 3}), Tensor(), 0); },
                           {"conv2d", "stride"});
  test::expect_error<ShapeError>(
      [&] { ops::conv2d_backward_input(randn({2, 4, 7, 7}), randn({4, 3, 3, 3}), {2, 3, 8, 8}, 1, 1); },
      {"conv2d_backward_input", "[2, 4, 7, 7]", "[2, 4, 8, 8]"});
}

TEST(Conv2d, BackwardBiasSumsOverBatchAndSpace) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    SCOPED_TRACE(dtype_name(dt));
    for (Shape s : {Shape{1, 1, 1, 1}, Shape{3, 5, 4, 7}, Shape{16, 24, 16, 16}}) {
      Tensor g = randn(s, dt);
      auto gv = g.to_vector<double>();
      std::vector<double> ref(s[1]), mag(s[1]);
      for (int64_t i = 0; i < s.numel(); ++i) {
        ref[(i / (s[2] * s[3])) % s[1]] += gv[i];
        mag[(i / (s[2] * s[3])) % s[1]] += std::fabs(gv[i]);
      }
      expect_within_sum_bound(ops::conv2d_backward_bias(g),
                              {Tensor::from_vector(ref, {s[1]}), Tensor::from_vector(mag, {s[1]})},
                              s[0] * s[2] * s[3]);
      // The op autograd's conv2d node would give for the bias.
      EXPECT_TENSOR_NEAR(ops::conv2d_backward_bias(g), ops::sum(g, {0, 2, 3}),
                         dt == DType::Float32 ? 1e-4 : 1e-12, 1e-4);
    }
  }
  EXPECT_EQ(ops::conv2d_backward_bias(Tensor::zeros({0, 3, 2, 2})).to_vector<double>(),
            std::vector<double>(3, 0.0));
  test::expect_error<ShapeError>([] { ops::conv2d_backward_bias(randn({2, 3, 4})); },
                                 {"conv2d_backward_bias", "[2, 3, 4]"});
}

// ---- conv_transpose2d: naive scatter y[n, co, i*s - p + ki, j*s - p + kj] += x[n, ci, i, j] w[ci, co, ki, kj]

TEST(ConvTranspose2d, MatchesNaiveScatterAndGradients) {
  struct Case { int64_t n, cin, h, w, cout, k; int s, p, op; };
  for (Case c : {Case{2, 3, 4, 5, 2, 3, 2, 1, 1}, Case{1, 2, 3, 3, 4, 4, 2, 1, 0},
                 Case{3, 4, 5, 5, 3, 1, 1, 0, 0}}) {
    SCOPED_TRACE(str("k", c.k, " s", c.s, " p", c.p, " op", c.op));
    int64_t ho = (c.h - 1) * c.s - 2 * c.p + c.k + c.op, wo = (c.w - 1) * c.s - 2 * c.p + c.k + c.op;
    for (DType dt : {DType::Float32, DType::Float64}) {
      Tensor x = randn({c.n, c.cin, c.h, c.w}, dt), w = randn({c.cin, c.cout, c.k, c.k}, dt);
      Tensor b = randn({c.cout}, dt);
      auto xv = x.to_vector<double>(), wv = w.to_vector<double>(), bv = b.to_vector<double>();
      std::vector<double> y(c.n * c.cout * ho * wo), mag(y.size());
      for (int64_t i = 0; i < static_cast<int64_t>(y.size()); ++i) {
        y[i] = bv[(i / (ho * wo)) % c.cout];
        mag[i] = std::fabs(y[i]);
      }
      for (int64_t n = 0; n < c.n; ++n)
        for (int64_t ci = 0; ci < c.cin; ++ci)
          for (int64_t i = 0; i < c.h; ++i)
            for (int64_t j = 0; j < c.w; ++j)
              for (int64_t co = 0; co < c.cout; ++co)
                for (int64_t ki = 0; ki < c.k; ++ki)
                  for (int64_t kj = 0; kj < c.k; ++kj) {
                    int64_t oh = i * c.s - c.p + ki, ow = j * c.s - c.p + kj;
                    if (oh < 0 || oh >= ho || ow < 0 || ow >= wo) continue;
                    double t = xv[((n * c.cin + ci) * c.h + i) * c.w + j] *
                               wv[((ci * c.cout + co) * c.k + ki) * c.k + kj];
                    int64_t yi = ((n * c.cout + co) * ho + oh) * wo + ow;
                    y[yi] += t;
                    mag[yi] += std::fabs(t);
                  }
      Shape ys{c.n, c.cout, ho, wo};
      expect_within_sum_bound(conv_transpose2d(x, w, b, c.s, c.p, c.op),
                              {Tensor::from_vector(y, ys), Tensor::from_vector(mag, ys)},
                              c.cin * c.k * c.k + 1);
    }
    test::gradcheck(
        [&](const std::vector<Tensor>& t) { return conv_transpose2d(t[0], t[1], t[2], c.s, c.p, c.op); },
        {randn({c.n, c.cin, c.h, c.w}), randn({c.cin, c.cout, c.k, c.k}), randn({c.cout})});
  }
  test::expect_error<ShapeError>([] { conv_transpose2d(randn({1, 3, 4, 4}), randn({2, 3, 3, 3})); },
                           {"conv_transpose2d", "[1, 3, 4, 4]", "[2, 3, 3, 3]"});
}

// ---- avg_pool2d, PyTorch semantics

Tensor naive_avg_pool(const Tensor& x, int k, int s, int p, bool include_pad) {
  const Shape& xs = x.shape();
  int64_t ho = (xs[2] + 2 * p - k) / s + 1, wo = (xs[3] + 2 * p - k) / s + 1;
  auto xv = x.to_vector<double>();
  std::vector<double> y(xs[0] * xs[1] * ho * wo);
  for (int64_t pl = 0; pl < xs[0] * xs[1]; ++pl)
    for (int64_t oh = 0; oh < ho; ++oh)
      for (int64_t ow = 0; ow < wo; ++ow) {
        double acc = 0;
        int64_t real = 0, padded = 0;
        for (int64_t ih = oh * s - p; ih < oh * s - p + k; ++ih)
          for (int64_t iw = ow * s - p; iw < ow * s - p + k; ++iw) {
            // PyTorch counts padding cells up to H + p, W + p only.
            if (ih < xs[2] + p && iw < xs[3] + p) ++padded;
            if (ih < 0 || ih >= xs[2] || iw < 0 || iw >= xs[3]) continue;
            acc += xv[(pl * xs[2] + ih) * xs[3] + iw];
            ++real;
          }
        y[(pl * ho + oh) * wo + ow] = acc / (include_pad ? padded : real);
      }
  return Tensor::from_vector(y, {xs[0], xs[1], ho, wo});
}

struct PoolCase {
  Shape x;
  int k, s, p;
  bool include_pad;
};
const PoolCase kPoolCases[] = {
    {{2, 3, 8, 8}, 2, 2, 0, true},   {{2, 3, 7, 9}, 2, 2, 0, true},  // floor on odd sizes
    {{1, 2, 7, 7}, 3, 2, 1, true},   {{1, 2, 7, 7}, 3, 2, 1, false},
    {{2, 2, 6, 5}, 3, 1, 1, false},  {{3, 4, 5, 6}, 2, 1, 0, true},
    {{2, 1, 6, 6}, 4, 3, 2, true},   {{2, 1, 6, 6}, 4, 3, 2, false},
    {{32, 16, 16, 16}, 2, 2, 0, true},  // threaded
};

TEST(AvgPool2d, ForwardMatchesNaiveReference) {
  for (const auto& c : kPoolCases)
    for (DType dt : {DType::Float32, DType::Float64}) {
      SCOPED_TRACE(str(c.x, " k", c.k, " s", c.s, " p", c.p, " cip", c.include_pad, " ", dtype_name(dt)));
      Tensor x = randn(c.x, dt);
      double tol = dt == DType::Float32 ? 1e-6 : 1e-14;  // k² <= 16 terms of size ~1
      EXPECT_TENSOR_NEAR(ops::avg_pool2d(x, c.k, c.s, c.p, c.include_pad),
                         naive_avg_pool(x, c.k, c.s, c.p, c.include_pad), tol, tol);
    }
}

TEST(AvgPool2d, GradientMatchesFiniteDifferences) {
  for (const auto& c : kPoolCases) {
    if (c.x.numel() > 500) continue;
    SCOPED_TRACE(str(c.x, " k", c.k, " s", c.s, " p", c.p, " cip", c.include_pad));
    test::gradcheck(
        [&](const std::vector<Tensor>& t) { return avg_pool2d(t[0], c.k, c.s, c.p, c.include_pad); },
        {randn(c.x)});
  }
}

TEST(AvgPool2d, DefaultStrideIsKernelAndErrors) {
  Tensor x = randn({1, 2, 6, 6});
  EXPECT_EQ(avg_pool2d(x, 3).to_vector<double>(), ops::avg_pool2d(x, 3, 3).to_vector<double>());
  test::expect_error<ValueError>([&] { ops::avg_pool2d(x, 2, 2, 2); }, {"avg_pool2d", "padding"});
  test::expect_error<ShapeError>([&] { ops::avg_pool2d(randn({2, 6, 6}), 2, 2); },
                           {"avg_pool2d", "[2, 6, 6]"});
  test::expect_error<ShapeError>([&] { ops::avg_pool2d_backward(randn({1, 2, 2, 2}), {1, 2, 6, 6}, 2, 2); },
                           {"avg_pool2d_backward", "[1, 2, 2, 2]", "[1, 2, 3, 3]"});
}

// ---- upsample_nearest2d

TEST(UpsampleNearest2d, ForwardMatchesNaiveAndGradients) {
  for (int scale : {1, 2, 3})
    for (Shape s : {Shape{1, 1, 2, 3}, Shape{2, 3, 5, 4}, Shape{16, 16, 16, 16}})
      for (DType dt : {DType::Float32, DType::Float64}) {
        SCOPED_TRACE(str(s, " scale ", scale, " ", dtype_name(dt)));
        Tensor x = randn(s, dt);
        Tensor y = ops::upsample_nearest2d(x, scale);
        Shape ys{s[0], s[1], s[2] * scale, s[3] * scale};
        auto xv = x.to_vector<double>();
        std::vector<double> ref(ys.numel());
        for (int64_t pl = 0; pl < s[0] * s[1]; ++pl)
          for (int64_t i = 0; i < ys[2]; ++i)
            for (int64_t j = 0; j < ys[3]; ++j)
              ref[(pl * ys[2] + i) * ys[3] + j] = xv[(pl * s[2] + i / scale) * s[3] + j / scale];
        ASSERT_EQ(y.shape(), ys);
        EXPECT_EQ(y.to_vector<double>(), ref);  // pure copies: exact
        // The backward sums each block: check it as the adjoint, <up(x), g> = <x, up_back(g)>.
        Tensor g = randn(ys, dt);
        double lhs = ops::sum(ops::binary(BinaryOp::Mul, y, g)).item();
        double rhs = ops::sum(ops::binary(BinaryOp::Mul, x, ops::upsample_nearest2d_backward(g, scale))).item();
        EXPECT_NEAR(lhs, rhs, (dt == DType::Float32 ? 1e-5 : 1e-12) * std::sqrt(double(ys.numel())));
      }
  test::gradcheck([](const std::vector<Tensor>& t) { return upsample_nearest2d(t[0], 2); },
                  {randn({2, 2, 3, 4})});
  test::expect_error<ShapeError>([] { ops::upsample_nearest2d_backward(randn({1, 1, 5, 4}), 2); },
                           {"upsample_nearest2d_backward", "[1, 1, 5, 4]"});
  test::expect_error<ShapeError>([] { ops::upsample_nearest2d(randn({4, 4}), 2); },
                           {"upsample_nearest2d", "[4, 4]"});
}

TEST(PoolAndUpsample, SecondOrderGradientsMatchFiniteDifferences) {
  Tensor v = randn({2, 2, 3, 3});
  test::gradcheck(
      [&](const std::vector<Tensor>& t) {
        GradModeGuard on(true);
        Tensor e = sum(square(avg_pool2d(upsample_nearest2d(t[0], 2), 3, 2, 1, false)) * v);
        return grad(e, {t[0]}, Tensor(), /*create_graph=*/true)[0];
      },
      {randn({2, 2, 3, 3})});
}

}  // namespace
}  // namespace ebm
