// Datasets and batches: loading each format into NCHW bytes (padding, crop/resize), errors that
// name the directory or file, the seeded resumable shuffle and the pixel transforms.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <set>

#include "core/io/jpeg.h"
#include "core/io/png.h"
#include "data/batches.h"
#include "data/dataset.h"
#include "test_util.h"

namespace ebm::data {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

fs::path temp_dir(const std::string& tag) {
  fs::path p = fs::temp_directory_path() / ("ebm_datasets_" + tag + "_" + std::to_string(test::rng()()));
  fs::create_directories(p);
  return p;
}

TEST(Datasets, CifarDirectoryLoadsEveryTrainingBatch) {
  fs::path dir = temp_dir("cifar");
  for (int b = 1; b <= 5; ++b) {
    std::ofstream f(dir / ("data_batch_" + std::to_string(b) + ".bin"), std::ios::binary);
    for (int r = 0; r < 2; ++r) {
      f.put(static_cast<char>(b));
      for (int p = 0; p < 3072; ++p) f.put(static_cast<char>(b * 10 + r));
    }
  }
  Dataset d = load_dataset({.name = "cifar10", .dir = dir.string()});
  EXPECT_EQ(d.count, 10);
  EXPECT_EQ(d.channels, 3);
  EXPECT_EQ(d.num_classes, 10);
  EXPECT_EQ(d.labels[9], 5);
  EXPECT_EQ(d.pixels[9 * 3072], 51);
  expect_error<IOError>([&] { load_dataset({.name = "cifar10", .dir = dir.string(), .train = false}); },
                        {"cifar10", "test_batch.bin", dir.string()});
  fs::remove_all(dir);
  expect_error<IOError>([&] { load_dataset({.name = "cifar10", .dir = dir.string()}); },
                        {"data directory", dir.string(), "--data-dir"});
  expect_error<ValueError>([&] { load_dataset({.name = "svhn"}); },
                           {"unknown dataset 'svhn'", "fashion-mnist"});
}

TEST(Datasets, IdxLabelsOutOfRangeAndCountMismatchNameTheFile) {
  fs::path dir = temp_dir("idx");
  auto write = [&](const std::string& name, std::vector<uint8_t> bytes) {
    std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<char*>(bytes.data()), bytes.size());
  };
  std::vector<uint8_t> images = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4, 5, 6, 7, 8};
  write("train-images-idx3-ubyte", images);
  write("train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 2, 3, 12});
  test::expect_error<IOError>([&] { load_dataset({.name = "mnist", .dir = dir.string()}); },
                              {"train-labels-idx1-ubyte", "label 12 at index 1", "0..9"});
  write("train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 3, 3, 1, 2});
  test::expect_error<IOError>([&] { load_dataset({.name = "mnist", .dir = dir.string()}); },
                              {"holds 2 images but", "holds 3 labels"});
  write("train-labels-idx1-ubyte", {0, 0, 8, 1, 0, 0, 0, 2, 3, 1});
  Dataset d = load_dataset({.name = "mnist", .dir = dir.string()});
  EXPECT_EQ(d.labels, (std::vector<int64_t>{3, 1}));
  fs::remove_all(dir);
}

TEST(Datasets, FashionMnistPaddedTo32WhenInstalled) {
  if (!fs::exists(default_dataset_dir("fashion-mnist")))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install-deps.sh --data)";
  Dataset d = load_dataset({.name = "fashion-mnist", .train = false, .image_size = 32, .limit = 50});
  EXPECT_EQ(d.count, 50);
  EXPECT_EQ(d.height, 32);
  EXPECT_EQ(d.labels.size(), 50u);
  Dataset raw = load_dataset({.name = "fashion-mnist", .train = false, .limit = 50});
  EXPECT_EQ(raw.height, 28);
  for (int64_t y = 0; y < 28; ++y)
    for (int64_t x = 0; x < 28; ++x)
      ASSERT_EQ(d.pixels[(y + 2) * 32 + x + 2], raw.pixels[y * 28 + x]);
  EXPECT_EQ(d.pixels[0], 0);  // the border is zero
  expect_error<ValueError>(
      [&] { load_dataset({.name = "fashion-mnist", .train = false, .image_size = 31, .limit = 1}); },
      {"cannot bring them to 31x31"});
}

TEST(Datasets, FolderImagesAreCroppedAndResized) {
  fs::path dir = temp_dir("folder");
  // 8 wide × 4 high: the centre 4×4 square (columns 2..5) is kept, then halved to 2×2.
  io::Image8 im{4, 8, 3, {}};
  for (int y = 0; y < 4; ++y)
    for (int x = 0; x < 8; ++x)
      for (int c = 0; c < 3; ++c) im.data.push_back(static_cast<uint8_t>(x * 10 + c));
  io::write_png((dir / "b.png").string(), im);
  fs::create_directories(dir / "sub");
  io::write_png((dir / "sub" / "a.png").string(), io::Image8{2, 2, 1, {0, 100, 200, 255}});
  std::ofstream(dir / "notes.txt") << "ignored";
  {
    std::vector<uint8_t> jpg = io::encode_jpeg(io::Image8{4, 4, 3, std::vector<uint8_t>(48, 90)}, 100);
    std::ofstream(dir / "sub" / "c.JPG", std::ios::binary).write(reinterpret_cast<char*>(jpg.data()), jpg.size());
  }
  Dataset d = load_dataset({.name = "folder", .dir = dir.string(), .image_size = 2});
  ASSERT_EQ(d.count, 3);
  for (int k = 0; k < 12; ++k) EXPECT_NEAR(d.pixels[24 + k], 90, 2);  // sub/c.JPG, flat
  EXPECT_EQ(d.num_classes, 0);
  // b.png (sorted first): red channel averages x = 2,3 → 25 and x = 4,5 → 45.
  EXPECT_EQ(d.pixels[0], 25);
  EXPECT_EQ(d.pixels[1], 45);
  EXPECT_EQ(d.pixels[4 + 1], 46);  // green = red + 1
  // sub/a.png: gray replicated into RGB.
  EXPECT_EQ(d.pixels[12 + 3], 255);
  EXPECT_EQ(d.pixels[12 + 4 + 3], 255);
  std::ofstream(dir / "broken.png") << "not a png";
  expect_error<IOError>([&] { load_dataset({.name = "folder", .dir = dir.string(), .image_size = 2}); },
                        {"broken.png", "not a PNG"});
  fs::remove_all(dir);
}

TEST(Batches, PermutationsAreValidSeededAndDifferPerEpoch) {
  auto p = epoch_permutation(1000, 7, 0);
  std::set<int64_t> s(p.begin(), p.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.rbegin(), 999);
  EXPECT_EQ(p, epoch_permutation(1000, 7, 0));
  EXPECT_NE(p, epoch_permutation(1000, 7, 1));
  EXPECT_NE(p, epoch_permutation(1000, 8, 0));
}

TEST(Batches, SamplerDropsTheLastPartialBatchAndResumesExactly) {
  EpochSampler a(10, 4, 3);
  EXPECT_EQ(a.batches_per_epoch(), 2);
  std::vector<std::vector<int64_t>> seq;
  for (int i = 0; i < 3; ++i) seq.push_back(a.next());
  EXPECT_EQ(a.state().epoch, 1);  // the third batch opened epoch 1
  auto p0 = epoch_permutation(10, 3, 0);
  EXPECT_EQ(seq[1], std::vector<int64_t>(p0.begin() + 4, p0.begin() + 8));
  EpochSampler::State st = a.state();
  auto cont = a.next();
  EpochSampler b(10, 4, 999);
  b.set_state(st);
  EXPECT_EQ(b.next(), cont);
  expect_error<ValueError>([] { EpochSampler(3, 4, 0); }, {"batch size (4)", "1..3"});
}

TEST(Batches, TransformsScaleFlipAndDequantise) {
  Dataset d;
  d.count = 2;
  d.channels = 1;
  d.height = 1;
  d.width = 3;
  d.pixels = {0, 128, 255, 10, 20, 30};
  d.labels = {4, 7};
  d.num_classes = 10;
  Batch sym = make_batch(d, {1, 0}, {.scale = PixelScale::Symmetric}, 1, 0, Device::cpu());
  EXPECT_EQ(sym.images.to_vector<float>(),
            (std::vector<float>{10 / 127.5f - 1, 20 / 127.5f - 1, 30 / 127.5f - 1, -1,
                                128 / 127.5f - 1, 1}));
  EXPECT_EQ(sym.labels.to_vector<int64_t>(), (std::vector<int64_t>{7, 4}));
  Batch q = make_batch(d, {0, 1}, {}, 1, 0, Device::cpu());
  auto v = q.images.to_vector<float>();
  for (int i = 0; i < 6; ++i) {
    EXPECT_GT(v[i], d.pixels[i] / 256.0f);
    EXPECT_LE(v[i], (d.pixels[i] + 1) / 256.0f);
  }
  EXPECT_EQ(v, make_batch(d, {0, 1}, {}, 1, 0, Device::cpu()).images.to_vector<float>());
  EXPECT_NE(v, make_batch(d, {0, 1}, {}, 1, 1, Device::cpu()).images.to_vector<float>());
  int flipped = 0;
  for (uint64_t c = 0; c < 64; ++c) {
    auto f = make_batch(d, {0}, {.scale = PixelScale::Unit255, .random_flip = true}, 5, c,
                        Device::cpu()).images.to_vector<float>();
    ASSERT_TRUE(f == (std::vector<float>{0, 128 / 255.f, 1}) || f == (std::vector<float>{1, 128 / 255.f, 0}));
    flipped += f[0] == 1;
  }
  EXPECT_GT(flipped, 16);
  EXPECT_LT(flipped, 48);
  expect_error<ValueError>([&] { make_batch(d, {2}, {}, 0, 0, Device::cpu()); },
                           {"index 2 at position 0", "2 images"});
}

}  // namespace
}  // namespace ebm::data
