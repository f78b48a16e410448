// Image datasets for every app: CIFAR-10/100 binary, MNIST / Fashion-MNIST IDX (plain or .gz),
// and a folder of PNG/JPEG images. A loaded dataset is uint8 NCHW pixels in host memory plus labels
// (where the format has them), already at the model's size: 28×28 IDX images are zero-padded to
// 32×32 when asked, folder images are centre-cropped to a square and resized (area average).
// Errors name the directory or file and what is wrong.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ebm::data {

struct Dataset {
  std::string name;
  int64_t count = 0, channels = 0, height = 0, width = 0;
  int64_t num_classes = 0;       // 0: no labels
  std::vector<uint8_t> pixels;   // count × channels × height × width
  std::vector<int64_t> labels;   // count entries, or empty
  int64_t image_bytes() const { return channels * height * width; }
};

struct DatasetOptions {
  std::string name;           // cifar10 | cifar100 | mnist | fashion-mnist | folder
  std::string dir;            // empty: the default location (Fashion-MNIST from Debian)
  bool train = true;          // training split (false: the test split)
  int64_t image_size = 0;     // 0: native size; otherwise pad (IDX 28 → 32) or resize (folder)
  int64_t folder_channels = 3;  // folder images are converted to 1 (gray) or 3 (RGB) channels
  int64_t limit = 0;          // > 0: keep only the first `limit` images (tests, quick runs)
};

// Names accepted by load_dataset, for --help texts and errors.
const std::vector<std::string>& dataset_names();
// Where a dataset is looked for when DatasetOptions::dir is empty.
std::string default_dataset_dir(const std::string& name);

Dataset load_dataset(const DatasetOptions& options);

}  // namespace ebm::data
