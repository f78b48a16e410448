// SHA-256 (FIPS 180-4), written by hand: the fingerprint of weight files and reference
// statistics in the evaluation protocol record (eval.json), so a reported FID names the exact
// bytes of the network it used. Incremental (update / finish) and one-shot helpers; hex output
// is lower case, as sha256sum prints it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ebm::io {

class Sha256 {
 public:
  Sha256();
  void update(const void* data, size_t size);
  // The 32-byte digest; the object is then spent (call reset() to hash something else).
  std::array<uint8_t, 32> finish();
  void reset();

 private:
  void block(const uint8_t* p);
  std::array<uint32_t, 8> h_;
  std::array<uint8_t, 64> buf_;
  size_t buf_len_ = 0;
  uint64_t total_ = 0;  // bytes hashed so far
  bool finished_ = false;
};

std::string to_hex(const uint8_t* bytes, size_t n);
// Hex digest of a buffer.
std::string sha256_hex(const void* data, size_t size);
std::string sha256_hex(const std::string& data);
// Hex digest of a file's bytes, read in chunks (IOError naming the file when it cannot be read).
std::string sha256_file_hex(const std::string& path);

}  // namespace ebm::io
