// IDX files (LeCun's MNIST format, also Fashion-MNIST): a big-endian magic 00 00 <type> <ndim>,
// ndim big-endian int32 sizes, then C-order data. Plain or gzip-compressed (.gz, read through
// zlib, which also passes plain files through). Only unsigned bytes (type 0x08) are read: the
// image and label files of (Fashion-)MNIST. Errors name the file and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ebm::io {

struct IdxBytes {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // prod(dims) bytes
};

// Reads a whole u8 IDX file. expected_ndim >= 0 also checks the rank (3 for images, 1 for labels).
IdxBytes read_idx_u8(const std::string& path, int expected_ndim = -1);

}  // namespace ebm::io
