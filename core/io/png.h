// PNG through libpng: encoding 8-bit gray / RGB / RGBA images to bytes (sample grids, the
// TensorBoard image summary) and decoding any PNG to 8-bit gray, RGB or RGBA (image-folder
// datasets). Pixels are interleaved row-major HWC bytes. Errors name the source and libpng's
// message; libpng's longjmp never crosses C++ frames that own resources.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ebm::io {

struct Image8 {
  int64_t height = 0, width = 0;
  int channels = 0;           // 1 gray, 3 RGB, 4 RGBA
  std::vector<uint8_t> data;  // height × width × channels
};

std::vector<uint8_t> encode_png(const Image8& image);
// Writes atomically (core/io/atomic_file.h).
void write_png(const std::string& path, const Image8& image);

// Decodes to 8 bits per channel; palette → RGB, gray+alpha → RGBA, 16-bit → 8-bit.
Image8 decode_png(const std::vector<uint8_t>& bytes, const std::string& source);
Image8 read_png(const std::string& path);

// Reads a whole file into memory (IOError naming the path when it cannot).
std::vector<uint8_t> read_file_bytes(const std::string& path);

}  // namespace ebm::io
