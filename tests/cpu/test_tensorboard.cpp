// tfevents: CRC-32C check value, byte-exact records against the golden vectors of
// ../shared/specs/formats.md §2.2, writer → reader round trip, corruption errors.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/io/tensorboard.h"
#include "test_util.h"

namespace ebm::io {
namespace {

std::string hex(const std::vector<uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t x : b) {
    s += d[x >> 4];
    s += d[x & 15];
  }
  return s;
}

TEST(TensorBoard, Crc32cCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
}

TEST(TensorBoard, RecordsMatchTheGoldenBytes) {
  Event version;
  version.wall_time = 1.5;
  version.file_version = "brain.Event:2";
  EXPECT_EQ(hex(frame_record(encode_event(version))),
            "1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c");
  Event scalar;
  scalar.wall_time = 1.5;
  scalar.step = 7;
  scalar.values.push_back({.tag = "loss", .has_scalar = true, .scalar = 0.25f});
  EXPECT_EQ(hex(frame_record(encode_event(scalar))),
            "1a00000000000000129bd82d09000000000000f83f10072a0d0a0b0a046c6f7373150000803ec9d07b8d");
}

TEST(TensorBoard, WriterOutputReadsBack) {
  auto dir = std::filesystem::temp_directory_path() / ("ebm_tb_" + std::to_string(test::rng()()));
  std::string path;
  {
    EventWriter w(dir.string());
    path = w.path();
    EXPECT_NE(std::filesystem::path(path).filename().string().find("events.out.tfevents."),
              std::string::npos);
    w.add_scalars({{"loss", -0.5}, {"energy/pos", 3.0}}, 10);
    w.add_image("samples", Image8{2, 3, 1, {0, 50, 100, 150, 200, 250}}, 20);
  }
  std::vector<Event> ev = read_events(path);
  ASSERT_EQ(ev.size(), 3u);
  EXPECT_EQ(ev[0].file_version, "brain.Event:2");
  EXPECT_GT(ev[0].wall_time, 1.7e9);
  EXPECT_EQ(ev[1].step, 10);
  ASSERT_EQ(ev[1].values.size(), 2u);
  EXPECT_EQ(ev[1].values[1].tag, "energy/pos");
  EXPECT_EQ(ev[1].values[0].scalar, -0.5f);
  ASSERT_EQ(ev[2].values.size(), 1u);
  const SummaryValue& im = ev[2].values[0];
  EXPECT_TRUE(im.has_image);
  EXPECT_EQ(im.height, 2);
  EXPECT_EQ(im.width, 3);
  EXPECT_EQ(im.colorspace, 1);
  EXPECT_EQ(decode_png(im.png, "event").data, (std::vector<uint8_t>{0, 50, 100, 150, 200, 250}));

  // Corruption: a flipped data byte, then a truncated file.
  std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<uint8_t> flipped = bytes;
  flipped[bytes.size() - 10] ^= 1;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<char*>(flipped.data()), flipped.size());
  test::expect_error<IOError>([&] { read_events(path); }, {path, "record 2", "data CRC mismatch"});
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<char*>(bytes.data()), bytes.size() - 3);
  test::expect_error<IOError>([&] { read_events(path); }, {"record 2", "truncated data"});
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace ebm::io
