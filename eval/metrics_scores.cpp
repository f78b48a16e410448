// Inception Score, KID and AUROC (eval/metrics.h): float64 on the host. KID's kernel matrices are
// Eigen GEMMs; its subsets come from Philox (core/philox.h).
// GCC 12 reports false "may be used uninitialized" warnings inside its AVX-512 intrinsics when
// Eigen's eigensolvers and reductions are instantiated with -march=native; they are not ours.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/cpu/eigen_maps.h"
#include "core/philox.h"
#include "eval/metrics.h"

namespace ebm::eval {

namespace {

Tensor host_f64(const Tensor& t) { return t.to(Device::cpu()).to(DType::Float64); }

Tensor check_matrix(const Tensor& t, const char* op, const char* arg) {
  check_defined(t, op, arg);
  check_float(t, op, arg);
  EBM_CHECK(t.dim() == 2, ShapeError, op, ": ", arg, " must be 2-D [N, K], got ", t.description());
  Tensor h = host_f64(t);
  const double* p = h.data<double>();
  for (int64_t i = 0; i < h.numel(); ++i)
    EBM_CHECK(std::isfinite(p[i]), ValueError, op, ": ", arg, " contains NaN or Inf (row ",
              i / std::max<int64_t>(h.size(1), 1), ")");
  return h;
}

double mean_of(const std::vector<double>& v) {
  return std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
}

double std_of(const std::vector<double>& v) {  // ddof = 0
  const double m = mean_of(v);
  double s = 0;
  for (double x : v) s += (x - m) * (x - m);
  return std::sqrt(s / static_cast<double>(v.size()));
}

}  // namespace

// ---- Inception Score

Tensor softmax_rows(const Tensor& logits) {
  Tensor x = check_matrix(logits, "softmax_rows", "logits");
  const int64_t n = x.size(0), k = x.size(1);
  Tensor p = Tensor::empty({n, k}, DType::Float64);
  const double* xp = x.data<double>();
  double* pp = p.data<double>();
  for (int64_t i = 0; i < n; ++i) {
    const double* r = xp + i * k;
    const double m = *std::max_element(r, r + k);
    double s = 0;
    for (int64_t c = 0; c < k; ++c) s += (pp[i * k + c] = std::exp(r[c] - m));
    for (int64_t c = 0; c < k; ++c) pp[i * k + c] /= s;
  }
  return p;
}

InceptionScoreResult inception_score(const Tensor& probs, int splits) {
  const char* op = "inception_score";
  Tensor p = check_matrix(probs, op, "probs");
  const int64_t n = p.size(0), k = p.size(1);
  EBM_CHECK(splits >= 1 && n >= splits && k >= 1, ValueError, op,
            ": need N >= splits >= 1 and K >= 1, got N = ", n, ", K = ", k, ", splits = ", splits);
  const double* pp = p.data<double>();
  for (int64_t i = 0; i < n * k; ++i)
    EBM_CHECK(pp[i] >= 0, ValueError, op, ": negative probability ", pp[i], " in row ", i / k,
              " (pass logits to inception_score_from_logits)");
  std::vector<double> scores;
  std::vector<double> py(k);
  for (int s = 0; s < splits; ++s) {
    const int64_t r0 = s * n / splits, r1 = (s + 1) * n / splits;
    std::fill(py.begin(), py.end(), 0.0);
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t c = 0; c < k; ++c) py[c] += pp[i * k + c];
    for (double& v : py) v /= static_cast<double>(r1 - r0);
    // mean over the split of KL(p(y|x) || p(y)) = sum_c p log p - p log p(y); 0 log 0 = 0.
    double kl = 0;
    for (int64_t i = r0; i < r1; ++i)
      for (int64_t c = 0; c < k; ++c) {
        const double q = pp[i * k + c];
        if (q > 0) kl += q * (std::log(q) - std::log(py[c]));
      }
    scores.push_back(std::exp(kl / static_cast<double>(r1 - r0)));
  }
  return {mean_of(scores), std_of(scores), splits};
}

InceptionScoreResult inception_score_from_logits(const Tensor& logits, int splits) {
  return inception_score(softmax_rows(logits), splits);
}

// ---- KID

double mmd2_unbiased_polynomial(const Tensor& x, const Tensor& y, int degree, double gamma,
                                double coef0) {
  const char* op = "mmd2_unbiased_polynomial";
  Tensor xh = check_matrix(x, op, "x"), yh = check_matrix(y, op, "y");
  const int64_t m = xh.size(0), d = xh.size(1);
  EBM_CHECK(yh.size(0) == m && yh.size(1) == d && m >= 2, ShapeError, op,
            ": x and y must both be [m, d] with m >= 2, got ", xh.shape(), " and ", yh.shape());
  EBM_CHECK(degree >= 1, ValueError, op, ": degree must be >= 1, got ", degree);
  const double g = gamma > 0 ? gamma : 1.0 / static_cast<double>(d);
  cpu::CMap<double> X(xh.data<double>(), m, d), Y(yh.data<double>(), m, d);
  auto kernel_sum = [&](const Eigen::MatrixXd& dots, bool skip_diagonal) {
    double s = 0;
    for (int64_t j = 0; j < m; ++j)
      for (int64_t i = 0; i < m; ++i)
        if (!skip_diagonal || i != j) s += std::pow(dots(i, j) * g + coef0, degree);
    return s;
  };
  const Eigen::MatrixXd xx = X * X.transpose(), yy = Y * Y.transpose(), xy = X * Y.transpose();
  const double md = static_cast<double>(m);
  const double within = (kernel_sum(xx, true) + kernel_sum(yy, true)) / (md * (md - 1));
  return within - 2.0 * kernel_sum(xy, false) / (md * md);
}

KidResult kernel_inception_distance(const Tensor& features1, const Tensor& features2,
                                    const KidOptions& o) {
  const char* op = "kernel_inception_distance";
  Tensor f1 = check_matrix(features1, op, "features1"), f2 = check_matrix(features2, op, "features2");
  EBM_CHECK(f1.size(1) == f2.size(1), ShapeError, op, ": feature dimensions differ: ", f1.shape(),
            " vs ", f2.shape());
  EBM_CHECK(o.subsets >= 1 && o.subset_size >= 2, ValueError, op,
            ": need subsets >= 1 and subset_size >= 2, got ", o.subsets, ", ", o.subset_size);
  const int64_t n1 = f1.size(0), n2 = f2.size(0), d = f1.size(1);
  const int64_t m = std::min({o.subset_size, n1, n2});
  EBM_CHECK(m >= 2, ValueError, op, ": need at least 2 rows in each set, got ", n1, " and ", n2);
  uint64_t counter = 0;
  // A uniform integer in [0, bound) from 64 Philox bits (multiply-high; bias < bound / 2^64).
  auto draw = [&](uint64_t bound) {
    const uint64_t r = (uint64_t(philox::word(o.seed, counter)) << 32) | philox::word(o.seed, counter + 1);
    counter += 2;
    return static_cast<uint64_t>((static_cast<unsigned __int128>(r) * bound) >> 64);
  };
  // The first m entries of a partial Fisher-Yates shuffle of [0, n): m distinct rows.
  auto subset = [&](const Tensor& f, int64_t n) {
    std::vector<int64_t> idx(n);
    std::iota(idx.begin(), idx.end(), 0);
    Tensor s = Tensor::empty({m, d}, DType::Float64);
    for (int64_t i = 0; i < m; ++i) {
      std::swap(idx[i], idx[i + draw(n - i)]);
      std::copy_n(f.data<double>() + idx[i] * d, d, s.data<double>() + i * d);
    }
    return s;
  };
  std::vector<double> mmds;
  for (int64_t t = 0; t < o.subsets; ++t) {
    Tensor x = subset(f1, n1);
    Tensor y = subset(f2, n2);
    mmds.push_back(mmd2_unbiased_polynomial(x, y, o.degree, o.gamma, o.coef0));
  }
  return {mean_of(mmds), std_of(mmds), o.subsets, m};
}

// ---- AUROC

double auroc(const std::vector<double>& positive, const std::vector<double>& negative) {
  const char* op = "auroc";
  EBM_CHECK(!positive.empty() && !negative.empty(), ValueError, op,
            ": need at least one positive and one negative score, got ", positive.size(), " and ",
            negative.size());
  struct Item {
    double score;
    bool pos;
  };
  std::vector<Item> all;
  all.reserve(positive.size() + negative.size());
  for (double s : positive) all.push_back({s, true});
  for (double s : negative) all.push_back({s, false});
  for (const Item& it : all)
    EBM_CHECK(!std::isnan(it.score), ValueError, op, ": scores contain NaN");
  std::sort(all.begin(), all.end(), [](const Item& a, const Item& b) { return a.score < b.score; });
  // Mann-Whitney: the rank sum of the positives with tied groups sharing their average rank.
  double rank_sum = 0;
  for (size_t i = 0; i < all.size();) {
    size_t j = i;
    while (j < all.size() && all[j].score == all[i].score) ++j;
    const double avg_rank = 0.5 * static_cast<double>(i + 1 + j);  // ranks i+1 .. j
    for (size_t t = i; t < j; ++t)
      if (all[t].pos) rank_sum += avg_rank;
    i = j;
  }
  const double np = static_cast<double>(positive.size()), nn = static_cast<double>(negative.size());
  return (rank_sum - np * (np + 1) / 2) / (np * nn);
}

double auroc(const std::vector<double>& scores, const std::vector<int>& labels) {
  EBM_CHECK(scores.size() == labels.size(), ShapeError, "auroc: ", scores.size(), " scores but ",
            labels.size(), " labels");
  std::vector<double> pos, neg;
  for (size_t i = 0; i < scores.size(); ++i) {
    EBM_CHECK(labels[i] == 0 || labels[i] == 1, ValueError, "auroc: label ", labels[i],
              " at position ", i, " is neither 0 nor 1");
    (labels[i] ? pos : neg).push_back(scores[i]);
  }
  return auroc(pos, neg);
}

double auroc(const Tensor& positive, const Tensor& negative) {
  check_defined(positive, "auroc", "positive");
  check_defined(negative, "auroc", "negative");
  EBM_CHECK(positive.dim() == 1 && negative.dim() == 1, ShapeError,
            "auroc: scores must be 1-D, got ", positive.description(), " and ",
            negative.description());
  return auroc(positive.to_vector<double>(), negative.to_vector<double>());
}

}  // namespace ebm::eval
