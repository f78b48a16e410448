// Indexing ops, cross-entropy and dropout: forward against naive loops on fresh random inputs,
// gradients by central finite differences in float64 (first order, and second order through
// create_graph backwards), and error messages that name the op, the value and the range.
#include <cmath>

#include "test_util.h"

namespace ebm {
namespace {

using test::randn;

Tensor random_labels(int64_t n, int64_t classes) {
  std::vector<int64_t> v(n);
  for (auto& x : v) x = static_cast<int64_t>(test::rng()() % classes);
  return Tensor::from_vector(v, {n});
}

// Flat row-major offset of a multi-index.
int64_t flat(const Shape& s, const std::vector<int64_t>& idx) {
  int64_t f = 0;
  for (int i = 0; i < s.ndim(); ++i) f = f * s[i] + idx[i];
  return f;
}

std::vector<int64_t> unflat(const Shape& s, int64_t f) {
  std::vector<int64_t> idx(s.ndim());
  for (int i = s.ndim() - 1; i >= 0; --i) {
    idx[i] = f % s[i];
    f /= s[i];
  }
  return idx;
}

// Naive concat: each output element looks up which input owns its coordinate along dim.
Tensor naive_concat(const std::vector<Tensor>& xs, int d) {
  std::vector<int64_t> dims = xs[0].shape().vec();
  dims[d] = 0;
  for (const Tensor& x : xs) dims[d] += x.size(d);
  Shape out(dims);
  std::vector<std::vector<double>> vals;
  for (const Tensor& x : xs) vals.push_back(x.to_vector<double>());
  std::vector<double> z(out.numel());
  for (int64_t f = 0; f < out.numel(); ++f) {
    std::vector<int64_t> idx = unflat(out, f);
    size_t k = 0;
    while (idx[d] >= xs[k].size(d)) idx[d] -= xs[k++].size(d);
    z[f] = vals[k][flat(xs[k].shape(), idx)];
  }
  return Tensor::from_vector(z, out);
}

TEST(Concat, ForwardMatchesNaiveAlongEveryDim) {
  const Shape base{3, 4, 5, 2};
  for (int d = -1; d < 4; ++d) {
    int axis = d < 0 ? 3 : d;
    for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
      SCOPED_TRACE(str("dim ", d, " ", dtype_name(dt)));
      std::vector<Tensor> xs;
      for (int64_t size : {2, 1, 3}) {
        std::vector<int64_t> dims = base.vec();
        dims[axis] = size;
        xs.push_back(randn(Shape(dims), DType::Float64, 10.0).to(dt));
      }
      Tensor y = ops::concat(xs, d);
      EXPECT_EQ(y.dtype(), dt);
      EXPECT_EQ(y.to_vector<double>(), naive_concat(xs, axis).to_vector<double>());
    }
  }
}

TEST(Concat, LargeInputsTakeTheThreadedPath) {
  std::vector<Tensor> xs = {randn({64, 3, 32, 32}, DType::Float32), randn({64, 5, 32, 32}, DType::Float32)};
  EXPECT_EQ(ops::concat(xs, 1).to_vector<double>(), naive_concat(xs, 1).to_vector<double>());
}

TEST(Concat, GradientSplitsBackIntoThePieces) {
  for (int d : {0, 1, 2}) {
    SCOPED_TRACE(str("dim ", d));
    std::vector<int64_t> a = {2, 3, 4}, b = a, c = a;
    b[d] = 1;
    c[d] = 3;
    test::gradcheck([&](const std::vector<Tensor>& in) { return concat(in, d); },
                    {randn(Shape(a)), randn(Shape(b)), randn(Shape(c))});
  }
}

TEST(Concat, SplitInvertsConcatAndItsGradientFillsZeros) {
  Tensor x = randn({3, 7, 2});
  std::vector<Tensor> parts = ops::split(x, {2, 0, 5}, 1);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(parts[1].shape(), (Shape{3, 0, 2}));
  EXPECT_EQ(ops::concat(parts, 1).to_vector<double>(), x.to_vector<double>());
  // Only pieces 0 and 2 reach the output; piece 1's rows get a zero gradient.
  test::gradcheck(
      [](const std::vector<Tensor>& in) {
        std::vector<Tensor> p = split(in[0], {1, 2, 3}, -1);
        return concat({square(p[0]), p[2]}, -1);
      },
      {randn({2, 3, 6})});
}

TEST(Concat, SecondOrderThroughConcatAndSplit) {
  // d/dx of grad_x sum(w * concat(x, y)^3) = 6 x w_x, checked by finite differences of the
  // create_graph gradient.
  Tensor y = randn({2, 3}), w = randn({5, 3});
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        bool outer = GradMode::enabled();  // off inside gradcheck's finite differences
        GradModeGuard on(true);
        const Tensor& x = in[0];
        Tensor e = sum(w * pow(concat({x, y}, 0), 3.0));
        return grad(e, {x}, Tensor(), /*create_graph=*/outer)[0];
      },
      {randn({3, 3})});
}

TEST(Concat, ErrorsNameOpAndShapes) {
  Tensor a = randn({2, 3}), b = randn({2, 4}), c = randn({3, 4});
  try {
    ops::concat({a, c}, 0);
    FAIL() << "expected ShapeError";
  } catch (const ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("concat"), std::string::npos) << m;
    EXPECT_NE(m.find("[2, 3]"), std::string::npos) << m;
    EXPECT_NE(m.find("[3, 4]"), std::string::npos) << m;
  }
  EXPECT_NO_THROW(ops::concat({a, b}, 1));
  EXPECT_THROW(ops::concat({}, 0), ValueError);
  EXPECT_THROW(ops::concat({a, randn({2, 3}, DType::Float32)}, 0), DTypeError);
  EXPECT_THROW(ops::concat({a, a}, 2), ShapeError);
  EXPECT_THROW(ops::split(a, {1, 1}, 1), ShapeError);
}

TEST(IndexSelect, ForwardMatchesNaiveWithRepeatedIndices) {
  for (DType dt : {DType::Float32, DType::Float64, DType::Int64}) {
    Tensor x = randn({6, 3, 2}, DType::Float64, 10.0).to(dt);
    Tensor index = Tensor::from_vector(std::vector<int64_t>{5, 0, 5, 2, 2, 2, 1}, {7});
    Tensor y = ops::index_select(x, index);
    ASSERT_EQ(y.shape(), (Shape{7, 3, 2}));
    auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
    auto iv = index.to_vector<int64_t>();
    for (int64_t k = 0; k < 7; ++k)
      for (int64_t j = 0; j < 6; ++j) EXPECT_EQ(yv[k * 6 + j], xv[iv[k] * 6 + j]);
  }
  // Labels drawn per run, a big table (per-class gains [C, F] picked for a batch).
  Tensor table = randn({10, 256}, DType::Float32);
  Tensor labels = random_labels(512, 10);
  Tensor y = ops::index_select(table, labels);
  auto tv = table.to_vector<float>(), yv = y.to_vector<float>();
  auto lv = labels.to_vector<int64_t>();
  for (int64_t k = 0; k < 512; ++k)
    for (int64_t j = 0; j < 256; ++j) ASSERT_EQ(yv[k * 256 + j], tv[lv[k] * 256 + j]);
}

TEST(IndexSelect, IndexAddAccumulatesRepeatedIndices) {
  Tensor src = randn({5, 4});
  Tensor index = Tensor::from_vector(std::vector<int64_t>{1, 3, 1, 1, 0}, {5});
  Tensor out = ops::index_add(src, index, 4);
  auto sv = src.to_vector<double>();
  std::vector<double> ref(16, 0.0);
  for (int k = 0; k < 5; ++k)
    for (int j = 0; j < 4; ++j) ref[index.to_vector<int64_t>()[k] * 4 + j] += sv[k * 4 + j];
  EXPECT_TENSOR_NEAR(out, Tensor::from_vector(ref, {4, 4}), 1e-15, 1e-15);
}

TEST(IndexSelect, GradientScatterAddsIntoRows) {
  Tensor index = Tensor::from_vector(std::vector<int64_t>{2, 0, 2, 2, 3}, {5});
  test::gradcheck([&](const std::vector<Tensor>& in) { return index_select(in[0], index); },
                  {randn({4, 3})});
  test::gradcheck([&](const std::vector<Tensor>& in) { return index_add(in[0], index, 6); },
                  {randn({5, 2, 2})});
  // Second order: the recorded backward of index_select is index_add, whose derivative is
  // index_select again. grad_x sum(w * index_select(x)^2) = index_add(2 w x[index]).
  Tensor w = randn({5, 3});
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        bool outer = GradMode::enabled();  // off inside gradcheck's finite differences
        GradModeGuard on(true);
        const Tensor& x = in[0];
        return grad(sum(w * square(index_select(x, index))), {x}, Tensor(), outer)[0];
      },
      {randn({4, 3})});
}

TEST(IndexSelect, OutOfRangeIndexNamesValueAndRange) {
  Tensor x = randn({5, 3});
  try {
    ops::index_select(x, Tensor::from_vector(std::vector<int64_t>{0, 4, 7}, {3}));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("index_select"), std::string::npos) << m;
    EXPECT_NE(m.find("index 7"), std::string::npos) << m;
    EXPECT_NE(m.find("position 2"), std::string::npos) << m;
    EXPECT_NE(m.find("[0, 5)"), std::string::npos) << m;
  }
  EXPECT_THROW(ops::index_select(x, Tensor::from_vector(std::vector<int64_t>{-1}, {1})), ValueError);
  EXPECT_THROW(ops::index_select(x, Tensor::zeros({2})), DTypeError);  // float index
  EXPECT_THROW(ops::index_select(x, Tensor::zeros({2, 1}, DType::Int64)), ShapeError);
}

TEST(Gather, ForwardMatchesNaive) {
  for (DType dt : {DType::Float32, DType::Float64}) {
    Tensor x = randn({33, 10}, dt);
    Tensor labels = random_labels(33, 10);
    Tensor y = ops::gather(x, labels);
    ASSERT_EQ(y.shape(), (Shape{33}));
    auto xv = x.to_vector<double>(), yv = y.to_vector<double>();
    auto lv = labels.to_vector<int64_t>();
    for (int64_t i = 0; i < 33; ++i) EXPECT_EQ(yv[i], xv[i * 10 + lv[i]]);
  }
}

TEST(Gather, GradientScattersIntoTheLabelledEntries) {
  Tensor labels = random_labels(6, 4);
  test::gradcheck([&](const std::vector<Tensor>& in) { return gather(in[0], labels); },
                  {randn({6, 4})});
  test::gradcheck([&](const std::vector<Tensor>& in) { return scatter(in[0], labels, 4); },
                  {randn({6})});
}

TEST(Gather, LabelErrorsNameLabelPositionAndClasses) {
  Tensor x = randn({3, 4});
  try {
    ops::gather(x, Tensor::from_vector(std::vector<int64_t>{0, 9, 1}, {3}));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("gather"), std::string::npos) << m;
    EXPECT_NE(m.find("label 9"), std::string::npos) << m;
    EXPECT_NE(m.find("position 1"), std::string::npos) << m;
    EXPECT_NE(m.find("4 classes"), std::string::npos) << m;
  }
  EXPECT_THROW(ops::gather(x, random_labels(2, 4)), ShapeError);  // one label per row
}

double naive_cross_entropy(const Tensor& logits, const Tensor& labels) {
  auto x = logits.to_vector<double>();
  auto y = labels.to_vector<int64_t>();
  int64_t n = logits.size(0), c = logits.size(1);
  double total = 0;
  for (int64_t i = 0; i < n; ++i) {
    double m = x[i * c];
    for (int64_t k = 1; k < c; ++k) m = std::max(m, x[i * c + k]);
    double s = 0;
    for (int64_t k = 0; k < c; ++k) s += std::exp(x[i * c + k] - m);
    total += m + std::log(s) - x[i * c + y[i]];
  }
  return total / n;
}

TEST(CrossEntropy, ForwardMatchesNaive) {
  for (DType dt : {DType::Float32, DType::Float64})
    for (auto [n, c] : {std::pair<int64_t, int64_t>{1, 1}, {7, 3}, {128, 10}, {2048, 100}}) {
      SCOPED_TRACE(str(dtype_name(dt), " N ", n, " C ", c));
      Tensor logits = randn({n, c}, dt, 3.0), labels = random_labels(n, c);
      Tensor loss = ops::cross_entropy(logits, labels);
      EXPECT_EQ(loss.shape(), Shape{});
      EXPECT_EQ(loss.dtype(), dt);
      double rel = dt == DType::Float32 ? 1e-5 : 1e-12;  // per-row float32 exp/log, summed in double
      EXPECT_NEAR(loss.item(), naive_cross_entropy(logits, labels), rel * (1 + std::fabs(loss.item())));
    }
}

TEST(CrossEntropy, IsStableForHugeLogits) {
  Tensor logits = Tensor::from_vector(std::vector<float>{1000.f, -1000.f, 0.f, 900.f, 1000.f, 0.f}, {2, 3});
  Tensor labels = Tensor::from_vector(std::vector<int64_t>{1, 0}, {2});
  // Row 0: 2000 + log(1 + e^-1000 + ...) = 2000; row 1: 100 + log(1 + e^-100) = 100 (+3.7e-44).
  EXPECT_NEAR(ops::cross_entropy(logits, labels).item(), 1050.0, 1e-3);
  Tensor g = ops::cross_entropy_backward(logits, labels, Tensor::scalar(1.0));
  for (float v : g.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(CrossEntropy, FusedBackwardMatchesSoftmaxMinusOneHot) {
  Tensor logits = randn({9, 5}), labels = random_labels(9, 5);
  Tensor g = ops::cross_entropy_backward(logits, labels, Tensor::scalar(2.5, DType::Float64));
  auto x = logits.to_vector<double>();
  auto y = labels.to_vector<int64_t>();
  std::vector<double> ref(45);
  for (int i = 0; i < 9; ++i) {
    double s = 0;
    for (int c = 0; c < 5; ++c) s += std::exp(x[i * 5 + c]);
    for (int c = 0; c < 5; ++c) ref[i * 5 + c] = 2.5 / 9 * (std::exp(x[i * 5 + c]) / s - (c == y[i]));
  }
  EXPECT_TENSOR_NEAR(g, Tensor::from_vector(ref, {9, 5}), 1e-12, 1e-15);
}

TEST(CrossEntropy, GradientMatchesFiniteDifferences) {
  Tensor labels = random_labels(6, 5);
  test::gradcheck([&](const std::vector<Tensor>& in) { return cross_entropy(in[0], labels); },
                  {randn({6, 5}, DType::Float64, 2.0)});
  // Composed with the ops around it, as a JEM classifier head uses it.
  Tensor bias = randn({5, 5});
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        return cross_entropy(in[0] + index_select(in[1], labels), labels) * 3.0;
      },
      {randn({6, 5}), bias});
}

TEST(CrossEntropy, SecondOrderThroughTheRecordedBackward) {
  Tensor labels = random_labels(4, 3);
  Tensor w = randn({4, 3});
  // The recorded backward (create_graph) equals the fused one.
  Tensor x0 = randn({4, 3}).set_requires_grad(true);
  Tensor recorded = grad(cross_entropy(x0 * w, labels), {x0}, Tensor(), /*create_graph=*/true)[0];
  Tensor fused = grad(cross_entropy(x0 * w, labels), {x0})[0];
  EXPECT_TRUE(recorded.requires_grad());
  EXPECT_TENSOR_NEAR(recorded, fused, 1e-12, 1e-15);
  test::gradcheck(
      [&](const std::vector<Tensor>& in) {
        bool outer = GradMode::enabled();  // off inside gradcheck's finite differences
        GradModeGuard on(true);
        const Tensor& x = in[0];
        return grad(cross_entropy(x * w, labels), {x}, Tensor(), outer)[0];
      },
      {randn({4, 3})});
}

TEST(CrossEntropy, LabelErrorsNameLabelPositionAndClasses) {
  Tensor logits = randn({4, 10});
  try {
    ops::cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{0, 3, 9, 10}, {4}));
    FAIL() << "expected ValueError";
  } catch (const ValueError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cross_entropy"), std::string::npos) << m;
    EXPECT_NE(m.find("label 10"), std::string::npos) << m;
    EXPECT_NE(m.find("position 3"), std::string::npos) << m;
    EXPECT_NE(m.find("10 classes"), std::string::npos) << m;
  }
  EXPECT_THROW(ops::cross_entropy(logits, Tensor::from_vector(std::vector<int64_t>{0, -2, 1, 1}, {4})),
               ValueError);
  EXPECT_THROW(ops::cross_entropy(logits, Tensor::zeros({4})), DTypeError);  // float labels
  EXPECT_THROW(ops::cross_entropy(logits, random_labels(3, 10)), ShapeError);
  EXPECT_THROW(ops::cross_entropy(randn({4}), random_labels(4, 1)), ShapeError);
}

TEST(Dropout, MaskKeepsWithProbabilityOneMinusPAndScales) {
  const int64_t n = 1 << 20;
  const double p = 0.3;
  uint64_t seed = test::rng()();
  Tensor m = ops::dropout_mask({n}, p, seed, 8);
  auto v = m.to_vector<float>();
  int64_t kept = 0;
  for (int64_t i = 0; i < n; ++i) {
    bool keep = double(philox::uniform(seed, 8, i)) > p;
    ASSERT_EQ(v[i], keep ? float(1 / (1 - p)) : 0.0f) << i;
    kept += keep;
  }
  // 6 standard errors of a binomial share.
  EXPECT_NEAR(double(kept) / n, 1 - p, 6 * std::sqrt(p * (1 - p) / n));
  EXPECT_EQ(ops::dropout_mask({5}, 1.0, seed, 0).to_vector<float>(), std::vector<float>(5, 0.0f));
  EXPECT_EQ(ops::dropout_mask({5}, 0.0, seed, 0, DType::Float64).to_vector<double>(),
            std::vector<double>(5, 1.0));
}

TEST(Dropout, GradientIsTheMask) {
  const uint64_t seed = test::rng()();
  const double p = 0.4;
  Tensor x0 = randn({3, 4, 5});
  // A fixed seed per evaluation: every call of f draws the same mask.
  auto f = [&](const std::vector<Tensor>& in) {
    Generator gen(seed);
    return dropout(in[0], p, /*training=*/true, gen);
  };
  test::gradcheck(f, {x0});
  Tensor x = x0.clone().set_requires_grad(true);
  Generator gen(seed);
  Tensor y = dropout(x, p, true, gen);
  Tensor mask = ops::dropout_mask(x.shape(), p, seed, 0, DType::Float64);
  EXPECT_EQ(gen.offset(), 60u);  // 60 words reserved
  EXPECT_EQ(grad(sum(y), {x})[0].to_vector<double>(), mask.to_vector<double>());
  EXPECT_EQ(y.to_vector<double>(), ops::binary(BinaryOp::Mul, x0, mask).to_vector<double>());
}

TEST(Dropout, IdentityWhenNotTrainingOrPIsZero) {
  Tensor x = randn({4, 4}).set_requires_grad(true);
  Generator gen(3, 8);
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false, gen).same(x));
  EXPECT_TRUE(dropout(x, 0.0, /*training=*/true, gen).same(x));
  EXPECT_EQ(gen.offset(), 8u);  // no draw was made
  Tensor y = dropout(x, 0.5, true, gen);
  EXPECT_EQ(gen.offset(), 24u);
  EXPECT_THROW(dropout(x, -0.1, true, gen), ValueError);
  EXPECT_THROW(dropout(x, 1.1, false, gen), ValueError);
}

}  // namespace
}  // namespace ebm
