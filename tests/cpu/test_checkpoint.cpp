// Checkpoints: sections and metadata round-trip bit for bit; models load with every mismatch
// named; files that are not our checkpoints fail naming the file and field.
#include <gtest/gtest.h>

#include <filesystem>

#include "nn/checkpoint.h"
#include "nn/layers.h"
#include "test_util.h"

namespace ebm::nn {
namespace {

using test::expect_error;

std::string temp_path(const std::string& tag) {
  return (std::filesystem::temp_directory_path() /
          ("ebm_ckpt_" + tag + "_" + std::to_string(test::rng()()) + ".safetensors"))
      .string();
}

TEST(Checkpoint, SectionsMetadataAndModelRoundTripExactly) {
  Generator gen(31);
  Conv2d conv({.in_channels = 2, .out_channels = 3, .spectral_norm = {.enabled = true}}, gen);
  Checkpoint c;
  c.step = 1234;
  c.config.set("dataset", "fashion-mnist");
  c.config.set("step_lr", 10.0);
  c.rng["sampler"] = {0xFFFFFFFFFFFFFFF1ull, 4096};
  c.set_model(conv.state_dict());
  c.set_section("ema", conv.state_dict());
  c.set_section("buffer", {{"images", test::randn(Shape{4, 1, 2, 2}, DType::Float32)},
                           {"meta", Tensor::from_vector(std::vector<int64_t>{3, 1}, Shape{2})}});
  std::string path = temp_path("rt");
  c.save(path);
  Checkpoint d = Checkpoint::load(path);
  EXPECT_EQ(d.step, 1234);
  EXPECT_EQ(d.config.at("dataset").as_string(), "fashion-mnist");
  EXPECT_EQ(d.config.at("step_lr").as_double(), 10.0);
  EXPECT_EQ(d.rng.at("sampler"), (Generator::State{0xFFFFFFFFFFFFFFF1ull, 4096}));
  ASSERT_EQ(d.model().size(), 4u);
  EXPECT_TRUE(d.has_section("buffer"));
  EXPECT_FALSE(d.has_section("optim"));
  for (const std::string sec : {"", "ema", "buffer"}) {
    NamedTensors a = c.section(sec), b = d.section(sec);
    ASSERT_EQ(a.size(), b.size()) << sec;
    for (const auto& [name, t] : a) {
      auto it = std::find_if(b.begin(), b.end(), [&](const auto& e) { return e.first == name; });
      ASSERT_NE(it, b.end()) << name;
      EXPECT_EQ(it->second.dtype(), t.dtype());
      EXPECT_EQ(it->second.to_vector<double>(), t.to_vector<double>()) << sec << "/" << name;
    }
  }
  Generator other(99);
  Conv2d fresh({.in_channels = 2, .out_channels = 3, .spectral_norm = {.enabled = true}}, other);
  load_model_from_checkpoint(fresh, d, path);
  EXPECT_EQ(fresh.raw_weight().to_vector<float>(), conv.raw_weight().to_vector<float>());
  EXPECT_EQ(fresh.spectral_norm()->u().to_vector<float>(), conv.spectral_norm()->u().to_vector<float>());

  Conv2d wider({.in_channels = 2, .out_channels = 4, .spectral_norm = {.enabled = true}}, other);
  expect_error<Error>([&] { load_model_from_checkpoint(wider, d, path); }, {path, "weight_orig"});
  Conv2d plain({.in_channels = 2, .out_channels = 3}, other);
  expect_error<Error>([&] { load_model_from_checkpoint(plain, d, path); }, {path, "weight"});
  std::filesystem::remove(path);
}

TEST(Checkpoint, ForeignOrDamagedFilesAreNamedErrors) {
  std::string path = temp_path("foreign");
  write_safetensors(path, {{"w", Tensor::zeros(Shape{2})}});
  expect_error<IOError>([&] { Checkpoint::load(path); }, {path, "no 'format'"});
  write_safetensors(path, {{"w", Tensor::zeros(Shape{2})}},
                    {{"format", Checkpoint::kFormat}, {"step", "12x"}, {"config", "{}"}, {"rng", "{}"}});
  expect_error<IOError>([&] { Checkpoint::load(path); }, {path, "malformed metadata"});
  write_safetensors(path, {}, {{"format", "other.v9"}});
  expect_error<IOError>([&] { Checkpoint::load(path); }, {path, "format 'other.v9'"});
  Checkpoint c;
  expect_error<ValueError>([&] { c.set_section("a/b", {}); }, {"must not contain '/'"});
  expect_error<ValueError>([&] { c.set_model({{"x/y", Tensor::zeros(Shape{1})}}); }, {"x/y"});
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace ebm::nn
