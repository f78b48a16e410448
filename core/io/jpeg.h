// JPEG decoding through libjpeg(-turbo), for image-folder datasets such as CelebA: any
// baseline/progressive JPEG to 8-bit gray (1 channel) or RGB (3 channels, also for CMYK/YCCK
// inputs, which libjpeg converts). Errors name the source and libjpeg's message.
#pragma once

#include <string>
#include <vector>

#include "core/io/png.h"

namespace ebm::io {

Image8 decode_jpeg(const std::vector<uint8_t>& bytes, const std::string& source);
Image8 read_jpeg(const std::string& path);
// Encodes 1- or 3-channel images (quality 1..100): test fixtures and quick previews.
std::vector<uint8_t> encode_jpeg(const Image8& image, int quality = 95);

}  // namespace ebm::io
