// Module tree: names and order (PyTorch's state_dict convention), train/eval, state_dict
// round trip and every load_state_dict error.
#include <gtest/gtest.h>

#include "nn/layers.h"
#include "nn/module.h"
#include "test_util.h"

namespace ebm::nn {
namespace {

using test::expect_error;

class Block : public Module {
 public:
  explicit Block(Generator& gen) : Module("Block") {
    scale = register_parameter("scale", Tensor::ones(Shape{4}));
    conv = register_module("conv", std::make_shared<Conv2d>(
                                       Conv2dOptions{.in_channels = 2, .out_channels = 4}, gen));
    stats = register_buffer("stats", Tensor::zeros(Shape{4}));
    scratch = register_buffer("scratch", Tensor::zeros(Shape{1}), /*persistent=*/false);
  }
  Tensor* scale;
  Tensor* stats;
  Tensor* scratch;
  std::shared_ptr<Conv2d> conv;
};

class Net : public Module {
 public:
  explicit Net(Generator& gen) : Module("Net") {
    head = register_parameter("head", Tensor::zeros(Shape{3}));
    for (int i = 0; i < 2; ++i)
      blocks.push_back(register_module("block" + std::to_string(i), std::make_shared<Block>(gen)));
  }
  Tensor* head;
  std::vector<std::shared_ptr<Block>> blocks;
};

std::vector<std::string> names(const NamedTensors& ts) {
  std::vector<std::string> out;
  for (const auto& [n, t] : ts) out.push_back(n);
  return out;
}

TEST(NnModule, NamesFollowRegistrationOrderDepthFirst) {
  Generator gen(1);
  Net net(gen);
  std::vector<std::string> expected_params = {"head",        "block0.scale", "block0.conv.weight",
                                              "block0.conv.bias", "block1.scale",
                                              "block1.conv.weight", "block1.conv.bias"};
  EXPECT_EQ(names(net.named_parameters()), expected_params);
  // state_dict: a module's parameters, then its persistent buffers, then its children.
  std::vector<std::string> expected_state = {
      "head",         "block0.scale",     "block0.stats",       "block0.conv.weight",
      "block0.conv.bias", "block1.scale", "block1.stats", "block1.conv.weight", "block1.conv.bias"};
  EXPECT_EQ(names(net.state_dict()), expected_state);
  EXPECT_EQ(net.named_buffers().size(), 4u);  // non-persistent buffers are still buffers
  EXPECT_EQ(net.num_parameters(), 3 + 2 * (4 + 4 * 2 * 9 + 4));
  for (const auto& [n, t] : net.named_parameters()) EXPECT_TRUE(t.requires_grad()) << n;
}

TEST(NnModule, SlotsAreStableAndShareTheStateDictStorage) {
  Generator gen(2);
  Net net(gen);
  Tensor* head = net.head;
  for (int i = 0; i < 3; ++i) net.blocks[0]->conv->forward(Tensor::zeros(Shape{1, 2, 5, 5}));
  EXPECT_EQ(head, net.head);
  StateDict sd = net.state_dict();
  EXPECT_TRUE(sd[0].second.shares_storage_with(*net.head));
  EXPECT_FALSE(sd[0].second.requires_grad());  // detached
}

TEST(NnModule, TrainEvalReachEveryModule) {
  Generator gen(3);
  Net net(gen);
  EXPECT_TRUE(net.blocks[1]->conv->is_training());
  net.eval();
  for (auto& [n, m] : net.named_modules()) EXPECT_FALSE(m->is_training()) << n;
  net.train();
  for (auto& [n, m] : net.named_modules()) EXPECT_TRUE(m->is_training()) << n;
  EXPECT_EQ(net.named_modules().size(), 5u);
  EXPECT_EQ(net.named_modules()[2].first, "block0.conv");
}

TEST(NnModule, StateDictRoundTripCopiesValuesInPlace) {
  Generator g1(4), g2(5);
  Net a(g1), b(g2);
  Tensor before = *b.blocks[1]->conv->bias();
  EXPECT_NE(a.blocks[1]->conv->bias()->to_vector<float>(), before.to_vector<float>());
  LoadResult r = b.load_state_dict(a.state_dict());
  EXPECT_TRUE(r.missing.empty() && r.unexpected.empty());
  for (size_t i = 0; i < a.state_dict().size(); ++i)
    EXPECT_EQ(a.state_dict()[i].second.to_vector<float>(), b.state_dict()[i].second.to_vector<float>());
  EXPECT_TRUE(b.blocks[1]->conv->bias()->same(before));  // same tensor, new values
}

TEST(NnModule, LoadStateDictNamesEveryProblem) {
  Generator g(6);
  Net net(g);
  StateDict sd = net.state_dict();
  StateDict missing(sd.begin() + 1, sd.end());
  expect_error<ValueError>([&] { net.load_state_dict(missing); }, {"missing: head"});
  LoadResult r = net.load_state_dict(missing, /*strict=*/false);
  EXPECT_EQ(r.missing, std::vector<std::string>{"head"});

  StateDict extra = sd;
  extra.emplace_back("block9.w", Tensor::zeros(Shape{1}));
  expect_error<ValueError>([&] { net.load_state_dict(extra); }, {"unexpected: block9.w"});
  EXPECT_EQ(net.load_state_dict(extra, false).unexpected, std::vector<std::string>{"block9.w"});

  StateDict bad_shape = sd;
  bad_shape[2].second = Tensor::zeros(Shape{5});
  expect_error<ValueError>([&] { net.load_state_dict(bad_shape, false); },
                           {"size mismatch for block0.stats", "[5]", "[4]"});
  StateDict bad_dtype = sd;
  bad_dtype[0].second = Tensor::zeros(Shape{3}, DType::Float64);
  expect_error<ValueError>([&] { net.load_state_dict(bad_dtype); },
                           {"dtype mismatch for head", "float64", "float32"});
  StateDict dup = sd;
  dup.push_back(sd[0]);
  expect_error<ValueError>([&] { net.load_state_dict(dup); }, {"'head' appears twice"});
}

TEST(NnModule, RegistrationErrors) {
  class Bad : public Module {
   public:
    Bad() : Module("Bad") {}
    void twice() {
      register_parameter("w", Tensor::zeros(Shape{1}));
      register_buffer("w", Tensor::zeros(Shape{1}));
    }
    void dotted() { register_parameter("a.b", Tensor::zeros(Shape{1})); }
    void integer() { register_parameter("i", Tensor::zeros(Shape{1}, DType::Int64)); }
  };
  Bad bad;
  expect_error<ValueError>([&] { bad.twice(); }, {"Bad", "'w' is already registered"});
  expect_error<ValueError>([&] { bad.dotted(); }, {"invalid member name 'a.b'"});
  expect_error<DTypeError>([&] { bad.integer(); }, {"register_parameter"});
}

TEST(NnModule, ZeroGradDropsGradients) {
  Generator g(7);
  Net net(g);
  Tensor y = net.blocks[0]->conv->forward(test::randn(Shape{1, 2, 4, 4}, DType::Float32));
  backward(sum(y));
  EXPECT_TRUE(net.blocks[0]->conv->raw_weight().grad().defined());
  net.zero_grad();
  EXPECT_FALSE(net.blocks[0]->conv->raw_weight().grad().defined());
}

}  // namespace
}  // namespace ebm::nn
