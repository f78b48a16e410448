// A tiny synthetic MNIST-format dataset for the app tests (classifier_train, ebm_eval): 28×28
// gray images of `classes` kinds, a bright square whose position depends on the label (or, with
// `stripes`, horizontal stripes: an out-of-distribution look-alike), plus deterministic noise;
// train and t10k splits as gzip'd IDX files.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ebm::test {

inline void write_idx_split(const std::string& dir, const std::string& split, int n, int offset, bool stripes) {
  std::vector<uint8_t> img = {0, 0, 8, 3, static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                              static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n), 0, 0, 0, 28, 0, 0, 0, 28};
  std::vector<uint8_t> lab = {0, 0, 8, 1, static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
                              static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  for (int j = 0; j < n; ++j) {
    const int i = j + offset, label = i % 4;
    lab.push_back(static_cast<uint8_t>(label));
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) {
        bool in = stripes ? (y / 3) % 2 == label % 2
                          : (y / 14 == label / 2) && (x / 14 == label % 2) && y % 14 > 2 && x % 14 > 2;
        img.push_back(static_cast<uint8_t>(in ? 200 + (x * y + 7 * i) % 50 : (3 * x + y + 5 * i) % 30));
      }
  }
  for (auto [name, bytes] : {std::pair{split + "-images-idx3-ubyte.gz", &img}, std::pair{split + "-labels-idx1-ubyte.gz", &lab}}) {
    gzFile f = gzopen((dir + "/" + name).c_str(), "wb");
    gzwrite(f, bytes->data(), static_cast<unsigned>(bytes->size()));
    gzclose(f);
  }
}

// Writes train (n_train images) and t10k (n_test, different noise) splits into dir.
inline std::string make_synthetic_idx(const std::string& dir, int n_train, int n_test, bool stripes = false) {
  std::filesystem::create_directories(dir);
  write_idx_split(dir, "train", n_train, 0, stripes);
  write_idx_split(dir, "t10k", n_test, 100000, stripes);
  return dir;
}

}  // namespace ebm::test
