// Feature statistics, the Fréchet distance and the matrix square root (eval/metrics.h), in float64
// on the host with Eigen. The Inception Score, KID and AUROC are in metrics_scores.cpp.
#include "eval/metrics.h"

// GCC 12 reports false "may be used uninitialized" warnings inside its AVX-512 intrinsics when
// Eigen's eigensolvers and reductions are instantiated with -march=native; they are not ours.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#include <algorithm>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>

#include "core/cpu/eigen_maps.h"
#include "core/io/npz.h"

namespace ebm::eval {

namespace {

using Mat = Eigen::MatrixXd;  // column-major: what the eigensolvers expect
using Vec = Eigen::VectorXd;
using cpu::CMap;
using cpu::MMap;

// A host float64 copy (or the tensor itself when it already is one).
Tensor host_f64(const Tensor& t) { return t.to(Device::cpu()).to(DType::Float64); }

bool all_finite(const double* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

void check_stats(const GaussianStats& s, const char* op, const char* which) {
  EBM_CHECK(s.mu.defined() && s.sigma.defined(), ValueError, op, ": statistics ", which,
            " are empty");
  const int64_t d = s.mu.numel();
  EBM_CHECK(s.mu.dim() == 1 && s.sigma.dim() == 2 && s.sigma.size(0) == d && s.sigma.size(1) == d,
            ShapeError, op, ": statistics ", which, " need mu [d] and sigma [d, d], got mu ",
            s.mu.shape(), " and sigma ", s.sigma.shape());
}

}  // namespace

// ---- feature statistics

FeatureStatsAccumulator::FeatureStatsAccumulator(int64_t dim) : dim_(dim) {
  EBM_CHECK(dim >= 1, ValueError, "FeatureStatsAccumulator: dim must be >= 1, got ", dim);
  mean_.assign(dim, 0.0);
  m2_.assign(dim * dim, 0.0);
}

void FeatureStatsAccumulator::add(const Tensor& features) {
  const char* op = "FeatureStatsAccumulator::add";
  check_defined(features, op, "features");
  check_float(features, op, "features");
  EBM_CHECK(features.dim() == 2 && features.size(1) == dim_, ShapeError, op,
            ": features must be [n, ", dim_, "], got ", features.description());
  const int64_t n = features.size(0);
  if (n == 0) return;
  Tensor x = host_f64(features);
  EBM_CHECK(all_finite(x.data<double>(), x.numel()), ValueError, op,
            ": features contain NaN or Inf");
  CMap<double> X(x.data<double>(), n, dim_);
  const Vec mb = X.colwise().mean().transpose();
  const Mat Xc = X.rowwise() - mb.transpose();
  Eigen::Map<Eigen::MatrixXd> M2(m2_.data(), dim_, dim_);  // symmetric: layout does not matter
  Eigen::Map<Vec> mean(mean_.data(), dim_);
  // Chan et al.: merge (count_, mean, M2) with the batch (n, mb, Xcᵀ Xc). Lower triangle only.
  const double na = static_cast<double>(count_), nb = static_cast<double>(n);
  const Vec delta = mb - mean;
  M2.selfadjointView<Eigen::Lower>().rankUpdate(Xc.transpose());
  if (count_ > 0) M2.selfadjointView<Eigen::Lower>().rankUpdate(delta, na * nb / (na + nb));
  mean += delta * (nb / (na + nb));
  count_ += n;
}

GaussianStats FeatureStatsAccumulator::stats() const {
  EBM_CHECK(count_ >= 2, ValueError, "FeatureStatsAccumulator::stats: need at least 2 samples, got ",
            count_);
  GaussianStats s;
  s.count = count_;
  s.mu = Tensor::from_vector(mean_, {dim_});
  s.sigma = Tensor::empty({dim_, dim_}, DType::Float64);
  Eigen::Map<const Eigen::MatrixXd> M2(m2_.data(), dim_, dim_);
  MMap<double> S(s.sigma.data<double>(), dim_, dim_);
  S = M2.selfadjointView<Eigen::Lower>();
  S /= static_cast<double>(count_ - 1);
  return s;
}

GaussianStats feature_stats(const Tensor& features) {
  check_defined(features, "feature_stats", "features");
  EBM_CHECK(features.dim() == 2, ShapeError, "feature_stats: features must be [N, d], got ",
            features.description());
  FeatureStatsAccumulator acc(features.size(1));
  acc.add(features);
  return acc.stats();
}

namespace {

NpyArray npy_f64(const Tensor& t) {
  Tensor h = host_f64(t);
  NpyArray a;
  a.type = NpyType::Float64;
  a.shape = h.shape().vec();
  a.data.resize(h.nbytes());
  std::memcpy(a.data.data(), h.data<double>(), h.nbytes());
  return a;
}

}  // namespace

void save_stats_npz(const std::string& path, const GaussianStats& stats) {
  check_stats(stats, "save_stats_npz", "to save");
  io::write_npz(path, {{"mu", npy_f64(stats.mu)}, {"sigma", npy_f64(stats.sigma)}});
}

GaussianStats load_stats_npz(const std::string& path) {
  const auto members = io::read_npz(path);
  GaussianStats s;
  for (const auto& [key, arr] : members) {
    if (key == "mu") s.mu = host_f64(npy_array_to_tensor(arr, path + ":mu"));
    if (key == "sigma") s.sigma = host_f64(npy_array_to_tensor(arr, path + ":sigma"));
  }
  EBM_CHECK(s.mu.defined() && s.sigma.defined(), IOError, "load_stats_npz: '", path,
            "' lacks ", s.mu.defined() ? "" : "'mu' ", s.sigma.defined() ? "" : "'sigma' ",
            "(pytorch-fid's statistics have both)");
  check_stats(s, "load_stats_npz", path.c_str());
  return s;
}

// ---- the matrix square root (scipy.linalg.sqrtm)

SqrtmResult sqrtm(const Tensor& a) {
  const char* op = "sqrtm";
  check_defined(a, op, "a");
  check_float(a, op, "a");
  EBM_CHECK(a.dim() == 2 && a.size(0) == a.size(1), ShapeError, op,
            ": needs a square matrix, got ", a.description());
  const int64_t n = a.size(0);
  Tensor ah = host_f64(a);
  EBM_CHECK(all_finite(ah.data<double>(), ah.numel()), ValueError, op,
            ": matrix contains NaN or Inf");
  using CMat = Eigen::MatrixXcd;
  using cd = std::complex<double>;
  SqrtmResult r;
  r.real = Tensor::empty({n, n}, DType::Float64);
  r.imag = Tensor::empty({n, n}, DType::Float64);
  if (n == 0) return r;
  Eigen::ComplexSchur<CMat> schur(CMap<double>(ah.data<double>(), n, n).cast<cd>());
  EBM_CHECK(schur.info() == Eigen::Success, ValueError, op,
            ": the Schur decomposition did not converge");
  const CMat& T = schur.matrixT();
  CMat R = CMat::Zero(n, n);
  // Björck & Hammarling: R_ii = sqrt(T_ii) (principal branch); column by column, bottom up,
  // R_ij = (T_ij - sum_{i<k<j} R_ik R_kj) / (R_ii + R_jj). A zero denominator with a non-zero
  // numerator has no solution: scipy then returns NaN everywhere, and so do we.
  bool failed = false;
  for (int64_t j = 0; j < n && !failed; ++j) {
    R(j, j) = std::sqrt(T(j, j));
    for (int64_t i = j - 1; i >= 0; --i) {
      cd s = 0;
      for (int64_t k = i + 1; k < j; ++k) s += R(i, k) * R(k, j);
      const cd num = T(i, j) - s, den = R(i, i) + R(j, j);
      if (den != cd(0)) {
        R(i, j) = num / den;
      } else if (num != cd(0)) {
        failed = true;
        break;
      }
    }
  }
  double* re = r.real.data<double>();
  double* im = r.imag.data<double>();
  if (failed) {
    std::fill(re, re + n * n, std::numeric_limits<double>::quiet_NaN());
    std::fill(im, im + n * n, std::numeric_limits<double>::quiet_NaN());
    r.finite = false;
    r.max_imag = std::numeric_limits<double>::quiet_NaN();
    return r;
  }
  const CMat& Q = schur.matrixU();
  const CMat X = Q * R.triangularView<Eigen::Upper>() * Q.adjoint();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) {
      re[i * n + j] = X(i, j).real();
      im[i * n + j] = X(i, j).imag();
      r.max_imag = std::max(r.max_imag, std::fabs(X(i, j).imag()));
    }
  r.finite = all_finite(re, n * n) && all_finite(im, n * n);
  return r;
}

// ---- Fréchet distance

namespace {

// Symmetric eigenvalues below zero are rounding (the matrices are PSD): count them, remember the
// most negative relative to the largest magnitude, and set them to 0.
void clamp_eigenvalues(Vec& ev, FidResult& r) {
  const double scale = std::max(ev.cwiseAbs().maxCoeff(), std::numeric_limits<double>::min());
  for (int64_t i = 0; i < ev.size(); ++i)
    if (ev[i] < 0) {
      ++r.clamped_eigenvalues;
      r.most_negative_eigenvalue = std::min(r.most_negative_eigenvalue, ev[i] / scale);
      ev[i] = 0;
    }
}

double trace_sqrt_eigh(const Mat& S1, const Mat& S2, FidResult& r) {
  Eigen::SelfAdjointEigenSolver<Mat> es1(S1);
  EBM_CHECK(es1.info() == Eigen::Success, ValueError,
            "frechet_distance: eigendecomposition of sigma1 did not converge");
  Vec l1 = es1.eigenvalues();
  clamp_eigenvalues(l1, r);
  const Mat& V = es1.eigenvectors();
  const Mat root1 = V * l1.cwiseSqrt().asDiagonal() * V.transpose();
  Mat A = root1 * S2 * root1;
  A = (0.5 * (A + A.transpose())).eval();
  Eigen::SelfAdjointEigenSolver<Mat> es2(A, Eigen::EigenvaluesOnly);
  EBM_CHECK(es2.info() == Eigen::Success, ValueError,
            "frechet_distance: eigendecomposition of sqrt(sigma1) sigma2 sqrt(sigma1) did not "
            "converge");
  Vec l2 = es2.eigenvalues();
  clamp_eigenvalues(l2, r);
  return l2.cwiseSqrt().sum();
}

double trace_sqrt_sqrtm(const Mat& S1, const Mat& S2, double eps, FidResult& r) {
  const int64_t d = S1.rows();
  auto root_of = [&](const Mat& P) {
    Tensor p = Tensor::empty({d, d}, DType::Float64);
    MMap<double>(p.data<double>(), d, d) = P;
    return sqrtm(p);
  };
  SqrtmResult s = root_of(S1 * S2);
  if (!s.finite) {  // pytorch-fid: "fid calculation produces singular product; adding eps"
    r.offset_applied = true;
    const Mat I = Mat::Identity(d, d) * eps;
    s = root_of((S1 + I) * (S2 + I));
  }
  EBM_CHECK(s.finite, ValueError, "frechet_distance: sqrtm(sigma1 sigma2) is not finite even with ",
            eps, " added to the diagonals");
  r.max_imag = s.max_imag;
  const double* im = s.imag.data<double>();
  double max_diag_imag = 0;
  for (int64_t i = 0; i < d; ++i) max_diag_imag = std::max(max_diag_imag, std::fabs(im[i * d + i]));
  EBM_CHECK(max_diag_imag <= 1e-3, ValueError, "frechet_distance: Imaginary component ",
            s.max_imag, " in sqrtm(sigma1 sigma2) (diagonal up to ", max_diag_imag,
            ", pytorch-fid's limit 1e-3)");
  const double* re = s.real.data<double>();
  double tr = 0;
  for (int64_t i = 0; i < d; ++i) tr += re[i * d + i];
  return tr;
}

}  // namespace

FidResult frechet_distance(const GaussianStats& a, const GaussianStats& b, const FidOptions& o) {
  const char* op = "frechet_distance";
  check_stats(a, op, "1");
  check_stats(b, op, "2");
  EBM_CHECK(a.dim() == b.dim(), ShapeError, op, ": dimensions differ: mu1 ", a.mu.shape(),
            ", mu2 ", b.mu.shape());
  const int64_t d = a.dim();
  Tensor mu1 = host_f64(a.mu), mu2 = host_f64(b.mu), s1 = host_f64(a.sigma), s2 = host_f64(b.sigma);
  EBM_CHECK(all_finite(mu1.data<double>(), d) && all_finite(mu2.data<double>(), d) &&
                all_finite(s1.data<double>(), d * d) && all_finite(s2.data<double>(), d * d),
            ValueError, op, ": statistics contain NaN or Inf");
  const Mat S1 = CMap<double>(s1.data<double>(), d, d), S2 = CMap<double>(s2.data<double>(), d, d);
  FidResult r;
  const Vec diff = cpu::CVec<double>(mu1.data<double>(), d) - cpu::CVec<double>(mu2.data<double>(), d);
  r.mean_term = diff.squaredNorm();
  r.tr_sqrt = o.method == FidMethod::Eigh ? trace_sqrt_eigh(S1, S2, r)
                                          : trace_sqrt_sqrtm(S1, S2, o.eps, r);
  r.trace_term = S1.trace() + S2.trace() - 2 * r.tr_sqrt;
  r.fid = r.mean_term + r.trace_term;
  return r;
}

}  // namespace ebm::eval
