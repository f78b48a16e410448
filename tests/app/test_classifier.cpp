// classifier_train and the classifier feature network (eval/classifier_features.h): a tiny WRN
// learns a synthetic 4-class MNIST-format set in seconds and writes classifier.safetensors, which
// loads as a FeatureNetwork whose logits are the trained model's and whose 28×28 and padded
// 32×32 inputs agree; flags and bad files are refused with clear errors. The real Fashion-MNIST
// classifier committed under tests/data/eval/ is checked for its recorded accuracy (and, where
// Debian's Fashion-MNIST is installed, for its accuracy on the first test images).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "app_test_util.h"
#include "apps/classifier/classifier_trainer.h"
#include "core/io/sha256.h"
#include "data/batches.h"
#include "eval/classifier_features.h"
#include "nn/checkpoint.h"
#include "synthetic_idx.h"
#include "test_util.h"

namespace ebm::app {
namespace {

namespace fs = std::filesystem;

std::string temp_dir(const std::string& tag) { return test::temp_path("ebm_classifier_" + tag); }

ClassifierConfig tiny(const std::string& data, const std::string& out) {
  ClassifierConfig c;
  c.dataset = "mnist";
  c.data_dir = data;
  c.base_width = 4;
  c.widen_factor = 1;
  c.depth = 10;
  c.epochs = 10;  // 40 updates: batch-norm running statistics (momentum 0.1) settle for eval mode
  c.batch_size = 16;
  c.lr = 0.05;
  c.warmup = 2;
  c.random_flip = false;
  c.log_every = 4;
  c.out = out;
  return c;
}

int64_t argmax_row(const std::vector<float>& l, int64_t i, int64_t k) {
  int64_t best = 0;
  for (int64_t c = 1; c < k; ++c)
    if (l[i * k + c] > l[i * k + best]) best = c;
  return best;
}

TEST(ClassifierApp, TrainsAndLoadsAsFeatureNetwork) {
  std::string data = test::make_synthetic_idx(temp_dir("data"), 64, 32), out = temp_dir("run");
  ClassifierOutcome r = train_classifier(tiny(data, out));
  EXPECT_FALSE(r.diverged);
  EXPECT_EQ(r.last_step, 40);  // 10 epochs of 64/16
  EXPECT_GE(r.test_accuracy, 0.9) << "the synthetic classes are trivially separable";
  ASSERT_TRUE(fs::exists(out + "/classifier.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/checkpoints/latest.safetensors"));
  EXPECT_TRUE(fs::exists(out + "/metrics.jsonl"));

  auto net = eval::ClassifierFeatures::from_file(out + "/classifier.safetensors");
  EXPECT_EQ(net->feature_dim(), 16);  // 4·b·k
  EXPECT_EQ(net->num_classes(), 10);  // MNIST-format data: 10 classes (4 used here)
  EXPECT_EQ(net->name(), "classifier-wrn");
  EXPECT_EQ(net->weights_sha256(), io::sha256_file_hex(out + "/classifier.safetensors"));
  EXPECT_NE(net->description().find("WRN-10-1"), std::string::npos) << net->description();
  EXPECT_NE(net->description().find("test accuracy"), std::string::npos) << net->description();
  EXPECT_NEAR(net->info().at("test_accuracy").as_double(), r.test_accuracy, 1e-12);

  // The file's logits classify the test split as well as the run reported.
  data::DatasetOptions o;
  o.name = "mnist";
  o.dir = data;
  o.train = false;
  data::Dataset test28 = data::load_dataset(o);
  o.image_size = 32;
  data::Dataset test32 = data::load_dataset(o);
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < test28.count; ++i) idx.push_back(i);
  data::BatchTransform t;
  t.scale = data::PixelScale::Unit255;
  Tensor x28 = data::make_batch(test28, idx, t, 0, 0, Device::cpu()).images;
  Tensor x32 = data::make_batch(test32, idx, t, 0, 0, Device::cpu()).images;
  eval::FeatureOutputs a = net->forward(x28, true), b = net->forward(x32, true);
  ASSERT_EQ(a.features.shape(), (Shape{test28.count, 16}));
  ASSERT_EQ(a.logits.shape(), (Shape{test28.count, 10}));
  EXPECT_EQ(a.features.to_vector<float>(), b.features.to_vector<float>()) << "28x28 is padded exactly as the data";
  std::vector<float> l = a.logits.to_vector<float>();
  int64_t correct = 0;
  for (int64_t i = 0; i < test28.count; ++i) correct += argmax_row(l, i, 10) == test28.labels[i];
  EXPECT_NEAR(static_cast<double>(correct) / test28.count, r.test_accuracy, 1e-12);
  EXPECT_FALSE(net->forward(x28, false).logits.defined());
  test::expect_error<ShapeError>([&] { net->features(Tensor::zeros(Shape{2, 3, 32, 32})); },
                                 {"classifier features", "[N, 1, 32, 32]"});
  fs::remove_all(out);
  fs::remove_all(data);
}

TEST(ClassifierApp, RefusesBadFlagsAndFiles) {
  auto parse = [](std::vector<const char*> args) {
    ClassifierConfig c;
    Flags f("classifier_train", "test");
    c.declare(f);
    args.insert(args.begin(), "classifier_train");
    f.parse(static_cast<int>(args.size()), args.data());
    c.finalize(f);
    return c;
  };
  test::expect_error<UsageError>([&] { parse({"--depth", "12"}); }, {"--depth", "6n+4"});
  test::expect_error<UsageError>([&] { parse({"--epochs", "0"}); }, {"--epochs"});
  test::expect_error<UsageError>([&] { parse({"--momentum", "1"}); }, {"--momentum"});
  test::expect_error<UsageError>([&] { parse({"--widen", "2"}); }, {"unknown flag --widen"});
  EXPECT_EQ(parse({"--resume", "x"}).out, "x");
  // A checkpoint that is not a classifier file.
  std::string dir = temp_dir("bad");
  fs::create_directories(dir);
  nn::Checkpoint c;
  c.config.set("app", "igebm_train");
  c.save(dir + "/x.safetensors");
  test::expect_error<ValueError>([&] { eval::ClassifierFeatures::from_file(dir + "/x.safetensors"); },
                                 {dir + "/x.safetensors", "ebm.classifier.v1"});
  test::expect_error<IOError>([&] { eval::ClassifierFeatures::from_file(dir + "/missing.safetensors"); },
                              {"missing.safetensors"});
  fs::remove_all(dir);
}

// The committed classifier of the README's documented command.
TEST(ClassifierApp, CommittedFashionMnistClassifier) {
  const std::string path = std::string(EBM_TEST_DATA_DIR) + "/eval/classifier_fashion_mnist.safetensors";
  if (!fs::exists(path)) GTEST_SKIP() << "no " << path;
  auto net = eval::ClassifierFeatures::from_file(path);
  EXPECT_GE(net->info().at("test_accuracy").as_double(), 0.92);
  EXPECT_EQ(net->info().at("test_images").as_int(), 10000);
  EXPECT_EQ(net->info().at("dataset").as_string(), "fashion-mnist");
  EXPECT_EQ(net->num_classes(), 10);
  const std::string dir = data::default_dataset_dir("fashion-mnist");
  if (!fs::exists(dir + "/t10k-images-idx3-ubyte.gz") && !fs::exists(dir + "/t10k-images-idx3-ubyte"))
    GTEST_SKIP() << "Fashion-MNIST not installed in " << dir << " (scripts/install-deps.sh --data)";
  data::DatasetOptions o;
  o.name = "fashion-mnist";
  o.train = false;
  o.limit = 1000;
  data::Dataset d = data::load_dataset(o);
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < d.count; ++i) idx.push_back(i);
  data::BatchTransform t;
  t.scale = data::PixelScale::Unit255;
  std::vector<float> l = net->logits(data::make_batch(d, idx, t, 0, 0, Device::cpu()).images).to_vector<float>();
  int64_t correct = 0;
  for (int64_t i = 0; i < d.count; ++i) correct += argmax_row(l, i, 10) == d.labels[i];
  EXPECT_GE(static_cast<double>(correct) / d.count, 0.9);
}

}  // namespace
}  // namespace ebm::app
