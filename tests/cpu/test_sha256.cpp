// SHA-256 (core/io/sha256.h) against the FIPS 180-4 / NIST CSRC example vectors, incremental
// updates split at every offset around the 55/56/64-byte padding boundaries, and files.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "core/common.h"
#include "core/io/sha256.h"

namespace ebm {
namespace {

TEST(Sha256, FipsVectors) {
  EXPECT_EQ(io::sha256_hex(std::string("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(io::sha256_hex(std::string()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(io::sha256_hex(std::string("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(io::sha256_hex(std::string("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                                       "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu")),
            "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
  EXPECT_EQ(io::sha256_hex(std::string(1000000, 'a')),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

// Lengths around the padding boundaries, hashed in one piece and in two at every split point.
TEST(Sha256, IncrementalEqualsOneShot) {
  for (size_t len : {0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 129, 200}) {
    std::string s(len, '\0');
    for (size_t i = 0; i < len; ++i) s[i] = static_cast<char>((i * 131 + 7) & 0xff);
    const std::string ref = io::sha256_hex(s);
    for (size_t cut = 0; cut <= len; ++cut) {
      io::Sha256 h;
      h.update(s.data(), cut);
      h.update(s.data() + cut, len - cut);
      auto d = h.finish();
      ASSERT_EQ(io::to_hex(d.data(), d.size()), ref) << "len " << len << " cut " << cut;
    }
  }
  // Known value for a length that needs a second padding block (56 bytes of 'a').
  EXPECT_EQ(io::sha256_hex(std::string(56, 'a')),
            "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a");
}

TEST(Sha256, FileAndErrors) {
  const std::string path = ::testing::TempDir() + "sha256_test.bin";
  std::FILE* f = std::fopen(path.c_str(), "wb");
  ASSERT_NE(f, nullptr);
  std::string big(3 << 20, 'a');  // three read chunks
  std::fwrite(big.data(), 1, big.size(), f);
  std::fclose(f);
  EXPECT_EQ(io::sha256_file_hex(path), io::sha256_hex(big));
  std::remove(path.c_str());
  EXPECT_THROW(io::sha256_file_hex(path), IOError);
  io::Sha256 h;
  h.finish();
  EXPECT_THROW(h.update("x", 1), ValueError);
  h.reset();
  h.update("abc", 3);
  auto d = h.finish();
  EXPECT_EQ(io::to_hex(d.data(), d.size()),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

}  // namespace
}  // namespace ebm
