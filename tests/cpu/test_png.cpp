// PNG encode/decode round trips (gray, RGB, RGBA), decoding errors, and tensor → image grids.
#include <gtest/gtest.h>

#include <filesystem>

#include "core/io/image_grid.h"
#include "core/io/png.h"
#include "test_util.h"

namespace ebm::io {
namespace {

using test::expect_error;

Image8 random_image(int64_t h, int64_t w, int c) {
  Image8 im{h, w, c, {}};
  for (int64_t i = 0; i < h * w * c; ++i) im.data.push_back(static_cast<uint8_t>(test::rng()()));
  return im;
}

TEST(Png, RoundTripIsLosslessForEveryChannelCount) {
  for (int c : {1, 3, 4}) {
    Image8 im = random_image(5, 7, c);
    std::vector<uint8_t> bytes = encode_png(im);
    ASSERT_GT(bytes.size(), 8u);
    EXPECT_EQ(bytes[1], 'P');
    Image8 back = decode_png(bytes, "memory");
    EXPECT_EQ(back.height, 5);
    EXPECT_EQ(back.width, 7);
    EXPECT_EQ(back.channels, c);
    EXPECT_EQ(back.data, im.data);
  }
}

TEST(Png, FileRoundTripAndErrorsNameTheSource) {
  auto path = (std::filesystem::temp_directory_path() /
               ("ebm_png_" + std::to_string(test::rng()()) + ".png")).string();
  Image8 im = random_image(3, 4, 3);
  write_png(path, im);
  EXPECT_EQ(read_png(path).data, im.data);
  std::vector<uint8_t> bytes = read_file_bytes(path);
  std::filesystem::remove(path);
  expect_error<IOError>([&] { read_png(path); }, {path, "cannot open"});
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + bytes.size() / 2);
  expect_error<IOError>([&] { decode_png(cut, "cut.png"); }, {"cut.png", "cannot decode"});
  std::vector<uint8_t> junk = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  expect_error<IOError>([&] { decode_png(junk, "junk.png"); }, {"junk.png", "not a PNG"});
  bytes[20] ^= 0xff;  // inside IHDR: the chunk CRC no longer matches
  expect_error<IOError>([&] { decode_png(bytes, "crc.png"); }, {"crc.png"});
  expect_error<ValueError>([&] { encode_png(Image8{2, 2, 2, std::vector<uint8_t>(8)}); },
                           {"channels must be 1, 3 or 4"});
}

TEST(ImageGrid, TilesRowMajorWithPaddingAndMapsTheRange) {
  // 3 gray 2x2 images, 2 columns, padding 1: a 7 x 7 grid with the third tile bottom-left.
  std::vector<float> v(12);
  for (int i = 0; i < 12; ++i) v[i] = i / 11.0f;
  Tensor t = Tensor::from_vector(v, Shape{3, 1, 2, 2});
  Image8 g = make_grid(t, 0.0, 1.0, 2, 1, 9);
  EXPECT_EQ(g.height, 7);
  EXPECT_EQ(g.width, 7);
  EXPECT_EQ(g.channels, 1);
  EXPECT_EQ(g.data[0], 9);                                    // padding
  EXPECT_EQ(g.data[1 * 7 + 1], to_byte(0.0, 0, 1));           // image 0, (0, 0)
  EXPECT_EQ(g.data[1 * 7 + 4], to_byte(4 / 11.0, 0, 1));      // image 1, (0, 0)
  EXPECT_EQ(g.data[5 * 7 + 2], to_byte(11 / 11.0, 0, 1));     // image 2, (1, 1)
  EXPECT_EQ(g.data[4 * 7 + 4], 9);                            // empty fourth tile
  EXPECT_EQ(to_byte(-1.0, -1, 1), 0);
  EXPECT_EQ(to_byte(1.0, -1, 1), 255);
  EXPECT_EQ(to_byte(0.0, -1, 1), 128);  // 127.5 rounds up
  EXPECT_EQ(to_byte(7.0, 0, 1), 255);
  EXPECT_EQ(to_byte(NAN, 0, 1), 0);
  expect_error<ShapeError>([&] { make_grid(Tensor::zeros(Shape{2, 2, 3, 3}), 0, 1); },
                           {"make_grid", "[N, 1 or 3, H, W]"});
}

// DRL's export, clip((x+1)*127.5, 0, 255).astype(uint8) in float32: expected bytes from numpy.
TEST(ImageGrid, TruncateEqualsTheReferenceUint8Cast) {
  const std::vector<float> x = {0.30022913217544556f, 0.9533131122589111f, 0.6616456508636475f, -0.6595027446746826f,
                                -0.4796009063720703f, 0.8965282440185547f, -1.1873632669448853f, 0.7709482312202454f};
  const std::vector<uint8_t> numpy = {165, 249, 211, 43, 66, 241, 0, 225};
  Tensor t = Tensor::from_vector(x, Shape{8, 1, 1, 1});
  EXPECT_EQ(to_uint8_nhwc(t, -1, 1, Quantize::Truncate), numpy);
  EXPECT_EQ(to_byte(0.0, -1, 1, Quantize::Truncate), 127) << "127.5 truncates (rounds to 128)";
  EXPECT_EQ(to_byte(1.0, -1, 1, Quantize::Truncate), 255);
  EXPECT_EQ(to_byte(3.0, -1, 1, Quantize::Truncate), 255);
  EXPECT_EQ(to_byte(-1.0, -1, 1, Quantize::Truncate), 0);
  EXPECT_EQ(to_byte(0.49999997, 0, 1, Quantize::Truncate), 127) << "float32 0.49999997 * 255 = 127.49999";
  EXPECT_EQ(to_byte(NAN, -1, 1, Quantize::Truncate), 0);
}

TEST(ImageGrid, Uint8NhwcInterleavesChannels) {
  Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 0, 1, 1, 0}, Shape{1, 3, 1, 2});
  EXPECT_EQ(to_uint8_nhwc(t, 0, 1), (std::vector<uint8_t>{0, 0, 255, 255, 255, 0}));
}

}  // namespace
}  // namespace ebm::io
