// The FID Inception network (eval/inception.h) against the PyTorch replica of pytorch-fid's
// architecture (tests/reference/fid_inception.py): the full-size state_dict names and shapes equal
// the replica's (tests/data/eval/fid_inception_names.json), and a width/16 network with random
// weights matches the replica's outputs at every checked block on a batch of CIFAR-sized images
// resized to 299 (float32 within 1e-4 relative; float64 to rounding). Plus the FeatureNetwork
// contract, grayscale input, the weight loader's checks and the SHA-256 record.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "autograd/ops.h"
#include "core/io/json.h"
#include "core/io/safetensors.h"
#include "core/io/sha256.h"
#include "eval/inception.h"
#include "test_util.h"

namespace ebm {
namespace {

const std::string kDir = std::string(EBM_TEST_DATA_DIR) + "/eval/";
const std::string kWeights = kDir + "fid_inception_div16_weights.safetensors";

eval::InceptionOptions small_options(DType dt = DType::Float32) {
  eval::InceptionOptions o;
  o.width_divisor = 16;
  o.dtype = dt;
  return o;
}

// max |a - b| / max |b|: the error relative to the tensor's scale (elementwise relative errors
// are meaningless for ReLU outputs that are exactly 0 in one and 1e-9 in the other).
double scaled_error(const Tensor& a, const Tensor& b) {
  auto va = a.to_vector<double>(), vb = b.to_vector<double>();
  EXPECT_EQ(va.size(), vb.size());
  double err = 0, scale = 0;
  for (size_t i = 0; i < va.size(); ++i) {
    err = std::max(err, std::fabs(va[i] - vb[i]));
    scale = std::max(scale, std::fabs(vb[i]));
  }
  return std::isnan(err) ? INFINITY : err / scale;
}

TEST(Inception, FullSizeStateDictMatchesPytorchFid) {
  std::ifstream f(kDir + "fid_inception_names.json");
  ASSERT_TRUE(f) << "missing " << kDir << "fid_inception_names.json";
  std::stringstream ss;
  ss << f.rdbuf();
  const json::Value names = json::parse(ss.str());
  eval::FidInceptionV3 net;  // the real network: 1008 classes, full width
  const auto sd = net.state_dict();
  const auto& want = names.at("state_dict").as_array();
  ASSERT_EQ(sd.size(), want.size());
  for (size_t i = 0; i < sd.size(); ++i) {
    const auto& e = want[i].as_array();
    EXPECT_EQ(sd[i].first, e[0].as_string()) << "entry " << i;
    std::vector<int64_t> shape;
    for (const auto& d : e[1].as_array()) shape.push_back(d.as_int());
    EXPECT_EQ(sd[i].second.shape(), Shape(shape)) << sd[i].first;
  }
  EXPECT_EQ(net.num_parameters(), names.at("num_parameters").as_int());
  EXPECT_EQ(net.feature_dim(), 2048);
  EXPECT_EQ(net.num_classes(), 1008);
}

void check_golden(DType dt, double tol_blocks, double tol_out) {
  auto net = eval::FidInceptionV3::from_file(kWeights, small_options(dt));
  const SafetensorsFile g = read_safetensors(kDir + "fid_inception_div16_golden.safetensors");
  const auto blocks = net->forward_blocks(g.at("x"));
  int checked = 0;
  for (const auto& [name, t] : blocks) {
    const Tensor* want = g.find(name);
    if (!want) continue;
    ++checked;
    const double tol = (name == "pool3" || name == "logits") ? tol_out : tol_blocks;
    EXPECT_EQ(t.shape(), want->shape()) << name;
    const double err = scaled_error(t, *want);
    EXPECT_LE(err, tol) << name;
    std::printf("  %s %-8s max |error| / max |value| = %.2e\n", dtype_name(dt), name.c_str(), err);
  }
  EXPECT_EQ(checked, 5);
}

TEST(Inception, RandomWeightsMatchPyTorchReplicaFloat32) {
  // 94 convs deep in float32 against a float64 reference: 1e-4 relative, the bound.
  check_golden(DType::Float32, 1e-4, 1e-4);
}

TEST(Inception, RandomWeightsMatchPyTorchReplicaFloat64) {
  // Same float32 weights in a float64 network: the blocks are stored rounded to float32 (2^-24
  // relative), pool3 and logits in float64.
  check_golden(DType::Float64, 1e-6, 1e-10);
}

TEST(Inception, FeatureNetworkContract) {
  auto net = eval::FidInceptionV3::from_file(kWeights, small_options());
  eval::FeatureNetwork& fnet = *net;
  Tensor x = test::uniform({3, 3, 20, 24}, 0, 1, DType::Float32);
  eval::FeatureOutputs both = fnet.forward(x, true);
  EXPECT_EQ(both.features.shape(), Shape({3, 128}));
  EXPECT_EQ(both.logits.shape(), Shape({3, 1008}));
  EXPECT_FALSE(fnet.forward(x, false).logits.defined());
  EXPECT_TENSOR_NEAR(fnet.features(x), both.features, 0, 0);
  EXPECT_TENSOR_NEAR(fnet.logits(x), both.logits, 0, 0);
  const auto blocks = net->forward_blocks(x);
  EXPECT_TENSOR_NEAR(blocks.at(4).second, both.features, 0, 0);  // "pool3"
  EXPECT_EQ(blocks.at(4).first, "pool3");
  EXPECT_FALSE(both.features.requires_grad());
  EXPECT_EQ(fnet.name(), "pytorch-fid-inception-v3");
  EXPECT_EQ(fnet.weights_sha256(), io::sha256_file_hex(kWeights));
  EXPECT_EQ(fnet.weights_sha256().size(), 64u);
  EXPECT_NE(fnet.description().find("pool3"), std::string::npos);
  EXPECT_NE(fnet.preprocessing().find("299x299"), std::string::npos);
  EXPECT_NE(fnet.preprocessing().find("align_corners=False"), std::string::npos);
  EXPECT_TRUE(fnet.device().is_cpu());
  EXPECT_EQ(eval::FidInceptionV3(small_options()).weights_sha256(), "");
}

TEST(Inception, GrayscaleIsRepeatedToRgb) {
  auto net = eval::FidInceptionV3::from_file(kWeights, small_options());
  Tensor g = test::uniform({2, 1, 28, 28}, 0, 1, DType::Float32);
  Tensor rgb = concat({g, g, g}, 1);
  EXPECT_TENSOR_NEAR(net->features(g), net->features(rgb), 0, 0);
  test::expect_error<ShapeError>([&] { net->features(test::uniform({1, 2, 28, 28}, 0, 1)); },
                                 {"FidInceptionV3", "1 or 3"});
}

TEST(Inception, WithoutResizeNeeds75Pixels) {
  eval::InceptionOptions o = small_options();
  o.resize_input = false;
  eval::FidInceptionV3 net(o);
  test::expect_error<ShapeError>([&] { net.features(test::uniform({1, 3, 64, 64}, 0, 1)); },
                                 {"75x75"});
  EXPECT_EQ(net.features(test::uniform({1, 3, 75, 80}, 0, 1, DType::Float32)).shape(),
            Shape({1, 128}));
  // With the same weights, a 299x299 input needs no resize: both paths agree.
  auto resized = eval::FidInceptionV3::from_file(kWeights, small_options());
  net.load_weights(kWeights);
  Tensor x = test::uniform({1, 3, 299, 299}, 0, 1, DType::Float32);
  EXPECT_TENSOR_NEAR(net.features(x), resized->features(x), 0, 0);
}

TEST(Inception, LoaderChecksNamesShapesAndTakesFilesWithoutStepCounters) {
  const SafetensorsFile w = read_safetensors(kWeights);
  const std::string path = ::testing::TempDir() + "inception_variant.safetensors";
  // Without num_batches_tracked (the converter drops them): loads, same outputs.
  NamedTensors no_nbt;
  for (const auto& [n, t] : w.tensors)
    if (n.find("num_batches_tracked") == std::string::npos) no_nbt.emplace_back(n, t);
  write_safetensors(path, no_nbt);
  auto a = eval::FidInceptionV3::from_file(path, small_options());
  auto b = eval::FidInceptionV3::from_file(kWeights, small_options());
  Tensor x = test::uniform({1, 3, 16, 16}, 0, 1, DType::Float32);
  EXPECT_TENSOR_NEAR(a->features(x), b->features(x), 0, 0);
  EXPECT_NE(a->weights_sha256(), b->weights_sha256());
  // A missing tensor, an unexpected one, and a wrong shape are each named.
  NamedTensors broken;
  for (const auto& [n, t] : no_nbt) {
    if (n == "Mixed_6b.branch7x7_2.conv.weight") continue;
    broken.emplace_back(n == "fc.bias" ? "fc.bias_typo" : n,
                        n == "Mixed_7c.branch_pool.bn.running_var" ? Tensor::ones({3}) : t);
  }
  write_safetensors(path, broken);
  eval::FidInceptionV3 net(small_options());
  test::expect_error<Error>([&] { net.load_weights(path); },
                            {"Mixed_6b.branch7x7_2.conv.weight", "fc.bias_typo", "fc.bias",
                             "Mixed_7c.branch_pool.bn.running_var"});
  // The real network refuses the small file.
  eval::FidInceptionV3 full;
  test::expect_error<Error>([&] { full.load_weights(kWeights); }, {"Conv2d_1a_3x3.conv.weight"});
}

TEST(Inception, OptionErrors) {
  eval::InceptionOptions o;
  o.width_divisor = 3;
  test::expect_error<ValueError>([&] { eval::FidInceptionV3 n(o); }, {"width_divisor"});
  o.width_divisor = 1;
  o.num_classes = 0;
  test::expect_error<ValueError>([&] { eval::FidInceptionV3 n(o); }, {"num_classes"});
}

}  // namespace
}  // namespace ebm
