// Sample-quality and OOD metrics (eval/metrics.h): feature statistics (streaming = one-shot = numpy),
// FID (a set against itself, closed forms, samples of two known Gaussians, pytorch-fid's formula
// with scipy's sqrtm as goldens, both routes), the matrix square root against scipy, .npz
// statistics, Inception Score (uniform predictions give 1, goldens from torch-fidelity's formula),
// KID (one-subset golden, sanity), AUROC (hand cases with ties, goldens). Goldens:
// tests/data/eval/metrics_goldens.safetensors (tests/reference/make_eval_goldens.py).
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "autograd/ops.h"
#include "core/io/npz.h"
#include "core/io/safetensors.h"
#include "eval/metrics.h"
#include "test_util.h"

namespace ebm {
namespace {

using eval::GaussianStats;

const std::string kGoldens = std::string(EBM_TEST_DATA_DIR) + "/eval/metrics_goldens.safetensors";

const SafetensorsFile& goldens() {
  static const SafetensorsFile g = read_safetensors(kGoldens);
  return g;
}

// Rows of x = mu + z A^T with z standard normal, from a fixed seed.
Tensor gaussian_samples(int64_t n, const std::vector<double>& mu, const std::vector<double>& a,
                        uint64_t seed) {
  const int64_t d = static_cast<int64_t>(mu.size());
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> normal;
  std::vector<double> x(n * d), z(d);
  for (int64_t i = 0; i < n; ++i) {
    for (auto& v : z) v = normal(gen);
    for (int64_t r = 0; r < d; ++r) {
      double s = mu[r];
      for (int64_t c = 0; c < d; ++c) s += a[r * d + c] * z[c];
      x[i * d + r] = s;
    }
  }
  return Tensor::from_vector(x, {n, d});
}

TEST(EvalMetrics, StreamingStatsEqualOneShotAndNumpy) {
  for (const char* c : {"full", "singular"}) {
    SCOPED_TRACE(c);
    const std::string pre = std::string("fid.") + c + ".";
    const Tensor& f = goldens().at(pre + "f1");
    GaussianStats one = eval::feature_stats(f);
    EXPECT_EQ(one.count, f.size(0));
    EXPECT_TENSOR_NEAR(one.mu, goldens().at(pre + "mu1"), 1e-12, 1e-13);
    EXPECT_TENSOR_NEAR(one.sigma, goldens().at(pre + "sigma1"), 1e-11, 1e-13);
    // Ragged batches, float32 input too (the network's dtype).
    eval::FeatureStatsAccumulator acc(f.size(1));
    int64_t at = 0;
    for (int64_t step : {1, 0, 5, 2, 7, 3}) {
      const int64_t end = std::min(at + step, f.size(0));
      acc.add(f.slice(at, end));
      at = end;
    }
    acc.add(f.slice(at, f.size(0)));
    GaussianStats s = acc.stats();
    EXPECT_EQ(s.count, f.size(0));
    EXPECT_TENSOR_NEAR(s.mu, one.mu, 1e-12, 1e-13);
    EXPECT_TENSOR_NEAR(s.sigma, one.sigma, 1e-11, 1e-13);
    GaussianStats s32 = eval::feature_stats(f.to(DType::Float32));
    EXPECT_TENSOR_NEAR(s32.sigma, one.sigma, 1e-5, 1e-6);
  }
}

TEST(EvalMetrics, StatsSurviveLargeMeans) {
  // sum(x x^T) - n mu mu^T would lose ~8 digits here; the pairwise merge loses none.
  Tensor f = test::randn({500, 6});
  GaussianStats a = eval::feature_stats(f);
  eval::FeatureStatsAccumulator acc(6);
  Tensor shifted = f + 1e4;
  for (int64_t i = 0; i < 500; i += 37) acc.add(shifted.slice(i, std::min<int64_t>(i + 37, 500)));
  EXPECT_TENSOR_NEAR(acc.stats().sigma, a.sigma, 1e-9, 1e-10);
}

TEST(EvalMetrics, StatsErrors) {
  eval::FeatureStatsAccumulator acc(4);
  test::expect_error<ShapeError>([&] { acc.add(test::randn({3, 5})); }, {"[n, 4]"});
  acc.add(test::randn({1, 4}));
  test::expect_error<ValueError>([&] { acc.stats(); }, {"at least 2"});
  Tensor bad = Tensor::full({2, 4}, std::nan(""), DType::Float64);
  test::expect_error<ValueError>([&] { acc.add(bad); }, {"NaN"});
}

TEST(EvalMetrics, FidOfASetAgainstItselfIsZero) {
  for (const char* c : {"full", "singular"}) {
    GaussianStats s = eval::feature_stats(goldens().at(std::string("fid.") + c + ".f1"));
    const double scale = s.sigma.to_vector<double>()[0] * s.dim();
    for (auto m : {eval::FidMethod::Eigh, eval::FidMethod::Sqrtm}) {
      eval::FidResult r = eval::frechet_distance(s, s, {m});
      EXPECT_NEAR(r.fid, 0.0, 1e-7 * scale) << c;
      EXPECT_EQ(r.mean_term, 0.0);
    }
  }
}

TEST(EvalMetrics, FidClosedFormCommutingCovariances) {
  // Sigma_k = Q diag(lambda_k) Q^T: FID = |mu1 - mu2|^2 + sum_i (sqrt(l1_i) - sqrt(l2_i))^2.
  const int64_t d = 5;
  Tensor q = test::randn({d, d});
  // Orthonormalise the columns of q (Gram-Schmidt) on the host.
  std::vector<double> Q = q.to_vector<double>();
  for (int64_t j = 0; j < d; ++j) {
    for (int64_t k = 0; k < j; ++k) {
      double dot = 0;
      for (int64_t i = 0; i < d; ++i) dot += Q[i * d + j] * Q[i * d + k];
      for (int64_t i = 0; i < d; ++i) Q[i * d + j] -= dot * Q[i * d + k];
    }
    double norm = 0;
    for (int64_t i = 0; i < d; ++i) norm += Q[i * d + j] * Q[i * d + j];
    for (int64_t i = 0; i < d; ++i) Q[i * d + j] /= std::sqrt(norm);
  }
  const std::vector<double> l1{4.0, 1.0, 0.25, 2.0, 0.0}, l2{1.0, 1.0, 1.0, 9.0, 0.5};
  auto cov = [&](const std::vector<double>& l) {
    std::vector<double> s(d * d, 0.0);
    for (int64_t i = 0; i < d; ++i)
      for (int64_t j = 0; j < d; ++j)
        for (int64_t k = 0; k < d; ++k) s[i * d + j] += Q[i * d + k] * l[k] * Q[j * d + k];
    return Tensor::from_vector(s, {d, d});
  };
  GaussianStats a{Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5}, {d}), cov(l1), 0};
  GaussianStats b{Tensor::from_vector(std::vector<double>{1, 0, 3, 4, 6}, {d}), cov(l2), 0};
  double expect = 4 + 1;
  for (int64_t i = 0; i < d; ++i) expect += std::pow(std::sqrt(l1[i]) - std::sqrt(l2[i]), 2);
  eval::FidResult r = eval::frechet_distance(a, b);
  EXPECT_NEAR(r.fid, expect, 1e-7);  // a zero eigenvalue: sqrt's slope is infinite there
  EXPECT_DOUBLE_EQ(r.mean_term, 5.0);
  EXPECT_NEAR(eval::frechet_distance(a, b, {eval::FidMethod::Sqrtm}).fid, expect, 1e-6);
  EXPECT_NEAR(eval::frechet_distance(b, a).fid, expect, 1e-7);  // symmetric
}

TEST(EvalMetrics, FidOfSamplesFromTwoKnownGaussians) {
  // Same rotation for both covariances, so the closed form above applies to the true parameters;
  // the estimate from 200k samples each is within a few standard errors of it.
  const double c = std::cos(0.6), s = std::sin(0.6);
  const std::vector<double> mu1{0, 0, 1}, mu2{0.5, 0, 0.8};
  const std::vector<double> sd1{1.0, 0.5, 2.0}, sd2{1.5, 0.5, 1.0};
  auto factor = [&](const std::vector<double>& sd) {  // A = R diag(sd), Sigma = R diag(sd^2) R^T
    return std::vector<double>{c * sd[0], -s * sd[1], 0, s * sd[0], c * sd[1], 0, 0, 0, sd[2]};
  };
  Tensor x = gaussian_samples(200000, mu1, factor(sd1), 1);
  Tensor y = gaussian_samples(200000, mu2, factor(sd2), 2);
  double expect = 0.25 + 0.04;
  for (int i = 0; i < 3; ++i) expect += (sd1[i] - sd2[i]) * (sd1[i] - sd2[i]);
  const double fid = eval::frechet_distance(eval::feature_stats(x), eval::feature_stats(y)).fid;
  EXPECT_NEAR(fid, expect, 0.02) << "closed form " << expect;  // 1.54; sampling sd ~0.005
}

TEST(EvalMetrics, FidMatchesPytorchFidFormula) {
  // "full" (N > d): both routes agree with scipy and with the 40-digit value to 1e-10. "singular"
  // (N < d, 9 zero eigenvalues): the square root's infinite slope at 0 turns eigenvalue
  // rounding (~1e-16 |S|) into ~1e-8 each, so no float64 method does better than ~1e-7 relative
  // there; scipy's own result is 4e-8 off the 40-digit value.
  struct C { const char* name; double tol; };
  for (const C c : {C{"full", 1e-10}, C{"singular", 1e-7}}) {
    SCOPED_TRACE(c.name);
    const std::string pre = std::string("fid.") + c.name + ".";
    GaussianStats a{goldens().at(pre + "mu1"), goldens().at(pre + "sigma1"), 0};
    GaussianStats b{goldens().at(pre + "mu2"), goldens().at(pre + "sigma2"), 0};
    const double scipy = goldens().at(pre + "fid").item();
    const double exact = goldens().at(pre + "fid_exact").item();
    eval::FidResult e = eval::frechet_distance(a, b);
    eval::FidResult q = eval::frechet_distance(a, b, {eval::FidMethod::Sqrtm});
    for (double want : {scipy, exact}) {
      EXPECT_NEAR(e.fid, want, c.tol * want);
      EXPECT_NEAR(q.fid, want, c.tol * want);
    }
    EXPECT_FALSE(q.offset_applied);
    EXPECT_NEAR(e.trace_term + e.mean_term, e.fid, 1e-12 * exact);
    // From the features themselves, through the accumulator.
    const double from_features = eval::frechet_distance(eval::feature_stats(goldens().at(pre + "f1")),
                                                        eval::feature_stats(goldens().at(pre + "f2")))
                                     .fid;
    EXPECT_NEAR(from_features, exact, c.tol * exact);
  }
}

TEST(EvalMetrics, SingularStatisticsNeedNoOffset) {
  // N = 12 < d = 20: rank-deficient covariances. The eigh route clamps rounding-negative
  // eigenvalues and reports them; the result stays finite and matches scipy (test above).
  const std::string pre = "fid.singular.";
  GaussianStats a{goldens().at(pre + "mu1"), goldens().at(pre + "sigma1"), 0};
  eval::FidResult r = eval::frechet_distance(a, a);
  EXPECT_GT(r.clamped_eigenvalues, 0);
  EXPECT_LT(r.most_negative_eigenvalue, 0.0);
  EXPECT_GT(r.most_negative_eigenvalue, -1e-12);
}

TEST(EvalMetrics, SqrtmMatchesScipy) {
  for (const char* c : {"spd_product", "complex", "identity_like"}) {
    SCOPED_TRACE(c);
    const std::string pre = std::string("sqrtm.") + c + ".";
    eval::SqrtmResult r = eval::sqrtm(goldens().at(pre + "a"));
    ASSERT_TRUE(r.finite);
    EXPECT_TENSOR_NEAR(r.real, goldens().at(pre + "real"), 1e-9, 1e-11);
    EXPECT_TENSOR_NEAR(r.imag, goldens().at(pre + "imag"), 1e-9, 1e-11);
    // And it is a square root: (re + i im)^2 = A.
    Tensor re = r.real, im = r.imag;
    Tensor sq_re = matmul(re, re) - matmul(im, im), sq_im = matmul(re, im) + matmul(im, re);
    EXPECT_TENSOR_NEAR(sq_re, goldens().at(pre + "a"), 1e-10, 1e-10);
    EXPECT_TENSOR_NEAR(sq_im, Tensor::zeros(sq_im.shape(), DType::Float64), 0, 1e-10);
  }
  EXPECT_GT(eval::sqrtm(goldens().at("sqrtm.complex.a")).max_imag, 1e-3);
}

TEST(EvalMetrics, SqrtmOfASingularNilpotentPartFails) {
  // [[0, 1], [0, 0]] has no square root: scipy returns NaN, and so do we.
  eval::SqrtmResult r = eval::sqrtm(Tensor::from_vector(std::vector<double>{0, 1, 0, 0}, {2, 2}));
  EXPECT_FALSE(r.finite);
  EXPECT_TRUE(std::isnan(r.real.to_vector<double>()[0]));
  // The zero matrix is its own root.
  eval::SqrtmResult z = eval::sqrtm(Tensor::zeros({3, 3}, DType::Float64));
  EXPECT_TRUE(z.finite);
  EXPECT_TENSOR_NEAR(z.real, Tensor::zeros({3, 3}, DType::Float64), 0, 0);
}

TEST(EvalMetrics, FidErrors) {
  GaussianStats a = eval::feature_stats(test::randn({10, 3}));
  GaussianStats b = eval::feature_stats(test::randn({10, 4}));
  test::expect_error<ShapeError>([&] { eval::frechet_distance(a, b); }, {"dimensions differ"});
  GaussianStats bad = a;
  bad.mu = Tensor::full({3}, std::nan(""), DType::Float64);
  test::expect_error<ValueError>([&] { eval::frechet_distance(a, bad); }, {"NaN"});
  test::expect_error<ValueError>([&] { eval::frechet_distance(a, GaussianStats{}); }, {"empty"});
}

TEST(EvalMetrics, StatsNpzRoundTripAndPytorchFidLayout) {
  const std::string path = ::testing::TempDir() + "eval_stats.npz";
  GaussianStats s = eval::feature_stats(test::randn({40, 7}));
  eval::save_stats_npz(path, s);
  auto members = io::read_npz(path);
  ASSERT_EQ(members.size(), 2u);
  EXPECT_EQ(members[0].first, "mu");
  EXPECT_EQ(members[0].second.type, NpyType::Float64);
  EXPECT_EQ(members[0].second.shape, (std::vector<int64_t>{7}));
  EXPECT_EQ(members[1].first, "sigma");
  EXPECT_EQ(members[1].second.shape, (std::vector<int64_t>{7, 7}));
  GaussianStats back = eval::load_stats_npz(path);
  EXPECT_TENSOR_NEAR(back.mu, s.mu, 0, 0);
  EXPECT_TENSOR_NEAR(back.sigma, s.sigma, 0, 0);
  EXPECT_EQ(back.count, 0);
  // float32 members (pytorch-fid's own mu is float32) load as float64.
  NpyArray mu32;
  mu32.type = NpyType::Float32;
  mu32.shape = {2};
  std::vector<float> v{1.5f, -2.0f};
  mu32.data.assign(reinterpret_cast<uint8_t*>(v.data()), reinterpret_cast<uint8_t*>(v.data()) + 8);
  NpyArray sg = members[1].second;
  sg.shape = {2, 2};
  sg.data.resize(32);
  io::write_npz(path, {{"sigma", sg}, {"mu", mu32}, {"extra", mu32}});
  GaussianStats f = eval::load_stats_npz(path);
  EXPECT_EQ(f.mu.dtype(), DType::Float64);
  EXPECT_EQ(f.mu.to_vector<double>(), (std::vector<double>{1.5, -2.0}));
  io::write_npz(path, {{"mu", mu32}});
  test::expect_error<IOError>([&] { eval::load_stats_npz(path); }, {"sigma"});
  io::write_npz(path, {{"mu", mu32}, {"sigma", members[1].second}});
  test::expect_error<ShapeError>([&] { eval::load_stats_npz(path); }, {"sigma [d, d]"});
}

TEST(EvalMetrics, InceptionScoreOfUniformPredictionsIsOne) {
  eval::InceptionScoreResult r = eval::inception_score(Tensor::full({50, 8}, 1.0 / 8, DType::Float64));
  EXPECT_NEAR(r.mean, 1.0, 1e-14);
  EXPECT_NEAR(r.std, 0.0, 1e-14);
  EXPECT_EQ(r.splits, 10);
  // Equal logits are uniform predictions too.
  EXPECT_NEAR(eval::inception_score_from_logits(Tensor::zeros({20, 1008})).mean, 1.0, 1e-12);
}

TEST(EvalMetrics, InceptionScoreOfConfidentBalancedPredictionsIsK) {
  // One-hot rows cycling through K classes, each split holding every class equally: IS = K.
  const int64_t K = 4, N = 80;
  std::vector<double> p(N * K, 0.0);
  for (int64_t i = 0; i < N; ++i) p[i * K + i % K] = 1.0;
  eval::InceptionScoreResult r = eval::inception_score(Tensor::from_vector(p, {N, K}), 10);
  EXPECT_NEAR(r.mean, 4.0, 1e-12);
  EXPECT_NEAR(r.std, 0.0, 1e-12);
}

TEST(EvalMetrics, InceptionScoreMatchesTorchFidelityFormula) {
  eval::InceptionScoreResult r = eval::inception_score_from_logits(goldens().at("is.logits"), 10);
  std::vector<double> want = goldens().at("is.mean_std").to_vector<double>();
  EXPECT_NEAR(r.mean, want[0], 1e-12);
  EXPECT_NEAR(r.std, want[1], 1e-12);
  eval::InceptionScoreResult r32 =
      eval::inception_score_from_logits(goldens().at("is.logits").to(DType::Float32), 10);
  EXPECT_NEAR(r32.mean, want[0], 1e-6);
}

TEST(EvalMetrics, InceptionScoreErrors) {
  test::expect_error<ValueError>([] { eval::inception_score(Tensor::full({5, 3}, 1.0 / 3), 10); },
                                 {"N >= splits"});
  test::expect_error<ValueError>([] { eval::inception_score(test::randn({20, 3}), 2); },
                                 {"negative probability"});
  test::expect_error<ShapeError>([] { eval::inception_score(test::randn({20}), 2); }, {"2-D"});
}

TEST(EvalMetrics, KidOneSubsetMatchesTorchFidelity) {
  const double mmd2 = eval::mmd2_unbiased_polynomial(goldens().at("kid.x"), goldens().at("kid.y"));
  EXPECT_NEAR(mmd2, goldens().at("kid.mmd2").item(), 1e-12);
}

TEST(EvalMetrics, KidSanity) {
  Tensor a = test::uniform({400, 16}, 0, 1), b = test::uniform({300, 16}, 0, 1);
  eval::KidOptions o;
  o.subsets = 20;
  o.subset_size = 1000;  // more than the rows: m = min(1000, 400, 300)
  eval::KidResult same = eval::kernel_inception_distance(a, b, o);
  EXPECT_EQ(same.subset_size, 300);
  EXPECT_EQ(same.subsets, 20);
  // Unbiased: ~0 for one distribution (here |KID| ~ 1e-3, from the 300 rows of b, which every
  // subset holds), ~0.85 once b is shifted by 0.3 in every coordinate.
  EXPECT_LT(std::fabs(same.mean), 0.01);
  eval::KidResult shifted = eval::kernel_inception_distance(a, b + 0.3, o);
  EXPECT_GT(shifted.mean, 0.5);
  EXPECT_LT(shifted.mean, 1.2);
  // Deterministic for a seed; another seed draws other subsets.
  EXPECT_EQ(eval::kernel_inception_distance(a, b, o).mean, same.mean);
  o.seed = 1;
  EXPECT_NE(eval::kernel_inception_distance(a, b, o).mean, same.mean);
  // One subset holding every row of both sets is the plain unbiased MMD^2.
  o.subsets = 1;
  eval::KidResult all = eval::kernel_inception_distance(a.slice(0, 50), b.slice(0, 50), o);
  EXPECT_EQ(all.std, 0.0);
  EXPECT_NEAR(all.mean, eval::mmd2_unbiased_polynomial(a.slice(0, 50), b.slice(0, 50)), 1e-12);
}

TEST(EvalMetrics, AurocHandCases) {
  EXPECT_EQ(eval::auroc(std::vector<double>{3, 4, 5}, std::vector<double>{0, 1, 2}), 1.0);
  EXPECT_EQ(eval::auroc(std::vector<double>{0, 1}, std::vector<double>{2, 3, 4}), 0.0);
  EXPECT_EQ(eval::auroc(std::vector<double>{1, 1}, std::vector<double>{1, 1, 1}), 0.5);
  // pos {1, 2, 2} vs neg {2, 0}: pairs 0 + 1 + .5 + 1 + .5 + 1 = 4 of 6.
  EXPECT_NEAR(eval::auroc(std::vector<double>{1, 2, 2}, std::vector<double>{2, 0}), 4.0 / 6, 1e-15);
  // sklearn's argument order.
  EXPECT_NEAR(eval::auroc(std::vector<double>{1, 2, 2, 2, 0}, std::vector<int>{1, 1, 1, 0, 0}),
              4.0 / 6, 1e-15);
  EXPECT_NEAR(eval::auroc(Tensor::from_vector(std::vector<float>{1, 2, 2}, {3}),
                          Tensor::from_vector(std::vector<float>{2, 0}, {2})),
              4.0 / 6, 1e-15);
}

TEST(EvalMetrics, AurocMatchesGoldens) {
  for (const char* c : {"ties", "few"}) {
    const std::string pre = std::string("auroc.") + c + ".";
    EXPECT_NEAR(eval::auroc(goldens().at(pre + "pos"), goldens().at(pre + "neg")),
                goldens().at(pre + "value").item(), 1e-14)
        << c;
  }
}

TEST(EvalMetrics, AurocErrors) {
  test::expect_error<ValueError>([] { eval::auroc(std::vector<double>{}, std::vector<double>{1}); },
                                 {"at least one positive"});
  test::expect_error<ValueError>(
      [] { eval::auroc(std::vector<double>{std::nan("")}, std::vector<double>{1}); }, {"NaN"});
  test::expect_error<ValueError>(
      [] { eval::auroc(std::vector<double>{1, 2}, std::vector<int>{1, 2}); }, {"neither 0 nor 1"});
  test::expect_error<ShapeError>(
      [] { eval::auroc(std::vector<double>{1, 2}, std::vector<int>{1}); }, {"labels"});
}

}  // namespace
}  // namespace ebm
