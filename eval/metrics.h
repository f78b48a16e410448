// Sample-quality and OOD metrics on features (issue 7), all computed on the host in float64:
//  * feature statistics: mean and covariance (np.cov's unbiased N-1), accumulated batch by batch
//    (Chan et al.'s pairwise update), so 50k x 2048 features never need to be held at once;
//    saved / loaded as .npz in pytorch-fid's layout (mu [d], sigma [d, d], float64);
//  * FID (Heusel et al. 2017): |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrt(S1 S2)), see frechet_distance;
//  * the general matrix square root scipy.linalg.sqrtm computes (complex Schur, Björck &
//    Hammarling's recurrence), for the pytorch-fid-identical FID route and for tests;
//  * Inception Score (Salimans et al. 2016) with 10 splits, as the TF / torch-fidelity code;
//  * KID (Binkowski et al. 2018): unbiased MMD^2 with the cubic polynomial kernel over random
//    subsets, as torch-fidelity / clean-fid;
//  * AUROC by the rank statistic with ties counted one half (= sklearn.metrics.roc_auc_score).
// Inputs may be float32 or float64 tensors on any device (they are copied to the host).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace ebm::eval {

// ---- feature statistics

// Mean and covariance of a feature set, as pytorch-fid stores them.
struct GaussianStats {
  Tensor mu;          // float64 [d]
  Tensor sigma;       // float64 [d, d], unbiased (divides by count - 1), as np.cov(rowvar=False)
  int64_t count = 0;  // samples behind them; 0 when loaded from a file (the .npz does not say)
  int64_t dim() const { return mu.defined() ? mu.size(0) : 0; }
};

// Streaming mean and covariance: add() batches of [n, d] features in any order of sizes; the
// result equals feature_stats() of all rows at once up to float64 rounding. Each batch is
// centred on its own mean and merged with Chan, Golub & LeVeque's update
//   M2 += M2_b + delta delta^T n_a n_b / (n_a + n_b),   delta = mean_b - mean_a,
// which avoids the cancellation of sum(x x^T) - n mu mu^T when |mu| >> std. Memory: d^2 doubles
// (32 MiB at d = 2048); time: one [d, n]·[n, d] float64 product per batch.
class FeatureStatsAccumulator {
 public:
  explicit FeatureStatsAccumulator(int64_t dim);
  void add(const Tensor& features);  // [n, dim] float32/float64, any device; n may be 0
  int64_t count() const { return count_; }
  int64_t dim() const { return dim_; }
  // Needs count() >= 2 (ValueError otherwise).
  GaussianStats stats() const;

 private:
  int64_t dim_ = 0, count_ = 0;
  std::vector<double> mean_;  // [d]
  std::vector<double> m2_;    // [d, d]: sum of centred outer products (upper and lower filled)
};

// Statistics of a whole [N, d] feature tensor (N >= 2).
GaussianStats feature_stats(const Tensor& features);

// Writes {"mu": float64 [d], "sigma": float64 [d, d]} (np.savez layout, readable by pytorch-fid's
// --save-stats consumers, clean-fid and TTUR). Atomic (core/io/npz.h).
void save_stats_npz(const std::string& path, const GaussianStats& stats);
// Reads an .npz with "mu" and "sigma" (float32 or float64; converted to float64; other members
// ignored). IOError naming the file for a missing key, ShapeError for inconsistent shapes.
GaussianStats load_stats_npz(const std::string& path);

// ---- Fréchet distance

// How tr sqrt(S1 S2) is computed.
enum class FidMethod {
  // Default. S1 and S2 are symmetric PSD, so S1 S2 is similar to the symmetric PSD matrix
  // A = sqrt(S1) S2 sqrt(S1) and tr sqrt(S1 S2) = sum_i sqrt(lambda_i(A)): two symmetric
  // eigendecompositions (Eigen's SelfAdjointEigenSolver) in float64. Eigenvalues of S1 and of A
  // that rounding makes slightly negative are set to 0; that is exactly what pytorch-fid's
  // "take the real part" does for them (the square root of a negative eigenvalue is imaginary
  // and drops out of the real trace). Stable for singular S (N < d) without any offset.
  // About 11 s at d = 2048 on a loaded 2-core machine.
  Eigh,
  // pytorch-fid's algorithm step by step: covmean = sqrtm(S1 S2) (the general square root
  // below); if it is not finite, retry with S1 + eps I and S2 + eps I; if the diagonal of
  // covmean has an imaginary part above 1e-3 throw ValueError ("Imaginary component"), else
  // take its real part. Eigen's complex Schur is slow: about 5 minutes at d = 2048 on a loaded
  // 2-core machine (the result agreed with Eigh to 8 digits there): for cross-checks, not
  // routine use.
  Sqrtm,
};

struct FidOptions {
  FidMethod method = FidMethod::Eigh;
  double eps = 1e-6;  // pytorch-fid's offset (FidMethod::Sqrtm only)
};

struct FidResult {
  double fid = 0;
  double mean_term = 0;    // |mu1 - mu2|^2
  double trace_term = 0;   // tr S1 + tr S2 - 2 tr_sqrt
  double tr_sqrt = 0;      // tr sqrt(S1 S2), real part
  // Eigh: how many eigenvalues (of S1 and of A) were below 0 and set to 0, and the most
  // negative one relative to the largest (0 when none).
  int64_t clamped_eigenvalues = 0;
  double most_negative_eigenvalue = 0;
  // Sqrtm: whether the eps offset was needed, and max |imag| over covmean's entries.
  bool offset_applied = false;
  double max_imag = 0;
};

// FID between two Gaussians. ShapeError when the dimensions differ, ValueError for non-finite
// statistics.
FidResult frechet_distance(const GaussianStats& a, const GaussianStats& b,
                           const FidOptions& options = {});

// The principal square root of a real square matrix A (float64 [n, n]) as scipy.linalg.sqrtm:
// complex Schur form T = Q^H A Q, the upper-triangular root R of T by Björck & Hammarling's
// recurrence (R_ii = sqrt(T_ii), principal branch), sqrt(A) = Q R Q^H. A with real
// non-negative eigenvalues (such as S1 S2) has a real root; rounding leaves small imaginary
// parts, returned separately. Zero eigenvalues (a singular A) may make the recurrence divide by
// zero: then the result holds Inf/NaN and `finite` is false (the case pytorch-fid retries with
// an offset).
struct SqrtmResult {
  Tensor real;            // float64 [n, n]
  Tensor imag;            // float64 [n, n]
  double max_imag = 0;    // max |imag|
  bool finite = true;     // every entry of real and imag is finite
};
SqrtmResult sqrtm(const Tensor& a);

// ---- Inception Score

struct InceptionScoreResult {
  double mean = 0;  // mean over splits of exp(E_x KL(p(y|x) || p(y)))
  double std = 0;   // population std over splits (np.std, ddof = 0)
  int splits = 0;
};
// probs: [N, K] rows of class probabilities (each row sums to 1 up to rounding; not renormalised,
// as the reference code). Split k holds rows [k·N/splits, (k+1)·N/splits) (integer division, as
// the TF code and torch-fidelity), p(y) is the mean row of the split, 0·log 0 counts as 0.
// Needs N >= splits >= 1.
InceptionScoreResult inception_score(const Tensor& probs, int splits = 10);
// The same from logits [N, K]: probabilities by a float64 softmax over all K classes (the FID
// Inception's 1008, as torch-fidelity's "logits_unbiased").
InceptionScoreResult inception_score_from_logits(const Tensor& logits, int splits = 10);
// Row-wise softmax in float64 (max-subtracted): [N, K] -> float64 [N, K] on the CPU.
Tensor softmax_rows(const Tensor& logits);

// ---- Kernel Inception Distance

// torch-fidelity's defaults: 100 subsets of m = min(subset_size, N1, N2) rows drawn without
// replacement from each set, kernel k(x, y) = (x·y / d + 1)^3 (gamma = 1/d, coef0 = 1, degree 3).
// Per subset the unbiased estimate
//   MMD^2 = [sum_{i != j} k(x_i, x_j) + k(y_i, y_j)] / (m (m-1)) - 2 sum_{i,j} k(x_i, y_j) / m^2.
// Subsets come from a Philox generator seeded with `seed` (a partial Fisher-Yates shuffle): the
// estimate has the same distribution as torch-fidelity's / clean-fid's (numpy RandomState), not
// the same bits.
struct KidOptions {
  int64_t subsets = 100;
  int64_t subset_size = 1000;
  int degree = 3;
  double gamma = 0;   // 0: 1 / d
  double coef0 = 1;
  uint64_t seed = 0;
};
struct KidResult {
  double mean = 0;
  double std = 0;            // over subsets, ddof = 0 (torch-fidelity's kernel_inception_distance_std)
  int64_t subsets = 0;
  int64_t subset_size = 0;   // m actually used
};
KidResult kernel_inception_distance(const Tensor& features1, const Tensor& features2,
                                    const KidOptions& options = {});
// The unbiased MMD^2 of two [m, d] sets (m >= 2) with the polynomial kernel above (one subset).
double mmd2_unbiased_polynomial(const Tensor& x, const Tensor& y, int degree = 3, double gamma = 0,
                                double coef0 = 1);

// ---- AUROC

// Area under the ROC curve of scores where `positive` should score higher than `negative`:
// P(s+ > s-) + P(s+ = s-) / 2, by the Mann-Whitney rank statistic with average ranks for ties,
// which equals sklearn.metrics.roc_auc_score(labels, scores) (its trapezoids count ties one
// half). Both sets non-empty, no NaN (ValueError otherwise). O((n+ + n-) log(n+ + n-)).
double auroc(const std::vector<double>& positive, const std::vector<double>& negative);
// The same with sklearn's argument order: labels 1 (positive) or 0 (negative), one per score.
double auroc(const std::vector<double>& scores, const std::vector<int>& labels);
// The same for 1-D tensors (any float dtype and device).
double auroc(const Tensor& positive, const Tensor& negative);

}  // namespace ebm::eval
