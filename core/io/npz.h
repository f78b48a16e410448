// NumPy .npz archives as np.savez writes them: a ZIP of stored (uncompressed) members named
// "<key>.npy", each a .npy image (core/io/npy.h), with standard CRC-32 (zlib) per member; no
// ZIP64, so each member and the archive stay below 4 GiB (50k 32×32×3 uint8 samples are 154 MB).
// Sample dumps use one key "arr_0" holding uint8 NHWC images, which np.load and the ADM-style
// FID evaluators read directly.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/io/npy.h"

namespace ebm::io {

// The archive bytes for the given (key, array) members, in order.
std::vector<uint8_t> encode_npz(const std::vector<std::pair<std::string, NpyArray>>& members);
// Writes atomically.
void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& members);
// Reads a stored-member archive written by np.savez or encode_npz (IOError naming the file and
// member for anything else: compressed members, bad CRC, truncation).
std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path);

// uint8 NHWC images as the NpyArray of a sample dump.
NpyArray uint8_images(std::vector<uint8_t> nhwc, int64_t n, int64_t h, int64_t w, int64_t c);

}  // namespace ebm::io
