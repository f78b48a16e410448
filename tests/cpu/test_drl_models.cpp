// DRL's net_res_temb2 (nn/drl_models.h; spec igebm-drl.md §2.4) against its PyTorch replica
// (tests/reference/drl_models.py, goldens by make_drl_goldens.py): outputs, ∇y and every parameter
// gradient in eval mode and in train mode (one power iteration per SN layer, updated u/v
// compared), state_dict names and order, parameter counts and forward FLOPs of the full-size
// networks against the replica (exact) and the spec's figures (to its rounding), the factory,
// and the error messages.
#include <cmath>

#include "drl_model_goldens.h"
#include "nn/drl_models.h"
#include "nn/flops.h"
#include "nn/wrn.h"

namespace ebm {
namespace {

using nn::DrlModelOptions;

std::map<std::string, Tensor> call_drl(nn::DrlNet& net, const Tensor& y, const Tensor& t) {
  return {{"out", net.forward(y, t)}};
}

const char* kSmall = "drl_net_res_temb2_small";

// PyTorch's eval semantics (σ from the stored u, v), which the replica has.
TEST(DrlModels, SmallMatchesPyTorchEval) {
  Generator gen(1);
  DrlModelOptions o;
  o.sn_iterate_in_eval = false;
  auto net = nn::make_drl_model("net_res_temb2_small", o, gen);
  test::run_golden_case(*net, kSmall, "eval", Device::cpu(),
                        [&](const Tensor& y, const Tensor& t) { return call_drl(*net, y, t); });
  std::cout << "worst error / tolerance so far: " << test::worst_ratio() << "\n";
}

// The official Keras SN iterates on every call: in eval mode the network (no dropout) computes
// exactly what train mode does, so the replica's train-mode golden holds (outputs, gradients, u/v).
TEST(DrlModels, OfficialEvalIteratesLikeTrainMode) {
  Generator gen(2);
  auto net = nn::make_drl_model("net_res_temb2_small", {}, gen);
  test::run_golden_case(*net, kSmall, "train", Device::cpu(), [&](const Tensor& y, const Tensor& t) {
    net->eval();
    return call_drl(*net, y, t);
  });
}

TEST(DrlModels, SmallMatchesPyTorchTrainModeOnePowerIteration) {
  Generator gen(2);
  auto net = nn::make_drl_model("net_res_temb2_small", {}, gen);
  test::run_golden_case(*net, kSmall, "train", Device::cpu(),
                        [&](const Tensor& y, const Tensor& t) { return call_drl(*net, y, t); });
  std::cout << "worst error / tolerance so far: " << test::worst_ratio() << "\n";
}

TEST(DrlModels, SmallStateDictAndSizesMatchReplica) {
  Generator gen(3);
  auto net = nn::make_drl_model("net_res_temb2_small", {}, gen);
  json::Value meta = test::golden_meta(test::read_golden(std::string(kSmall) + "_weights"));
  EXPECT_EQ(test::state_dict_names(*net), test::json_strings(meta.at("state_dict")));
  EXPECT_EQ(net->num_parameters(), meta.at("params").as_int());
  EXPECT_EQ(net->num_parameters(), 54720);  // the header's figure
  // FLOPs of one forward at the golden's input size (16x16).
  nn::FlopCounter flops;
  {
    NoGradGuard ng;
    net->eval();
    net->forward(Tensor::zeros(Shape{1, 3, 16, 16}), Tensor::zeros(Shape{1}, DType::Int64));
  }
  EXPECT_EQ(flops.flops(), meta.at("flops_1").as_int());
}

// Parameters, FLOPs (one 32x32 forward) and names of a full-size model.
struct Figures {
  int64_t params = 0, flops = 0;
  std::vector<std::string> names;
};

Figures full_figures(const std::string& name, const DrlModelOptions& o) {
  Generator gen(4);
  auto net = nn::make_drl_model(name, o, gen);
  Figures f;
  f.params = net->num_parameters();
  f.names = test::state_dict_names(*net);
  nn::FlopCounter flops;
  NoGradGuard ng;
  net->eval();
  net->forward(Tensor::zeros(Shape{1, 3, 32, 32}), Tensor::zeros(Shape{1}, DType::Int64));
  f.flops = flops.flops();
  return f;
}

TEST(DrlModels, FullSizeMatchesSpecAndReplica) {
  json::Value full = test::golden_meta(test::read_golden(std::string(kSmall) + "_weights")).at("full");

  // num_res_blocks = 2 (config.py default): spec ≈ 9.1 M parameters / 2.8 GFLOP.
  Figures nb2 = full_figures("net_res_temb2", {});
  EXPECT_EQ(nb2.params, full.at("net_res_temb2_nb2").at("params").as_int());
  EXPECT_EQ(nb2.flops, full.at("net_res_temb2_nb2").at("flops").as_int());
  EXPECT_EQ(nb2.names, test::json_strings(full.at("net_res_temb2_nb2").at("state_dict")));
  EXPECT_EQ(std::round(nb2.params / 1e5) / 10, 9.1);
  EXPECT_EQ(std::round(nb2.flops / 1e8) / 10, 2.8);

  // num_res_blocks = 8 (README CIFAR-10): spec ≈ 34.8 M / 11.2 GFLOP.
  DrlModelOptions o;
  o.num_res_blocks = 8;
  Figures nb8 = full_figures("net_res_temb2", o);
  EXPECT_EQ(nb8.params, full.at("net_res_temb2_nb8").at("params").as_int());
  EXPECT_EQ(nb8.flops, full.at("net_res_temb2_nb8").at("flops").as_int());
  EXPECT_EQ(std::round(nb8.params / 1e5) / 10, 34.8);
  EXPECT_EQ(std::round(nb8.flops / 1e8) / 10, 11.2);
  std::cout << "net_res_temb2: nb2 " << nb2.params << " params, " << nb2.flops << " FLOP; nb8 "
            << nb8.params << " params, " << nb8.flops << " FLOP\n";
}

TEST(DrlModels, SpectralNormLayout) {
  Generator gen(5);
  nn::NetResTemb2 net(nn::net_res_temb2_options("net_res_temb2_small", {}), gen);
  // Every conv and dense normalised except temb_dense_2; conv2 of each block capped.
  int sn = 0, capped = 0;
  for (nn::SpectralNorm* s : nn::spectral_norms(net)) {
    ++sn;
    capped += s->options().capped;
    EXPECT_EQ(s->schedule(), nn::SpectralNormSchedule::EveryForward);
  }
  // temb_dense_0/1, conv_in, 3 blocks × (conv1, temb_proj, conv2), 1 conv_shortcut (16 -> 32).
  EXPECT_EQ(sn, 3 + 3 * 3 + 1);
  EXPECT_EQ(capped, 3);
  bool dense2_plain = false;
  for (const auto& [name, t] : net.named_parameters()) dense2_plain |= name == "temb_dense_2.weight";
  EXPECT_TRUE(dense2_plain);
}

TEST(DrlModels, FreshInitIsNearIdentityBlocksAndGlorotElsewhere) {
  Generator gen(6);
  nn::NetResTemb2 net(nn::net_res_temb2_options("net_res_temb2_small", {}), gen);
  for (const auto& [name, p] : net.named_parameters()) {
    double m = test::max_abs_of(p);
    if (name.find("bias") != std::string::npos) {
      EXPECT_EQ(m, 0.0) << name;
    } else if (name.find(".g") == name.size() - 2) {
      EXPECT_EQ(p.to_vector<float>(), std::vector<float>(p.numel(), 1.0f)) << name;
    } else if (name.find("conv2") != std::string::npos) {
      EXPECT_LT(m, 1e-4) << name;  // variance scaling 1e-10
    } else {
      auto s = p.shape();
      int64_t rf = p.numel() / (s[0] * s[1]);
      double bound = std::sqrt(6.0 / double((s[0] + s[1]) * rf));  // Glorot uniform
      EXPECT_LE(m, bound) << name;
      EXPECT_GT(m, 0.9 * bound) << name;
    }
  }
  // With conv2 ≈ 0 every block is ≈ its shortcut: f is finite and the same for equal inputs.
  net.eval();
  Tensor y = test::randn(Shape{2, 3, 16, 16}, DType::Float32);
  Tensor f = net.forward(y, Tensor::from_vector(std::vector<int64_t>{0, 5}, Shape{2}));
  for (float v : f.to_vector<float>()) EXPECT_TRUE(std::isfinite(v));
}

// Official (Keras SN): one iteration per forward in train and eval mode alike; with
// sn_iterate_in_eval off (PyTorch), eval mode uses the stored u, v.
TEST(DrlModels, EveryForwardIteratesInEvalModeTooUnlessPyTorchSemantics) {
  for (bool official : {true, false}) {
    SCOPED_TRACE(official ? "official" : "pytorch");
    Generator gen(7);
    DrlModelOptions o;
    o.sn_iterate_in_eval = official;
    auto net = nn::make_drl_model("net_res_temb2_small", o, gen);
    Tensor y = test::randn(Shape{2, 3, 16, 16}, DType::Float32);
    Tensor t = Tensor::from_vector(std::vector<int64_t>{1, 2}, Shape{2});
    auto u_of = [&] { return nn::spectral_norms(*net)[0]->u().to_vector<float>(); };
    auto u0 = u_of();
    net->eval();
    net->forward(y, t);
    if (official) EXPECT_NE(u_of(), u0);
    else EXPECT_EQ(u_of(), u0);  // eval: stored u, v
    net->train();
    auto u1 = u_of();
    net->forward(y, t);
    auto u2 = u_of();
    EXPECT_NE(u2, u1);
    net->forward(y, t);
    EXPECT_NE(u_of(), u2);  // one iteration per forward
  }
}

// The EMA's averaged u, v are not unit vectors; an iterating eval normalises them (σ is the one
// of the power step from u), so the averaged network gives the energies of its weights.
TEST(DrlModels, OfficialEvalIsUnaffectedByTheScaleOfStoredVectors) {
  Generator gen(9);
  auto net = nn::make_drl_model("net_res_temb2_small", {}, gen);
  net->eval();
  Tensor y = test::randn(Shape{2, 3, 16, 16}, DType::Float32);
  Tensor t = Tensor::from_vector(std::vector<int64_t>{0, 3}, Shape{2});
  for (int k = 0; k < 5; ++k) net->forward(y, t);  // u near its fixed point
  std::vector<Tensor> saved;
  for (auto& [name, b] : net->named_buffers()) saved.push_back(b.clone());
  const std::vector<float> f1 = net->forward(y, t).to_vector<float>();
  size_t i = 0;
  for (auto& [name, b] : net->named_buffers()) {
    b.copy_(saved[i++]);
    if (name.size() > 7 && name.substr(name.size() - 7) == "weight_u") b.copy_(mul(saved[i - 1], Tensor::scalar(0.3f)));
  }
  const std::vector<float> f2 = net->forward(y, t).to_vector<float>();
  ASSERT_EQ(f1.size(), f2.size());
  for (size_t k = 0; k < f1.size(); ++k) EXPECT_NEAR(f2[k], f1[k], 1e-5 * (1 + std::fabs(f1[k])));
}

TEST(DrlModels, FactoryNamesAndErrors) {
  Generator gen(8);
  EXPECT_EQ(nn::drl_model_names(),
            (std::vector<std::string>{"net_res_temb2", "net_res_temb2_small", "wrn28_10", "wrn_small"}));
  test::expect_error<ValueError>(
      [&] { nn::make_drl_model("resnet50", {}, gen); },
      {"unknown model 'resnet50'", "net_res_temb2", "net_res_temb2_small", "wrn28_10", "wrn_small"});
  DrlModelOptions o;
  o.ch = 8;
  o.num_res_blocks = 2;
  o.ch_mult = {1, 2};
  nn::NetResTemb2Options r = nn::net_res_temb2_options("net_res_temb2_small", o);
  EXPECT_EQ(r.ch, 8);
  EXPECT_EQ(r.num_res_blocks, 2);
  EXPECT_EQ(r.ch_mult, (std::vector<int64_t>{1, 2}));
  auto net = nn::make_drl_model("net_res_temb2_small", o, gen);
  EXPECT_NE(dynamic_cast<nn::NetResTemb2*>(net.get()), nullptr);
  auto wrn = nn::make_drl_model("wrn_small", {}, gen);
  ASSERT_NE(dynamic_cast<nn::WideResNet*>(wrn.get()), nullptr);
  EXPECT_TRUE(dynamic_cast<nn::WideResNet*>(wrn.get())->options().time_embedding);
}

TEST(DrlModels, BadInputsThrow) {
  Generator gen(9);
  auto net = nn::make_drl_model("net_res_temb2_small", {}, gen);
  Tensor y = Tensor::zeros(Shape{2, 3, 16, 16});
  Tensor t = Tensor::from_vector(std::vector<int64_t>{0, 1}, Shape{2});
  test::expect_error<ValueError>(
      [&] { net->forward(y, Tensor::from_vector(std::vector<int64_t>{0, 6}, Shape{2})); },
      {"index 6", "out of range [0, 6)"});
  test::expect_error<ValueError>(
      [&] { net->forward(y, Tensor::from_vector(std::vector<int64_t>{-1, 0}, Shape{2})); },
      {"index -1"});
  test::expect_error<ShapeError>([&] { net->forward(y, Tensor::zeros(Shape{2})); },
                                 {"NetResTemb2", "t must be int64 [2]", "float32[2]"});
  test::expect_error<ShapeError>(
      [&] { net->forward(y, Tensor::from_vector(std::vector<int64_t>{0, 1, 2}, Shape{3})); },
      {"t must be int64 [2]", "int64[3]"});
  test::expect_error<ShapeError>([&] { net->forward(y, Tensor()); }, {"undefined"});
  test::expect_error<ShapeError>([&] { net->forward(Tensor::zeros(Shape{2, 1, 16, 16}), t); },
                                 {"y must be [N, 3, H, W]", "float32[2, 1, 16, 16]"});
  test::expect_error<ShapeError>([&] { net->forward(Tensor::zeros(Shape{2, 3, 18, 18}), t); },
                                 {"multiples of 4", "[2, 3, 18, 18]"});
  test::expect_error<ShapeError>([&] { net->forward(Tensor::zeros(Shape{2, 3, 16}), t); },
                                 {"y must be"});
  DrlModelOptions bad;
  bad.num_res_blocks = -1;
  test::expect_error<ValueError>([&] { nn::make_drl_model("net_res_temb2", bad, gen); },
                                 {"NetResTemb2", "num_res_blocks -1"});
}

}  // namespace
}  // namespace ebm
