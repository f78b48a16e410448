// JEM's WRN (nn/wrn.h; spec gebm-jem-mebm.md §2.3) and the DRL port's time-conditioned WRN
// (igebm-drl.md §2.13) against the PyTorch replica (tests/reference/drl_models.py, goldens by
// make_drl_goldens.py): logits, energy = -logsumexp, the uncond head, ∇x and every parameter
// gradient, BatchNorm in train mode (batch statistics, running-stat update) and eval mode; JEM's
// state_dict names and order; WRN-28-10 parameter counts (the spec's exact figures) and FLOPs
// (the replica's); error messages.
#include "drl_model_goldens.h"
#include "nn/flops.h"
#include "nn/wrn.h"

namespace ebm {
namespace {

nn::WrnOptions small_options(bool time_embedding, nn::WrnNorm norm) {
  nn::WrnOptions o = nn::wrn_small_options();
  o.time_embedding = time_embedding;
  o.norm = norm;
  return o;
}

test::GoldenCall jem_call(nn::JemWrn& m, bool with_uncond) {
  return [&m, with_uncond](const Tensor& x, const Tensor&) {
    Tensor logits = m.forward(x);
    std::map<std::string, Tensor> out{{"out", logits}, {"energy", nn::energy_from_logits(logits)}};
    // A second trunk forward: only where it changes no state (eval mode).
    if (with_uncond) out["uncond_f"] = m.uncond_f(x);
    return out;
  };
}

TEST(WrnModels, JemNoNormMatchesPyTorch) {
  Generator gen(1);
  nn::JemWrn m(small_options(false, nn::WrnNorm::None), gen);
  test::run_golden_case(m, "wrn_small_jem", "eval", Device::cpu(), jem_call(m, true));
}

TEST(WrnModels, JemBatchNormEvalMatchesPyTorch) {
  Generator gen(2);
  nn::JemWrn m(small_options(false, nn::WrnNorm::Batch), gen);
  test::run_golden_case(m, "wrn_small_jem_bn", "eval", Device::cpu(), jem_call(m, true));
}

TEST(WrnModels, JemBatchNormTrainMatchesPyTorch) {
  Generator gen(3);
  nn::JemWrn m(small_options(false, nn::WrnNorm::Batch), gen);
  test::run_golden_case(m, "wrn_small_jem_bn", "train", Device::cpu(), jem_call(m, false));
}

TEST(WrnModels, TimeConditionedMatchesPyTorch) {
  Generator gen(4);
  auto net = nn::make_drl_model("wrn_small", {}, gen);
  test::run_golden_case(*net, "wrn_small_te", "eval", Device::cpu(),
                        [&](const Tensor& x, const Tensor& t) {
                          return std::map<std::string, Tensor>{{"out", net->forward(x, t)}};
                        });
  std::cout << "worst error / tolerance: " << test::worst_ratio() << "\n";
}

TEST(WrnModels, SmallStateDictsAndSizesMatchReplica) {
  struct Case {
    const char* tag;
    std::function<std::shared_ptr<nn::Module>(Generator&)> make;
  };
  std::vector<Case> cases{
      {"wrn_small_jem", [](Generator& g) { return std::make_shared<nn::JemWrn>(small_options(false, nn::WrnNorm::None), g); }},
      {"wrn_small_jem_bn", [](Generator& g) { return std::make_shared<nn::JemWrn>(small_options(false, nn::WrnNorm::Batch), g); }},
      {"wrn_small_te", [](Generator& g) { return nn::make_drl_model("wrn_small", {}, g); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.tag);
    Generator gen(5);
    auto m = c.make(gen);
    json::Value meta = test::golden_meta(test::read_golden(std::string(c.tag) + "_weights"));
    EXPECT_EQ(test::state_dict_names(*m), test::json_strings(meta.at("state_dict")));
    EXPECT_EQ(m->num_parameters(), meta.at("params").as_int());
  }
}

TEST(WrnModels, JemStateDictNamesAreJems) {
  Generator gen(6);
  nn::JemWrn m(small_options(false, nn::WrnNorm::Batch), gen);
  auto names = test::state_dict_names(m);
  auto has = [&](const std::string& n) { return std::find(names.begin(), names.end(), n) != names.end(); };
  for (const char* n : {"f.conv1.weight", "f.layer1.0.bn1.weight", "f.layer1.0.bn1.num_batches_tracked",
                        "f.layer1.0.conv1.weight", "f.layer1.0.conv2.bias", "f.layer2.0.shortcut.0.weight",
                        "f.bn1.running_var", "f.linear.weight", "energy_output.weight", "class_output.bias"})
    EXPECT_TRUE(has(n)) << n;
  EXPECT_FALSE(has("f.layer1.0.shortcut.0.weight"));  // 8 -> 8, stride 1: identity shortcut
  EXPECT_EQ(names.front(), "f.conv1.weight");
  EXPECT_EQ(names.back(), "class_output.bias");
}

struct Figures {
  int64_t params = 0, trunk = 0, flops = 0;
  std::vector<std::string> names;
};

template <class M, class Fwd>
Figures figures(M& m, Fwd fwd) {
  Figures f;
  f.params = m.num_parameters();
  f.names = test::state_dict_names(m);
  nn::FlopCounter flops;
  NoGradGuard ng;
  m.eval();
  fwd();
  f.flops = flops.flops();
  return f;
}

TEST(WrnModels, Wrn28x10MatchesSpecAndReplica) {
  Tensor x = Tensor::zeros(Shape{1, 3, 32, 32});
  for (nn::WrnNorm norm : {nn::WrnNorm::None, nn::WrnNorm::Batch}) {
    const char* tag = norm == nn::WrnNorm::None ? "wrn_small_jem" : "wrn_small_jem_bn";
    json::Value full = test::golden_meta(test::read_golden(std::string(tag) + "_weights")).at("full");
    nn::WrnOptions o;  // WRN-28-10
    o.norm = norm;
    Generator gen(7);
    nn::JemWrn m(o, gen);
    Figures f = figures(m, [&] { m.forward(x); });
    const json::Value& r = full.at("wrn28_10_jem");
    EXPECT_EQ(f.params, r.at("params").as_int());
    EXPECT_EQ(f.flops, r.at("flops").as_int());
    EXPECT_EQ(f.names, test::json_strings(r.at("state_dict")));
    // Spec §2.3: trunk 36 464 928 + heads 7 051 + unused f.linear 6 410 = 36 478 389; BN adds
    // 17 952 (M-EBM's 36 489 931 is the same without f.linear).
    const int64_t linear = 640 * 10 + 10;  // f.linear
    if (norm == nn::WrnNorm::None) {
      EXPECT_EQ(f.params, 36478389);
      EXPECT_EQ(m.trunk().num_parameters() - linear, 36464928);
    } else {
      EXPECT_EQ(f.params - linear, 36489931);
    }
    std::cout << "WRN-28-10 JEM" << (norm == nn::WrnNorm::Batch ? " +BN" : "") << ": " << f.params
              << " params, " << f.flops << " FLOP\n";
  }
  // The DRL port's time-conditioned WRN-28-10 ("wrn28_10").
  json::Value full = test::golden_meta(test::read_golden("wrn_small_te_weights")).at("full");
  Generator gen(8);
  auto net = nn::make_drl_model("wrn28_10", {}, gen);
  Figures f = figures(*net, [&] { net->forward(x, Tensor::zeros(Shape{1}, DType::Int64)); });
  EXPECT_EQ(f.params, full.at("wrn28_10_te").at("params").as_int());
  EXPECT_EQ(f.flops, full.at("wrn28_10_te").at("flops").as_int());
  EXPECT_EQ(f.names, test::json_strings(full.at("wrn28_10_te").at("state_dict")));
  std::cout << "WRN-28-10 time-conditioned: " << f.params << " params, " << f.flops << " FLOP\n";
}

TEST(WrnModels, EnergyIsMinusLogSumExp) {
  Tensor logits = Tensor::from_vector(std::vector<float>{0.f, 0.f, 1.f, 2.f}, Shape{2, 2});
  auto e = nn::energy_from_logits(logits).to_vector<float>();
  EXPECT_NEAR(e[0], -std::log(2.0), 1e-6);
  EXPECT_NEAR(e[1], -(2.0 + std::log1p(std::exp(-1.0))), 1e-6);
  test::expect_error<ShapeError>([] { nn::energy_from_logits(Tensor::zeros(Shape{3})); },
                                 {"logits must be [N, K]"});
}

TEST(WrnModels, BadInputsThrow) {
  Generator gen(9);
  nn::JemWrn jem(small_options(false, nn::WrnNorm::None), gen);
  test::expect_error<ShapeError>([&] { jem.forward(Tensor::zeros(Shape{2, 3, 16, 16})); },
                                 {"x must be [N, 3, 32, 32]", "[2, 3, 16, 16]"});
  test::expect_error<ShapeError>([&] { jem.forward(Tensor::zeros(Shape{2, 1, 32, 32})); },
                                 {"x must be [N, 3, 32, 32]"});
  test::expect_error<ValueError>(
      [&] { jem.trunk().forward(Tensor::zeros(Shape{2, 3, 32, 32}), Tensor::zeros(Shape{2}, DType::Int64)); },
      {"without time embedding", "t must be undefined"});
  auto te = nn::make_drl_model("wrn_small", {}, gen);
  Tensor x = Tensor::zeros(Shape{2, 3, 32, 32});
  test::expect_error<ShapeError>([&] { te->forward(x, Tensor()); }, {"t must be int64 [2]", "undefined"});
  test::expect_error<ShapeError>([&] { te->forward(x, Tensor::zeros(Shape{2})); }, {"t must be int64 [2]"});
  test::expect_error<ValueError>(
      [&] { te->forward(x, Tensor::from_vector(std::vector<int64_t>{0, 9}, Shape{2})); },
      {"index 9", "out of range [0, 6)"});
  nn::WrnOptions bad;
  bad.depth = 27;
  test::expect_error<ValueError>([&] { nn::JemWrn m(bad, gen); }, {"depth must be 6n+4", "27"});
  nn::WrnOptions timed = nn::wrn_small_options();
  timed.time_embedding = true;
  test::expect_error<ValueError>([&] { nn::JemWrn m(timed, gen); }, {"no time embedding"});
}

TEST(WrnModels, DropoutIsActiveInTrainingOnly) {
  nn::WrnOptions o = small_options(false, nn::WrnNorm::None);
  o.dropout = 0.5;
  Generator gen(10);
  nn::JemWrn m(o, gen);
  Tensor x = test::randn(Shape{2, 3, 32, 32}, DType::Float32);
  m.eval();
  auto a = m.forward(x).to_vector<float>(), b = m.forward(x).to_vector<float>();
  EXPECT_EQ(a, b);
  m.train();
  auto c = m.forward(x).to_vector<float>(), d = m.forward(x).to_vector<float>();
  EXPECT_NE(c, d);  // fresh masks per forward
  EXPECT_NE(a, c);
}

}  // namespace
}  // namespace ebm
