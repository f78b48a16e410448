// .npz: our archives round-trip, numpy's np.savez output (tests/data/npz, made by
// tests/reference/make_npz_fixture.py) reads, and damaged archives fail naming file and member.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/io/npz.h"
#include "core/io/png.h"
#include "test_util.h"

namespace ebm::io {
namespace {

TEST(Npz, RoundTripOfSampleDumps) {
  std::vector<uint8_t> px(2 * 4 * 4 * 3);
  for (size_t i = 0; i < px.size(); ++i) px[i] = static_cast<uint8_t>(i * 3);
  NpyArray mu;
  mu.type = NpyType::Float64;
  mu.shape = {2};
  mu.data.resize(16);
  double v[2] = {1.5, -2};
  std::memcpy(mu.data.data(), v, 16);
  auto path = (std::filesystem::temp_directory_path() / ("ebm_npz_" + std::to_string(test::rng()()) + ".npz")).string();
  write_npz(path, {{"arr_0", uint8_images(px, 2, 4, 4, 3)}, {"mu", mu}});
  auto back = read_npz(path);
  ASSERT_EQ(back.size(), 2u);
  EXPECT_EQ(back[0].first, "arr_0");
  EXPECT_EQ(back[0].second.shape, (std::vector<int64_t>{2, 4, 4, 3}));
  EXPECT_EQ(back[0].second.data, px);
  EXPECT_EQ(back[1].first, "mu");
  EXPECT_EQ(back[1].second.data, mu.data);

  std::vector<uint8_t> bytes = read_file_bytes(path);
  bytes[100] ^= 0x40;  // inside arr_0's data
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<char*>(bytes.data()), bytes.size());
  test::expect_error<IOError>([&] { read_npz(path); }, {path, "arr_0.npy", "CRC-32"});
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<char*>(bytes.data()), 60);
  test::expect_error<IOError>([&] { read_npz(path); }, {path, "truncated"});
  std::filesystem::remove(path);
}

TEST(Npz, ReadsNumpySavez) {
  auto m = read_npz(std::string(EBM_TEST_DATA_DIR) + "/npz/savez_small.npz");
  ASSERT_EQ(m.size(), 2u);
  if (m[0].first == "mu") std::swap(m[0], m[1]);  // np.savez stores keyword arrays first
  EXPECT_EQ(m[0].first, "arr_0");
  EXPECT_EQ(m[0].second.type, NpyType::UInt8);
  EXPECT_EQ(m[0].second.shape, (std::vector<int64_t>{2, 3, 4, 1}));
  for (int i = 0; i < 24; ++i) EXPECT_EQ(m[0].second.data[i], i);
  EXPECT_EQ(m[1].first, "mu");
  double mu[3];
  std::memcpy(mu, m[1].second.data.data(), 24);
  EXPECT_EQ(mu[1], -1.25);
}

}  // namespace
}  // namespace ebm::io
