// IDX and CIFAR binary readers on synthesized files (plain and gzip), the real Fashion-MNIST
// files when Debian's dataset-fashion-mnist is installed, and every malformed-file error.
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "core/io/cifar.h"
#include "core/io/idx.h"
#include "test_util.h"

namespace ebm::io {
namespace {

namespace fs = std::filesystem;
using test::expect_error;

class DatasetFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("ebm_dataset_files_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  void write(const std::string& name, const std::vector<uint8_t>& bytes, bool gz = false) {
    if (gz) {
      gzFile f = gzopen(path(name).c_str(), "wb");
      ASSERT_NE(f, nullptr);
      ASSERT_EQ(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())), int(bytes.size()));
      gzclose(f);
    } else {
      std::ofstream(path(name), std::ios::binary)
          .write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
  }
  fs::path dir_;
};

std::vector<uint8_t> idx_file(std::vector<uint32_t> dims, uint8_t type = 0x08) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  size_t n = 1;
  for (uint32_t d : dims) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
    n *= d;
  }
  for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>(i * 7 + 3));
  return b;
}

TEST_F(DatasetFiles, IdxPlainAndGzipGiveTheSameBytes) {
  auto bytes = idx_file({3, 4, 5});
  write("a-idx3-ubyte", bytes);
  write("a-idx3-ubyte.gz", bytes, true);
  for (const char* name : {"a-idx3-ubyte", "a-idx3-ubyte.gz"}) {
    IdxBytes r = read_idx_u8(path(name), 3);
    EXPECT_EQ(r.dims, (std::vector<int64_t>{3, 4, 5}));
    ASSERT_EQ(r.data.size(), 60u);
    for (size_t i = 0; i < 60; ++i) EXPECT_EQ(r.data[i], static_cast<uint8_t>(i * 7 + 3));
  }
}

TEST_F(DatasetFiles, IdxErrorsNameTheFileAndTheProblem) {
  expect_error<IOError>([&] { read_idx_u8(path("missing.gz")); }, {"missing.gz", "cannot open"});
  auto bytes = idx_file({2, 3});
  write("trunc", std::vector<uint8_t>(bytes.begin(), bytes.end() - 1), true);
  expect_error<IOError>([&] { read_idx_u8(path("trunc")); }, {"trunc", "truncated", "data"});
  write("trunc_header", std::vector<uint8_t>(bytes.begin(), bytes.begin() + 6));
  expect_error<IOError>([&] { read_idx_u8(path("trunc_header")); },
                        {"trunc_header", "truncated", "dimension sizes"});
  auto bad = bytes;
  bad[0] = 0x1f;
  write("magic", bad);
  expect_error<IOError>([&] { read_idx_u8(path("magic")); }, {"magic", "wrong magic number"});
  write("float", idx_file({2}, 0x0D));
  expect_error<IOError>([&] { read_idx_u8(path("float")); }, {"float", "0xd", "not supported"});
  write("rank", bytes);
  expect_error<IOError>([&] { read_idx_u8(path("rank"), 3); }, {"rank", "expected a rank-3"});
  auto extra = bytes;
  extra.push_back(0);
  write("extra", extra);
  expect_error<IOError>([&] { read_idx_u8(path("extra")); }, {"extra", "trailing bytes"});
}

TEST(DatasetFilesReal, FashionMnistFromDebianWhenInstalled) {
  const std::string dir = "/usr/share/datasets/fashion-mnist/";
  if (!fs::exists(dir + "t10k-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "dataset-fashion-mnist is not installed (scripts/install-deps.sh --data)";
  IdxBytes images = read_idx_u8(dir + "t10k-images-idx3-ubyte.gz", 3);
  IdxBytes labels = read_idx_u8(dir + "t10k-labels-idx1-ubyte.gz", 1);
  EXPECT_EQ(images.dims, (std::vector<int64_t>{10000, 28, 28}));
  EXPECT_EQ(labels.dims, (std::vector<int64_t>{10000}));
  std::vector<int> per_class(10, 0);
  for (uint8_t l : labels.data) {
    ASSERT_LT(l, 10);
    ++per_class[l];
  }
  for (int c = 0; c < 10; ++c) EXPECT_EQ(per_class[c], 1000);  // the test split is balanced
}

std::vector<uint8_t> cifar_records(int n, int label_bytes, int bad_label_at = -1) {
  std::vector<uint8_t> b;
  for (int i = 0; i < n; ++i) {
    if (label_bytes == 2) b.push_back(static_cast<uint8_t>(i % 20));  // coarse
    b.push_back(i == bad_label_at ? 200 : static_cast<uint8_t>(i % 10));
    for (int p = 0; p < 3072; ++p) b.push_back(static_cast<uint8_t>((p + 13 * i) & 0xff));
  }
  return b;
}

TEST_F(DatasetFiles, CifarTenAndHundredRecords) {
  write("data_batch_1.bin", cifar_records(3, 1));
  write("train.bin", cifar_records(2, 2));
  CifarBatch b10;
  read_cifar_batch(path("data_batch_1.bin"), CifarVariant::Cifar10, b10);
  read_cifar_batch(path("data_batch_1.bin"), CifarVariant::Cifar10, b10);  // appends
  EXPECT_EQ(b10.count, 6);
  EXPECT_EQ(b10.labels, (std::vector<int64_t>{0, 1, 2, 0, 1, 2}));
  ASSERT_EQ(b10.pixels.size(), 6u * 3072);
  EXPECT_EQ(b10.pixels[3072 * 2 + 1024 + 5], static_cast<uint8_t>((1024 + 5 + 26) & 0xff));  // G
  CifarBatch b100;
  read_cifar_batch(path("train.bin"), CifarVariant::Cifar100, b100);
  EXPECT_EQ(b100.labels, (std::vector<int64_t>{0, 1}));  // the fine label
  EXPECT_EQ(b100.pixels[3072], static_cast<uint8_t>(13));
}

TEST_F(DatasetFiles, CifarErrorsNameTheFileAndRecord) {
  CifarBatch b;
  expect_error<IOError>([&] { read_cifar_batch(path("nope.bin"), CifarVariant::Cifar10, b); },
                        {"nope.bin", "cannot open"});
  auto recs = cifar_records(2, 1);
  recs.pop_back();
  write("short.bin", recs);
  expect_error<IOError>([&] { read_cifar_batch(path("short.bin"), CifarVariant::Cifar10, b); },
                        {"short.bin", "not a whole number of 3073-byte CIFAR-10 records"});
  write("label.bin", cifar_records(3, 1, 1));
  expect_error<IOError>([&] { read_cifar_batch(path("label.bin"), CifarVariant::Cifar10, b); },
                        {"label.bin", "record 1 has label 200", "0..9"});
}

}  // namespace
}  // namespace ebm::io
