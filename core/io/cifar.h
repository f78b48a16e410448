// CIFAR binary batches (Krizhevsky's "binary version"): CIFAR-10 records are 1 label byte then
// 3072 pixel bytes (1024 R, 1024 G, 1024 B; each plane row-major 32×32), 3073 bytes a record;
// CIFAR-100 records carry 2 label bytes (coarse, then fine) before the pixels, 3074 bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ebm::io {

enum class CifarVariant { Cifar10, Cifar100 };

struct CifarBatch {
  std::vector<uint8_t> pixels;  // N × 3 × 32 × 32, CHW per image
  std::vector<int64_t> labels;  // N (CIFAR-100: the fine label)
  int64_t count = 0;
};

// Appends the records of one batch file to `out`. Errors name the file: missing, a size that is
// not a whole number of records, a label out of range (10 or 100 classes) with its record index.
void read_cifar_batch(const std::string& path, CifarVariant variant, CifarBatch& out);

}  // namespace ebm::io
