// EMA of parameters (nn/ema.h, DRL spec §2.7): both update forms against the formulas computed
// by hand in the element type (same operations, same order: the same bits), the DRL flow
// (average after every step, copy into a sampling network every N iterations), state_dict
// round trips and the errors.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "nn/ema.h"
#include "test_util.h"

namespace ebm {
namespace {

using nn::Ema;
using nn::EmaSyncPolicy;
using nn::NamedTensors;
using test::expect_error;

template <class T>
bool same_bits(const std::vector<T>& a, const Tensor& b) {
  const std::vector<T> v = b.to_vector<T>();
  return a.size() == v.size() && std::memcmp(a.data(), v.data(), a.size() * sizeof(T)) == 0;
}

template <class T>
void check_forms() {
  const DType dt = dtype_of<T>::value;
  for (EmaForm form : {EmaForm::Tf, EmaForm::Lerp}) {
    SCOPED_TRACE(str(dtype_name(dt), form == EmaForm::Tf ? " tf" : " lerp"));
    const double decay = 0.999;
    Tensor w = test::randn({5, 3}, dt), u = test::randn({3}, dt);  // a weight and a "u" buffer
    NamedTensors tensors = {{"conv.weight", w}, {"conv.u", u}};
    Ema ema(tensors, decay, form);
    std::vector<std::vector<T>> ref = {w.to_vector<T>(), u.to_vector<T>()};
    const T d = static_cast<T>(decay), omd = static_cast<T>(1.0 - decay);
    for (int step = 0; step < 4; ++step) {
      // The values move (as an optimizer would move them) and the average follows.
      w.copy_(test::randn({5, 3}, dt));
      u.copy_(test::randn({3}, dt));
      ema.update(tensors);
      for (size_t k = 0; k < 2; ++k) {
        const std::vector<T> v = tensors[k].second.to_vector<T>();
        for (size_t i = 0; i < v.size(); ++i) {
          T& s = ref[k][i];
          if (form == EmaForm::Tf) s = s - (s - v[i]) * omd;  // tf.train.ExponentialMovingAverage
          else s = d * s + omd * v[i];
        }
        EXPECT_TRUE(same_bits(ref[k], ema.shadows()[k].second)) << "tensor " << k << " step " << step;
      }
    }
    EXPECT_EQ(ema.updates(), 4);
  }
}

TEST(Ema, UpdateFormsEqualTheirFormulas) {
  check_forms<float>();
  check_forms<double>();
}

TEST(Ema, ShadowsStartAsCopies) {
  Tensor w = test::randn({4}, DType::Float32).set_requires_grad(true);
  Ema ema(NamedTensors{{"w", w}});
  EXPECT_FALSE(ema.shadows()[0].second.shares_storage_with(w));
  EXPECT_FALSE(ema.shadows()[0].second.requires_grad());
  EXPECT_EQ(ema.shadows()[0].second.to_vector<float>(), w.to_vector<float>());
  EXPECT_EQ(ema.decay(), 0.999);
  EXPECT_EQ(ema.form(), EmaForm::Tf);
  // decay 1 freezes the average; decay 0 copies the values (exactly in the lerp form: 0·s + 1·v).
  Ema frozen(NamedTensors{{"w", w}}, 1.0), copy(NamedTensors{{"w", w}}, 0.0, EmaForm::Lerp);
  const std::vector<float> before = w.to_vector<float>();
  w.detach().copy_(test::randn({4}, DType::Float32));
  frozen.update({{"w", w}});
  copy.update({{"w", w}});
  EXPECT_EQ(frozen.shadows()[0].second.to_vector<float>(), before);
  EXPECT_EQ(copy.shadows()[0].second.to_vector<float>(), w.to_vector<float>());
}

// TF's num_updates warm-up: update n uses min(decay, (1+n)/(10+n)) (0.1, 0.182, ... up to decay),
// and a restored average goes on from its update count.
TEST(Ema, WarmupUsesTheTfNumUpdatesDecay) {
  const double decay = 0.99;
  Tensor w = test::randn({6}, DType::Float64);
  NamedTensors tensors = {{"w", w}};
  Ema ema(tensors, decay, EmaForm::Tf, /*warmup=*/true);
  EXPECT_TRUE(ema.warmup());
  std::vector<double> ref = w.to_vector<double>();
  for (int n = 0; n < 300; ++n) {
    const double d = std::min(decay, (1.0 + n) / (10.0 + n));
    ASSERT_EQ(ema.next_decay(), d) << "update " << n;
    w.copy_(test::randn({6}, DType::Float64));
    ema.update(tensors);
    const std::vector<double> v = w.to_vector<double>();
    for (size_t i = 0; i < v.size(); ++i) ref[i] = ref[i] - (ref[i] - v[i]) * (1.0 - d);
    ASSERT_TRUE(same_bits(ref, ema.shadows()[0].second)) << "update " << n;
  }
  EXPECT_EQ(ema.next_decay(), 301.0 / 310.0) << "still warming up: (1+n)/(10+n) reaches 0.99 at n = 890";
  EXPECT_EQ(Ema(tensors, 0.9, EmaForm::Tf, true).next_decay(), 0.1) << "the first update keeps 10 % of the start";
  Ema restored(tensors, decay, EmaForm::Tf, true);
  NamedTensors saved;
  for (const auto& [name, t] : ema.state_dict()) saved.emplace_back(name, t.clone());
  restored.load_state_dict(saved);
  EXPECT_EQ(restored.next_decay(), ema.next_decay());
  EXPECT_EQ(Ema(tensors, decay).next_decay(), decay) << "no warm-up: the official constant decay";
}

// DRL's schedule: average after every step, copy into the sampling network only when due.
TEST(Ema, DrlCopyIntoTheSamplingNetworkEveryNIterations) {
  const EmaSyncPolicy policy{5000};
  EXPECT_FALSE(policy.due(0));  // train.py: i_iter % 5000 == 0 and i_iter > 0
  EXPECT_FALSE(policy.due(4999));
  EXPECT_TRUE(policy.due(5000));
  EXPECT_FALSE(policy.due(5001));
  EXPECT_TRUE(policy.due(10000));
  EXPECT_FALSE(EmaSyncPolicy{0}.due(5000));

  Tensor w = Tensor::zeros({3}, DType::Float64);
  NamedTensors model = {{"net.w", w}};
  NamedTensors sampler = {{"net.w", Tensor::full({3}, -1.0, DType::Float64)}};
  Ema ema(model, 0.5);
  const EmaSyncPolicy every3{3};
  std::vector<double> shadow(3, 0.0);
  for (int64_t it = 0; it < 8; ++it) {
    w.fill_(static_cast<double>(it + 1));  // "the optimizer step"
    ema.update(model);
    for (double& s : shadow) s = s - (s - static_cast<double>(it + 1)) * 0.5;
    const std::vector<double> before = sampler[0].second.to_vector<double>();
    if (every3.due(it)) ema.copy_to(sampler);
    const std::vector<double> now = sampler[0].second.to_vector<double>();
    if (it == 3 || it == 6) EXPECT_EQ(now, shadow) << "synced at iteration " << it;
    else EXPECT_EQ(now, before) << "stale between syncs, iteration " << it;
  }
}

TEST(Ema, CopyToMatchesByNameAndChecks) {
  Tensor a = test::randn({2}, DType::Float32), b = test::randn({3}, DType::Float32);
  Ema ema(NamedTensors{{"a", a}, {"b", b}});
  Tensor ta = Tensor::zeros({2}), tb = Tensor::zeros({3});
  ema.copy_to({{"b", tb}, {"a", ta}});  // any order
  EXPECT_EQ(ta.to_vector<float>(), a.to_vector<float>());
  EXPECT_EQ(tb.to_vector<float>(), b.to_vector<float>());
  expect_error<ValueError>([&] { ema.copy_to({{"a", ta}, {"c", tb}}); },
                           {"Ema::copy_to", "missing: b", "unexpected: c"});
  expect_error<ShapeError>([&] { ema.copy_to({{"a", ta}, {"b", Tensor::zeros({4})}}); },
                           {"'b'", "float32[4]", "float32[3]"});
  expect_error<DTypeError>([&] { ema.copy_to({{"a", ta}, {"b", Tensor::zeros({3}, DType::Float64)}}); },
                           {"'b'", "float64[3]"});
}

TEST(Ema, UpdateErrorsNameTheTensorAndChangeNothing) {
  Tensor a = Tensor::ones({2}), b = Tensor::ones({3});
  Ema ema(NamedTensors{{"a", a}, {"b", b}}, 0.9);
  expect_error<ValueError>([&] { ema.update({{"a", a}}); }, {"Ema::update", "got 1 tensors", "has 2"});
  expect_error<ValueError>([&] { ema.update({{"b", b}, {"a", a}}); }, {"tensor 0 is 'b'", "'a'"});
  expect_error<ShapeError>([&] { ema.update({{"a", Tensor::zeros({2})}, {"b", Tensor::zeros({4})}}); },
                           {"'b'", "float32[4]"});
  EXPECT_EQ(ema.shadows()[0].second.to_vector<float>(), std::vector<float>(2, 1.0f));
  EXPECT_EQ(ema.updates(), 0);
  expect_error<ValueError>([&] { Ema e(NamedTensors{{"a", a}}, 1.5); }, {"decay"});
  expect_error<ValueError>([&] { Ema e(NamedTensors{{"a", a}, {"a", b}}); }, {"'a' appears twice"});
  expect_error<DTypeError>([&] { Ema e(NamedTensors{{"i", Tensor::zeros({1}, DType::Int64)}}); }, {"'i'"});
}

TEST(Ema, StateDictRoundTrip) {
  Tensor w = test::randn({4, 2}, DType::Float32);
  NamedTensors model = {{"layer.weight", w}};
  Ema ema(model, 0.99);
  for (int k = 0; k < 3; ++k) {
    w.copy_(test::randn({4, 2}, DType::Float32));
    ema.update(model);
  }
  NamedTensors saved;
  for (const auto& [name, t] : ema.state_dict()) saved.emplace_back(name, t.clone());
  ASSERT_EQ(saved.size(), 2u);
  EXPECT_EQ(saved[0].first, "ema.layer.weight");
  EXPECT_EQ(saved[1].first, "ema.updates");
  Ema other(model, 0.99);
  other.load_state_dict(saved);
  EXPECT_EQ(other.updates(), 3);
  w.copy_(test::randn({4, 2}, DType::Float32));
  ema.update(model);
  other.update(model);
  EXPECT_TRUE(same_bits(ema.shadows()[0].second.to_vector<float>(), other.shadows()[0].second));
  expect_error<ValueError>([&] { other.load_state_dict({{"ema.layer.weight", saved[0].second}}); },
                           {"missing: ema.updates"});
  expect_error<ValueError>([&] { other.load_state_dict({saved[0], saved[1], {"ema.x", saved[0].second}}); },
                           {"unexpected: ema.x"});
  expect_error<ShapeError>([&] { other.load_state_dict({{"ema.layer.weight", Tensor::zeros({8})}, saved[1]}); },
                           {"ema.layer.weight", "float32[8]"});
  EXPECT_EQ(other.updates(), 4);
}

}  // namespace
}  // namespace ebm
