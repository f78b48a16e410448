// IGEBM networks (nn/igebm_models.h; spec ../shared/specs/igebm-drl.md §1.3): energy, ∇ₓE and
// every parameter gradient against the PyTorch replica's goldens (tests/reference/
// make_igebm_goldens.py wrote tests/data/models/igebm_*.safetensors), state_dict names and order,
// parameter and FLOP counts of the full-size networks against the replica and the spec's figures,
// the initialisation, dropout in train/eval, class-row selection, SN schedules and the errors.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "core/io/json.h"
#include "nn/flops.h"
#include "nn/igebm_models.h"
#include "nn/init.h"
#include "igebm_golden.h"
#include "test_util.h"

namespace ebm {
namespace {

using nn::IgebmModelOptions;
using nn::IgebmResNet;
using namespace test::igebm;

class IgebmGolden : public ::testing::TestWithParam<std::tuple<std::string, DType>> {};

TEST_P(IgebmGolden, MatchesPyTorch) {
  auto [name, dt] = GetParam();
  Golden g = load_golden(name);
  auto model = model_of(g, dt);
  // Names and order of the state_dict and parameters are the replica's.
  EXPECT_EQ(names_of(model->state_dict()), g.names("state_dict"));
  EXPECT_EQ(names_of(model->named_parameters()), g.names("parameters"));
  check_golden(g, *model, dt);
}

INSTANTIATE_TEST_SUITE_P(Cases, IgebmGolden,
                         ::testing::Combine(::testing::ValuesIn(kCases),
                                            ::testing::Values(DType::Float32, DType::Float64)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + dtype_name(std::get<1>(info.param));
                         });

// The training-mode golden ran one power iteration: OncePerIteration reproduces it with one
// refresh, after which further forwards reuse W/σ; EveryForward iterates on every forward.
TEST(IgebmModels, SpectralNormSchedules) {
  Golden g = load_golden("small_cond3_c3_train");
  auto once = model_of(g, DType::Float64, nn::SpectralNormSchedule::OncePerIteration);
  once->refresh_spectral_norm();
  check_golden(g, *once, DType::Float64);
  Tensor u = once->block(0).conv1().spectral_norm()->u().clone();
  Tensor x = g.at("x").to(DType::Float64), y = g.at("labels");
  Tensor e1 = once->forward(x, y), e2 = once->forward(x, y);
  EXPECT_EQ(e1.to_vector<double>(), e2.to_vector<double>());
  EXPECT_EQ(once->block(0).conv1().spectral_norm()->u().to_vector<double>(), u.to_vector<double>());

  auto every = model_of(g, DType::Float64, nn::SpectralNormSchedule::EveryForward);
  every->forward(x, y);
  Tensor u1 = every->block(0).conv1().spectral_norm()->u().clone();
  every->forward(x, y);
  EXPECT_NE(every->block(0).conv1().spectral_norm()->u().to_vector<double>(), u1.to_vector<double>());
}

// ---------------------------------------------------------------- sizes

// Builds the full-size network of an igebm_counts.json entry and checks its conv-weight and
// parameter counts, state_dict names and (when `flops`, one forward) FLOPs against the replica's.
struct Counted {
  int64_t conv_weights, num_parameters, flops;
};

Counted check_counts(const std::string& key, bool flops = true) {
  std::string text;
  {
    std::FILE* f = std::fopen(golden_path("counts.json").c_str(), "rb");
    EXPECT_NE(f, nullptr);
    if (!f) return {};
    char buf[4096];
    for (size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) text.append(buf, n);
    std::fclose(f);
  }
  json::Value all = json::parse(text);
  const json::Value& c = all.at(key);
  IgebmModelOptions o = options_of(c.at("options"), DType::Float32);
  Generator gen(1);
  auto model = nn::make_igebm_model(c.at("model").as_string(), o, gen);
  model->eval();
  std::vector<std::string> names;
  for (const auto& v : c.at("state_dict").as_array()) names.push_back(v.as_string());
  EXPECT_EQ(names_of(model->state_dict()), names) << key;
  const nn::IgebmArch& a = model->arch();
  Tensor x = Tensor::zeros(Shape{1, a.in_channels, a.image_size, a.image_size});
  Tensor y = a.num_classes > 0 ? Tensor::from_vector(std::vector<int64_t>{0}, Shape{1}) : Tensor();
  Counted got{model->num_conv_weights(), model->num_parameters(), 0};
  EXPECT_EQ(got.conv_weights, c.at("conv_weights").as_int()) << key;
  EXPECT_EQ(got.num_parameters, c.at("num_parameters").as_int()) << key;
  if (!flops) return got;
  {
    NoGradGuard ng;
    nn::FlopCounter counter;
    model->forward(x, y);
    got.flops = counter.flops();
  }
  EXPECT_EQ(got.flops, c.at("forward_flops").as_int()) << key;
  return got;
}

// The spec's figures (§1.3, §3) count conv weights and 2·MACs, rounded as it prints them.
double round_to(double v, double unit) { return std::round(v / unit) * unit; }

TEST(IgebmModels, ResNet32SizesMatchSpecAndReplica) {
  Counted c = check_counts("resnet32");
  EXPECT_DOUBLE_EQ(round_to(c.conv_weights / 1e6, 0.1), 5.3);
  EXPECT_DOUBLE_EQ(round_to(c.flops / 1e9, 0.01), 1.71);
}

TEST(IgebmModels, ResNet32LargeSizesMatchSpecAndReplica) {
  Counted c = check_counts("resnet32_large");
  EXPECT_DOUBLE_EQ(round_to(c.conv_weights / 1e6, 0.1), 18.6);
  EXPECT_DOUBLE_EQ(round_to(c.flops / 1e9, 0.01), 2.72);
}

TEST(IgebmModels, ResNet32WiderSizesMatchSpecAndReplica) {
  Counted c = check_counts("resnet32_wider_256_imagenet");
  EXPECT_DOUBLE_EQ(round_to(c.conv_weights / 1e6, 1.0), 74.0);
  EXPECT_DOUBLE_EQ(round_to(c.flops / 1e9, 0.1), 10.9);
  // 192 filters (train.py): the replica's counts only (the spec gives none); no forward, to keep
  // the test short (6.3 GFLOP on the CPU).
  check_counts("resnet32_wider", /*flops=*/false);
}

TEST(IgebmModels, SmallSizesMatchReplica) {
  Counted c = check_counts("resnet32_small");
  EXPECT_EQ(c.conv_weights, 332640);  // the figures igebm_models.h documents
  EXPECT_EQ(c.flops, 107937920);
  check_counts("resnet32_small_fashion_mnist");
}

// The block tables of the spec (§1.3): channels, downsampling, skip conv, head.
TEST(IgebmModels, ArchitecturesFollowTheSpec) {
  using B = nn::IgebmBlockSpec;
  auto eq = [](const std::vector<B>& a, const std::vector<B>& b) {
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].in_channels, b[i].in_channels) << "block " << i;
      EXPECT_EQ(a[i].out_channels, b[i].out_channels) << "block " << i;
      EXPECT_EQ(a[i].downsample, b[i].downsample) << "block " << i;
      EXPECT_EQ(a[i].adaptive, b[i].adaptive) << "block " << i;
    }
  };
  IgebmModelOptions o;
  nn::IgebmArch r = nn::igebm_architecture("resnet32", o);
  EXPECT_EQ(r.stem_channels, 128);
  EXPECT_EQ(r.num_classes, 10);
  EXPECT_EQ(r.dropout, 0.0);
  EXPECT_EQ(r.head_act, nn::IgebmHeadAct::Relu);
  eq(r.blocks, {{128, 128, true, false}, {128, 128, false, false}, {128, 256, true, true},
                {256, 256, false, false}, {256, 256, true, false}, {256, 256, false, false}});
  nn::IgebmArch l = nn::igebm_architecture("resnet32_large", o);
  EXPECT_EQ(l.num_classes, 0);
  EXPECT_EQ(l.dropout, 0.5);
  EXPECT_EQ(l.head_act, nn::IgebmHeadAct::Relu);
  eq(l.blocks, {{128, 128, true, false}, {128, 128, false, false}, {128, 128, false, false},
                {128, 256, true, true}, {256, 256, false, false}, {256, 256, false, false},
                {256, 512, true, true}, {512, 512, false, false}, {512, 512, false, false}});
  o.num_classes = 10;  // ResNet32Large conditional: LeakyReLU head (models.py `if FLAGS.cclass`)
  EXPECT_EQ(nn::igebm_architecture("resnet32_large", o).head_act, nn::IgebmHeadAct::LeakyRelu);
  o.num_classes = 1000;
  o.num_filters = 256;
  nn::IgebmArch w = nn::igebm_architecture("resnet32_wider", o);
  EXPECT_EQ(w.stem_channels, 128);
  EXPECT_EQ(w.dropout, 0.0);
  eq(w.blocks, {{128, 256, true, true}, {256, 256, false, false}, {256, 256, false, false},
                {256, 512, true, true}, {512, 512, false, false}, {512, 512, false, false},
                {512, 1024, true, true}, {1024, 1024, false, false}, {1024, 1024, false, false}});
  EXPECT_EQ(nn::igebm_architecture("resnet32_wider", IgebmModelOptions{}).blocks[0].out_channels, 192);
  EXPECT_EQ(nn::igebm_architecture("resnet32_small", IgebmModelOptions{}).stem_channels, 32);
}

// ---------------------------------------------------------------- behaviour

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Mean and standard deviation of a tensor's elements.
std::pair<double, double> moments(const Tensor& t) {
  auto v = t.to_vector<double>();
  double m = 0, q = 0;
  for (double x : v) m += x;
  m /= static_cast<double>(v.size());
  for (double x : v) q += (x - m) * (x - m);
  return {m, std::sqrt(q / static_cast<double>(v.size()))};
}

// Redraws every parameter away from its init (as the golden generator does), then runs a few
// power iterations so σ = uᵀWv is a fair estimate, and leaves the model in eval mode.
void perturb(IgebmResNet& m, uint64_t seed) {
  Generator gen(seed);
  for (auto& [name, p] : m.named_parameters()) {
    Tensor t = p.detach();
    if (ends_with(name, "conv2.weight_orig")) nn::normal_(t, 0.0, 0.5, gen);
    else if (ends_with(name, "g2")) nn::normal_(t, 1.0, 0.3, gen);
    else if (ends_with(name, "gb1") || ends_with(name, "gb2") || ends_with(name, "cb2")) nn::normal_(t, 0.0, 0.2, gen);
  }
  m.train();
  NoGradGuard ng;
  for (int i = 0; i < 5; ++i) m.refresh_spectral_norm();
  m.eval();
  m.refresh_spectral_norm();
}

TEST(IgebmModels, InitialisationFollowsTheSpec) {
  Generator gen(3);
  IgebmModelOptions o;
  o.num_filters = 16;
  o.num_classes = 4;
  auto m = nn::make_igebm_model("resnet32_small", o, gen);
  EXPECT_TRUE(m->is_training());
  for (const auto& [name, p] : m->named_parameters()) {
    SCOPED_TRACE(name);
    auto [mean, sd] = moments(p);
    // 5 standard errors of the sample std of n normals (sd·sqrt(1/(2n))).
    double band = 5.0 / std::sqrt(2.0 * static_cast<double>(p.numel()));
    if (ends_with(name, "conv2.weight_orig")) {
      EXPECT_NEAR(sd / 1e-10, 1.0, band);  // near-zero conv2 (utils.get_weight, zero=True)
    } else if (ends_with(name, "weight_orig")) {
      EXPECT_NEAR(sd, 1.0, band);  // N(0, 1) before the spectral norm
      EXPECT_NEAR(mean, 0.0, 5.0 / std::sqrt(static_cast<double>(p.numel())));
    } else if (name == "fc.weight") {  // Xavier uniform: U(-b, b), b = sqrt(6 / (in + out))
      double b = std::sqrt(6.0 / static_cast<double>(p.size(0) + p.size(1)));
      for (double w : p.to_vector<double>()) EXPECT_LE(std::fabs(w), b);
      EXPECT_GT(sd, 0.0);
    } else {
      double want = ends_with(name, "g2") ? 1.0 : 0.0;  // g 1; gb, cb and the fc bias 0
      for (double w : p.to_vector<double>()) ASSERT_EQ(w, want);
    }
  }
  for (nn::SpectralNorm* sn : nn::spectral_norms(*m)) {
    EXPECT_NEAR(std::sqrt(sum(square(sn->u())).item()), 1.0, 1e-6);
    EXPECT_NEAR(std::sqrt(sum(square(sn->v())).item()), 1.0, 1e-6);
  }
  // The capped SN leaves the near-zero conv2 kernels as they are (σ + 1e-6 < 1), where a plain
  // SN would have blown them up to norm 1.
  m->eval();
  for (int64_t i = 0; i < m->num_blocks(); ++i)
    EXPECT_EQ(m->block(i).conv2().weight().to_vector<double>(),
              m->block(i).conv2().raw_weight().to_vector<double>());
  Tensor e = m->forward(test::uniform(Shape{2, 3, 32, 32}, 0, 1, DType::Float32),
                        Tensor::from_vector(std::vector<int64_t>{0, 3}, Shape{2}));
  for (double v : e.to_vector<double>()) EXPECT_TRUE(std::isfinite(v));
}

TEST(IgebmModels, DropoutOnlyInTraining) {
  Generator gen(5);
  IgebmModelOptions o;
  o.num_filters = 4;  // resnet32_large: unconditional, dropout 0.5 after every conv1
  auto m = nn::make_igebm_model("resnet32_large", o, gen);
  int dropouts = 0;
  for (auto& [name, mod] : m->named_modules())
    if (auto* d = dynamic_cast<nn::Dropout*>(mod)) {
      EXPECT_TRUE(ends_with(name, ".dropout")) << name;
      EXPECT_EQ(d->p(), 0.5);
      ++dropouts;
    }
  EXPECT_EQ(dropouts, 9);
  perturb(*m, 17);  // conv2 away from zero, so what dropout does after conv1 reaches E
  Tensor x = test::uniform(Shape{2, 3, 32, 32}, 0, 1, DType::Float32);
  NoGradGuard ng;

  m->train();
  m->refresh_spectral_norm();  // OncePerIteration: W/σ fixed from here on
  Generator::State s0 = m->dropout_generator().state();
  auto e1 = m->forward(x).to_vector<double>(), e2 = m->forward(x).to_vector<double>();
  EXPECT_NE(e1, e2) << "training-mode forwards should draw fresh dropout masks";
  EXPECT_NE(m->dropout_generator().state(), s0);

  m->eval();
  m->refresh_spectral_norm();
  Generator::State s1 = m->dropout_generator().state();
  auto e3 = m->forward(x).to_vector<double>(), e4 = m->forward(x).to_vector<double>();
  EXPECT_EQ(e3, e4);
  EXPECT_EQ(m->dropout_generator().state(), s1);

  // Same weights without dropout: identical in eval, and deterministic in training.
  o.dropout = 0.0;
  auto plain = nn::make_igebm_model("resnet32_large", o, gen);
  for (auto& [name, mod] : plain->named_modules()) EXPECT_EQ(dynamic_cast<nn::Dropout*>(mod), nullptr);
  plain->load_state_dict(m->state_dict());
  plain->eval();
  plain->refresh_spectral_norm();
  EXPECT_EQ(plain->forward(x).to_vector<double>(), e3);
  plain->train();
  plain->refresh_spectral_norm();
  EXPECT_EQ(plain->forward(x).to_vector<double>(), plain->forward(x).to_vector<double>());
  EXPECT_EQ(nn::make_igebm_model("resnet32", IgebmModelOptions{}, gen)->arch().dropout, 0.0);
}

// E(x, y) of the conditional model equals E(x) of an unconditional one whose gb1, gb2 and g2
// are the class-y rows (g2 plus the offset cb2): the labels pick the right rows.
TEST(IgebmModels, ConditionalGainsPickTheLabelsRows) {
  Generator gen(9);
  IgebmModelOptions o;
  o.num_filters = 4;
  o.num_classes = 5;
  o.dtype = DType::Float64;
  auto cond = nn::make_igebm_model("resnet32_small", o, gen);
  perturb(*cond, 23);
  const std::vector<int64_t> ys{3, 0, 4, 1, 2};
  Tensor x = test::uniform(Shape{5, 3, 32, 32}, 0, 1);
  Tensor e = cond->forward(x, Tensor::from_vector(ys, Shape{5}));
  Tensor e_other = cond->forward(x, Tensor::from_vector(std::vector<int64_t>{0, 1, 2, 3, 4}, Shape{5}));
  EXPECT_NE(e.to_vector<double>()[0], e_other.to_vector<double>()[0]);

  o.num_classes = 0;
  auto uncond = nn::make_igebm_model("resnet32_small", o, gen);
  nn::StateDict cs = cond->state_dict();
  auto find = [&](const std::string& n) {
    for (auto& [k, t] : cs)
      if (k == n) return t;
    ADD_FAILURE() << n << " not in the conditional state_dict";
    return Tensor();
  };
  for (size_t i = 0; i < ys.size(); ++i) {
    nn::StateDict us;
    for (const auto& [name, t] : uncond->state_dict()) {
      Tensor v = find(name);
      if (ends_with(name, "gb1") || ends_with(name, "gb2")) v = v.select(ys[i]).clone();
      if (ends_with(name, "g2")) {
        std::string cb = name.substr(0, name.size() - 2) + "cb2";
        v = ops::binary(BinaryOp::Add, v.select(ys[i]), find(cb));
      }
      us.emplace_back(name, v);
    }
    uncond->load_state_dict(us);
    uncond->eval();
    double got = uncond->forward(x.slice(i, i + 1)).item();
    EXPECT_NEAR(got, e.to_vector<double>()[i], 1e-12 * std::fabs(got)) << "sample " << i;
  }
}

TEST(IgebmModels, Errors) {
  using test::expect_error;
  Generator gen(1);
  expect_error<ValueError>([&] { nn::make_igebm_model("resnet64", {}, gen); },
                           {"'resnet64'", "resnet32, resnet32_large, resnet32_wider, resnet32_small"});
  auto bad = [&](auto set, const char* what) {
    IgebmModelOptions o;
    set(o);
    expect_error<ValueError>([&] { nn::make_igebm_model("resnet32_small", o, gen); }, {what});
  };
  bad([](IgebmModelOptions& o) { o.in_channels = 0; }, "in_channels");
  bad([](IgebmModelOptions& o) { o.image_size = 4; }, "image_size");
  bad([](IgebmModelOptions& o) { o.num_classes = -2; }, "num_classes");
  bad([](IgebmModelOptions& o) { o.num_filters = -8; }, "num_filters");
  bad([](IgebmModelOptions& o) { o.dropout = 1.0; }, "dropout");

  IgebmModelOptions o;
  o.num_filters = 4;
  o.num_classes = 3;
  auto m = nn::make_igebm_model("resnet32_small", o, gen);
  Tensor y = Tensor::from_vector(std::vector<int64_t>{0, 2}, Shape{2});
  Tensor x = Tensor::zeros(Shape{2, 3, 32, 32});
  EXPECT_EQ(m->forward(x, y).shape(), Shape{2});
  expect_error<ShapeError>([&] { m->forward(Tensor::zeros(Shape{2, 1, 32, 32}), y); },
                           {"resnet32_small.forward", "[N, 3, 32, 32]", "[2, 1, 32, 32]"});
  expect_error<ShapeError>([&] { m->forward(Tensor::zeros(Shape{2, 3, 28, 28}), y); },
                           {"[N, 3, 32, 32]", "[2, 3, 28, 28]"});
  expect_error<ShapeError>([&] { m->forward(Tensor::zeros(Shape{3, 32, 32}), y); }, {"[N, 3, 32, 32]"});
  expect_error<ValueError>([&] { m->forward(x); }, {"class-conditional", "3 classes", "needs labels"});
  expect_error<ShapeError>([&] { m->forward(x, Tensor::zeros(Shape{2})); }, {"labels must be int64 [2]"});
  expect_error<ShapeError>([&] { m->forward(x, Tensor::from_vector(std::vector<int64_t>{0, 1, 2}, Shape{3})); },
                           {"labels must be int64 [2]", "[3]"});
  expect_error<ValueError>([&] { m->forward(x, Tensor::from_vector(std::vector<int64_t>{0, 3}, Shape{2})); },
                           {"index 3"});

  // An unconditional Fashion-MNIST model: one input channel, no labels.
  o.in_channels = 1;
  o.num_classes = 0;
  auto u = nn::make_igebm_model("resnet32_small", o, gen);
  EXPECT_FALSE(u->conditional());
  EXPECT_EQ(u->forward(Tensor::zeros(Shape{2, 1, 32, 32})).shape(), Shape{2});
  expect_error<ValueError>([&] { u->forward(Tensor::zeros(Shape{2, 1, 32, 32}), y); },
                           {"unconditional", "labels were given"});
  expect_error<ShapeError>([&] { u->forward(x); }, {"[N, 1, 32, 32]"});
}

}  // namespace
}  // namespace ebm
