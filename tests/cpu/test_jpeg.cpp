// JPEG decoding (lossy: a flat image must come back flat, a gradient close), and errors.
#include <gtest/gtest.h>

#include "core/io/jpeg.h"
#include "test_util.h"

namespace ebm::io {
namespace {

TEST(Jpeg, RoundTripOfGrayAndRgbIsClose) {
  for (int c : {1, 3}) {
    Image8 im{16, 24, c, {}};
    for (int y = 0; y < 16; ++y)
      for (int x = 0; x < 24; ++x)
        for (int k = 0; k < c; ++k) im.data.push_back(static_cast<uint8_t>(40 + 4 * x + 30 * k));
    Image8 back = decode_jpeg(encode_jpeg(im, 100), "memory");
    ASSERT_EQ(back.channels, c);
    ASSERT_EQ(back.height, 16);
    ASSERT_EQ(back.width, 24);
    for (size_t i = 0; i < im.data.size(); ++i) EXPECT_NEAR(back.data[i], im.data[i], 6) << i;
  }
}

TEST(Jpeg, ErrorsNameTheSource) {
  std::vector<uint8_t> bytes = encode_jpeg(Image8{8, 8, 1, std::vector<uint8_t>(64, 7)});
  std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + 20);
  test::expect_error<IOError>([&] { decode_jpeg(cut, "cut.jpg"); }, {"cut.jpg", "cannot decode"});
  test::expect_error<IOError>([&] { decode_jpeg({1, 2, 3}, "x.jpg"); }, {"x.jpg", "not a JPEG"});
}

}  // namespace
}  // namespace ebm::io
