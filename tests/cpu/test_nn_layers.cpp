// Layers: Conv2d/Linear forward and init bounds, spectral norm (power iteration against a hand
// float64 reference, σ → the top singular value, the capped variant, both schedules),
// BatchNorm2d (train/eval, running statistics), the DRL timestep embedding and FLOP counting.
#include <gtest/gtest.h>

#include <cmath>

#include "nn/batch_norm.h"
#include "nn/embedding.h"
#include "nn/flops.h"
#include "nn/layers.h"
#include "test_util.h"

namespace ebm::nn {
namespace {

using test::expect_error;

std::vector<double> host(const Tensor& t) { return t.to_vector<double>(); }

TEST(NnLayers, ConvAndLinearUseTheirParametersAndPyTorchInitBounds) {
  Generator gen(11);
  Conv2d conv({.in_channels = 3, .out_channels = 5, .kernel = 3, .stride = 2, .padding = 1}, gen);
  double bound = 1.0 / std::sqrt(27.0);
  for (double w : host(conv.raw_weight())) EXPECT_LE(std::fabs(w), bound);
  for (double b : host(*conv.bias())) EXPECT_LE(std::fabs(b), bound);
  Tensor x = test::randn(Shape{2, 3, 7, 7}, DType::Float32);
  Tensor y = conv.forward(x);
  EXPECT_EQ(y.shape(), (Shape{2, 5, 4, 4}));
  EXPECT_TENSOR_NEAR(y, ops::conv2d(x, conv.raw_weight(), *conv.bias(), 2, 1), 0, 0);

  Linear lin({.in_features = 6, .out_features = 2, .bias = false}, gen);
  EXPECT_EQ(lin.bias(), nullptr);
  EXPECT_EQ(lin.named_parameters().size(), 1u);
  Tensor h = test::randn(Shape{3, 6}, DType::Float32);
  EXPECT_TENSOR_NEAR(lin.forward(h), ops::linear(h, lin.raw_weight(), Tensor()), 0, 0);
  expect_error<ValueError>([&] { Conv2d({.in_channels = 0, .out_channels = 1}, gen); },
                           {"Conv2d", "in 0"});
}

// One power-iteration step in float64 by hand: v = Wᵀu/|Wᵀu|, u = Wv/|Wv|, σ = uᵀWv.
void reference_step(const std::vector<double>& w, int64_t rows, int64_t cols,
                    std::vector<double>& u, std::vector<double>& v, double& sigma) {
  auto normalize = [](std::vector<double>& a) {
    double n = 0;
    for (double x : a) n += x * x;
    n = std::max(std::sqrt(n), 1e-12);
    for (double& x : a) x /= n;
  };
  for (int64_t c = 0; c < cols; ++c) {
    v[c] = 0;
    for (int64_t r = 0; r < rows; ++r) v[c] += w[r * cols + c] * u[r];
  }
  normalize(v);
  std::vector<double> wv(rows, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c) wv[r] += w[r * cols + c] * v[c];
  u = wv;
  normalize(u);
  sigma = 0;
  for (int64_t r = 0; r < rows; ++r) sigma += u[r] * wv[r];
}

TEST(NnSpectralNorm, NamesAndOneStepMatchAHandReference) {
  Generator gen(12);
  SpectralNormOptions sn{.enabled = true};
  Conv2d conv({.in_channels = 3, .out_channels = 4, .kernel = 3, .spectral_norm = sn,
               .dtype = DType::Float64},
              gen);
  std::vector<std::string> names;
  for (auto& [n, t] : conv.state_dict()) names.push_back(n);
  EXPECT_EQ(names, (std::vector<std::string>{"bias", "weight_orig", "weight_u", "weight_v"}));
  EXPECT_EQ(conv.spectral_norm()->u().shape(), (Shape{4}));
  EXPECT_EQ(conv.spectral_norm()->v().shape(), (Shape{27}));
  EXPECT_NEAR(std::sqrt(ops::sum(ops::binary(BinaryOp::Mul, conv.spectral_norm()->u(),
                                             conv.spectral_norm()->u())).item()), 1.0, 1e-12);

  std::vector<double> w = host(conv.raw_weight()), u = host(conv.spectral_norm()->u()),
                      v(27);
  double sigma;
  reference_step(w, 4, 27, u, v, sigma);
  Tensor wn = conv.weight();  // training: one iteration, then W/σ
  EXPECT_TENSOR_NEAR(conv.spectral_norm()->u(), Tensor::from_vector(u, Shape{4}), 1e-12, 1e-14);
  EXPECT_TENSOR_NEAR(conv.spectral_norm()->v(), Tensor::from_vector(v, Shape{27}), 1e-12, 1e-14);
  std::vector<double> expected(w.size());
  for (size_t i = 0; i < w.size(); ++i) expected[i] = w[i] / sigma;
  EXPECT_TENSOR_NEAR(wn, Tensor::from_vector(expected, conv.raw_weight().shape()), 1e-12, 1e-14);

  // Eval: no iteration, σ from the stored vectors.
  conv.eval();
  std::vector<double> u_before = host(conv.spectral_norm()->u());
  Tensor again = conv.weight();
  EXPECT_EQ(host(conv.spectral_norm()->u()), u_before);
  EXPECT_TENSOR_NEAR(again, wn, 1e-12, 1e-14);
}

TEST(NnSpectralNorm, SigmaConvergesToTheTopSingularValue) {
  // W = Q1 diag(s) Q2ᵀ with orthogonal Q from Householder reflections: singular values known.
  const int64_t n = 6;
  std::vector<double> s = {3.0, 1.5, 1.0, 0.7, 0.2, 0.1};
  auto householder = [&](std::vector<double> a) {
    double nn = 0;
    for (double x : a) nn += x * x;
    std::vector<double> q(n * n);
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) q[i * n + j] = (i == j) - 2 * a[i] * a[j] / nn;
    return q;
  };
  auto q1 = householder(host(test::randn(Shape{n}))), q2 = householder(host(test::randn(Shape{n})));
  std::vector<double> w(n * n, 0.0);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      for (int64_t k = 0; k < n; ++k) w[i * n + j] += q1[i * n + k] * s[k] * q2[j * n + k];

  Generator gen(13);
  Linear lin({.in_features = n, .out_features = n, .bias = false,
              .spectral_norm = {.enabled = true, .n_power_iterations = 200},
              .dtype = DType::Float64},
             gen);
  lin.raw_weight().detach().copy_(Tensor::from_vector(w, Shape{n, n}));
  lin.weight();
  EXPECT_NEAR(lin.spectral_norm()->sigma().item(), 3.0, 3.0 * 1e-10);
  // W/σ then has spectral norm 1: |W/σ · v| = 1 for the top right singular vector v.
}

TEST(NnSpectralNorm, SigmaGradientMatchesFiniteDifferences) {
  Generator gen(14);
  Linear lin({.in_features = 5, .out_features = 3, .spectral_norm = {.enabled = true},
              .dtype = DType::Float64},
             gen);
  lin.eval();  // fixed u, v: σ is a smooth function of W
  SpectralNorm* sn = lin.spectral_norm();
  Tensor u = sn->u(), v = sn->v();
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        lin.raw_weight().detach().copy_(in[0].detach());
        // Rebuild σ from the input tensor itself so autograd sees in[0].
        Tensor wv = matmul(in[0], reshape(v, Shape{5, 1}));
        Tensor sigma = reshape(matmul(reshape(u, Shape{1, 3}), wv), Shape{});
        return div(in[0], sigma);
      },
      {test::randn(Shape{3, 5})});
  // The layer's own graph: d σ / d W = u vᵀ.
  Tensor sigma = sn->sigma();
  backward(sigma);
  std::vector<double> g = host(lin.raw_weight().grad()), hu = host(u), hv = host(v);
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 5; ++c) EXPECT_NEAR(g[r * 5 + c], hu[r] * hv[c], 1e-14);
}

TEST(NnSpectralNorm, CappedVariantOnlyEverScalesDown) {
  Generator gen(15);
  Conv2d small({.in_channels = 2, .out_channels = 2, .kernel = 1, .padding = 0, .bias = false,
                .spectral_norm = {.enabled = true, .capped = true, .n_power_iterations = 50},
                .dtype = DType::Float64},
               gen);
  Tensor w = small.raw_weight();
  w.detach().copy_(ops::unary(UnaryOp::Affine, w.detach(), 1e-3, 0.0));  // σ ≪ 1
  EXPECT_TENSOR_NEAR(small.weight(), w, 1e-15, 0);  // returned unchanged
  w.detach().copy_(ops::unary(UnaryOp::Affine, w.detach(), 1e4, 0.0));   // σ ≫ 1
  Tensor wn = small.weight();
  double sigma = small.spectral_norm()->sigma().item();
  EXPECT_GT(sigma, 1.0);
  EXPECT_TENSOR_NEAR(wn, ops::unary(UnaryOp::Affine, w, 1.0 / (sigma + 1e-6), 0.0), 1e-12, 0);
}

TEST(NnSpectralNorm, OncePerIterationScheduleReusesOneNormalisedWeight) {
  Generator gen(16);
  Conv2d conv({.in_channels = 2, .out_channels = 3, .spectral_norm = {.enabled = true}}, gen);
  set_spectral_norm_schedule(conv, SpectralNormSchedule::OncePerIteration);
  EXPECT_EQ(spectral_norms(conv).size(), 1u);
  refresh_spectral_norm(conv);
  std::vector<double> u1 = host(conv.spectral_norm()->u());
  Tensor w1 = conv.weight(), w2 = conv.weight();
  EXPECT_TRUE(w1.same(w2));                               // the cached W/σ
  EXPECT_EQ(host(conv.spectral_norm()->u()), u1);         // no further iteration
  // The loss's backward reaches weight_orig through the cached σ, from several forwards.
  Tensor x = test::randn(Shape{1, 2, 4, 4}, DType::Float32);
  backward(sum(conv.forward(x)) + sum(conv.forward(x)));
  EXPECT_TRUE(conv.raw_weight().grad().defined());
  refresh_spectral_norm(conv);
  EXPECT_NE(host(conv.spectral_norm()->u()), u1);  // one more step per refresh
  EXPECT_FALSE(conv.weight().same(w1));
}

TEST(NnSpectralNorm, EveryForwardGraphsSurviveLaterIterations) {
  Generator gen(17);
  Conv2d conv({.in_channels = 2, .out_channels = 3, .spectral_norm = {.enabled = true}}, gen);
  Tensor x = test::randn(Shape{1, 2, 4, 4}, DType::Float32);
  Tensor e1 = sum(conv.forward(x));
  Tensor e2 = sum(conv.forward(x));  // iterates u, v in place after e1's graph saved them
  EXPECT_NO_THROW(backward(e1 + e2));
}

TEST(NnBatchNorm, TrainUsesBatchStatisticsAndUpdatesRunningOnes) {
  BatchNorm2d bn({.num_features = 3, .momentum = 0.1, .dtype = DType::Float64});
  Tensor x = test::randn(Shape{4, 3, 2, 2}, DType::Float64, 2.0);
  Tensor y = bn.forward(x);
  std::vector<double> xs = host(x), ys = host(y), rm = host(bn.running_mean()),
                      rv = host(bn.running_var());
  for (int c = 0; c < 3; ++c) {
    double m = 0, v = 0;
    std::vector<int> idx;
    for (int n = 0; n < 4; ++n)
      for (int k = 0; k < 4; ++k) idx.push_back(n * 12 + c * 4 + k);
    for (int i : idx) m += xs[i] / 16;
    for (int i : idx) v += (xs[i] - m) * (xs[i] - m) / 16;
    for (int i : idx) EXPECT_NEAR(ys[i], (xs[i] - m) / std::sqrt(v + 1e-5), 1e-12);
    EXPECT_NEAR(rm[c], 0.1 * m, 1e-14);
    EXPECT_NEAR(rv[c], 0.9 + 0.1 * v * 16 / 15, 1e-14);
  }
  EXPECT_EQ(bn.state_dict().back().first, "num_batches_tracked");
  EXPECT_EQ(bn.state_dict().back().second.item(), 1.0);
  bn.eval();
  Tensor z = bn.forward(x);
  std::vector<double> zs = host(z);
  for (int i = 0; i < 48; ++i) {
    int c = (i / 4) % 3;
    EXPECT_NEAR(zs[i], (xs[i] - rm[c]) / std::sqrt(rv[c] + 1e-5), 1e-12);
  }
  EXPECT_EQ(bn.state_dict().back().second.item(), 1.0);  // eval does not count
  expect_error<ShapeError>([&] { bn.forward(Tensor::zeros(Shape{2, 4, 2, 2}, DType::Float64)); },
                           {"BatchNorm2d", "[N, 3, H, W]"});
}

TEST(NnBatchNorm, GradientsMatchFiniteDifferences) {
  BatchNorm2d bn({.num_features = 2, .dtype = DType::Float64});
  test::gradcheck([&](const std::vector<Tensor>& in) { return bn.forward(in[0]); },
                  {test::randn(Shape{3, 2, 2, 2})});
}

TEST(NnEmbedding, TimestepTableIsTheDrlSinusoid) {
  Tensor table = sinusoidal_embedding_table(6, 8);
  std::vector<double> t = host(table);
  for (int step = 0; step < 6; ++step)
    for (int i = 0; i < 4; ++i) {
      double w = std::exp(-std::log(1e4) * i / 3.0);
      EXPECT_NEAR(t[step * 8 + i], std::sin(step * w), 1e-6);
      EXPECT_NEAR(t[step * 8 + 4 + i], std::cos(step * w), 1e-6);
    }
  TimestepEmbedding emb(6, 8);
  EXPECT_TRUE(emb.state_dict().empty());  // a fixed table, not a checkpointed tensor
  Tensor e = emb.forward(Tensor::from_vector(std::vector<int64_t>{5, 0, 2}, Shape{3}));
  std::vector<double> ev = host(e);
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(ev[k], t[5 * 8 + k]);
    EXPECT_EQ(ev[16 + k], t[2 * 8 + k]);
  }
  expect_error<ValueError>(
      [&] { emb.forward(Tensor::from_vector(std::vector<int64_t>{6}, Shape{1})); }, {"6"});
  expect_error<ShapeError>([&] { emb.forward(Tensor::zeros(Shape{2})); }, {"int64 [N]"});
}

TEST(NnEmbedding, RowsForLabelsPicksClassRows) {
  Tensor rows = Tensor::from_vector(std::vector<float>{1, 2, 3, 4, 5, 6}, Shape{3, 2});
  Tensor r = rows_for_labels(rows, Tensor::from_vector(std::vector<int64_t>{2, 0}, Shape{2}));
  EXPECT_EQ(r.shape(), (Shape{2, 2, 1, 1}));
  EXPECT_EQ(r.to_vector<float>(), (std::vector<float>{5, 6, 1, 2}));
}

TEST(NnFlops, CounterAddsConvAndLinearMultiplyAdds) {
  Generator gen(18);
  Conv2d conv({.in_channels = 3, .out_channels = 8, .kernel = 3, .stride = 1, .padding = 1}, gen);
  Linear lin({.in_features = 8, .out_features = 2}, gen);
  FlopCounter outer;
  {
    FlopCounter inner;
    Tensor h = conv.forward(Tensor::zeros(Shape{2, 3, 4, 4}));
    lin.forward(sum(h, {2, 3}));
    EXPECT_EQ(inner.flops(), 2 * (2 * 8 * 4 * 4) * 27 + 2 * 2 * 2 * 8);
  }
  EXPECT_EQ(outer.flops(), 2 * (2 * 8 * 4 * 4) * 27 + 2 * 2 * 2 * 8);
}

TEST(NnDropout, ZeroesInTrainingOnly) {
  auto gen = std::make_shared<Generator>(19);
  Dropout drop(0.5, gen);
  Tensor x = Tensor::ones(Shape{1000});
  std::vector<double> y = host(drop.forward(x));
  int zeros = 0;
  for (double v : y) {
    EXPECT_TRUE(v == 0.0 || v == 2.0);
    zeros += v == 0.0;
  }
  EXPECT_GT(zeros, 400);
  EXPECT_LT(zeros, 600);
  drop.eval();
  EXPECT_TRUE(drop.forward(x).same(x));
}

}  // namespace
}  // namespace ebm::nn
