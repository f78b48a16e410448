// Tiny synthetic MNIST-format datasets for the app tests. write_idx writes one split of 28×28 gray
// images from a label and a pixel function, as gzip'd or plain IDX files. make_synthetic_idx
// (classifier_train, ebm_eval) builds on it: images of 4 kinds, a bright square whose position
// depends on the label (or, with `stripes`, horizontal stripes: an out-of-distribution look-alike),
// plus deterministic noise; train and t10k splits, gzip'd.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace ebm::test {

// Writes dir/<split>-images-idx3-ubyte and dir/<split>-labels-idx1-ubyte (each with ".gz" and
// gzip'd when `gzip`, else plain IDX) holding n images: image i has label label(i) and pixel
// (y, x) pixel(i, label(i), y, x). Creates dir; returns it.
template <class Label, class Pixel>
std::string write_idx(const std::string& dir, const std::string& split, int n, Label label, Pixel pixel, bool gzip = true) {
  const auto be32 = [](std::vector<uint8_t>& v, uint32_t x) {
    for (int s = 24; s >= 0; s -= 8) v.push_back(static_cast<uint8_t>(x >> s));
  };
  std::vector<uint8_t> img, lab;
  be32(img, 0x803);
  be32(img, n);
  be32(img, 28);
  be32(img, 28);
  be32(lab, 0x801);
  be32(lab, n);
  for (int i = 0; i < n; ++i) {
    const int l = label(i);
    lab.push_back(static_cast<uint8_t>(l));
    for (int y = 0; y < 28; ++y)
      for (int x = 0; x < 28; ++x) img.push_back(static_cast<uint8_t>(pixel(i, l, y, x)));
  }
  std::filesystem::create_directories(dir);
  const std::string ext = gzip ? ".gz" : "";
  for (auto [name, bytes] :
       {std::pair{split + "-images-idx3-ubyte" + ext, &img}, std::pair{split + "-labels-idx1-ubyte" + ext, &lab}}) {
    gzFile f = gzopen((dir + "/" + name).c_str(), gzip ? "wb" : "wbT");  // T: plain, no gzip format
    gzwrite(f, bytes->data(), static_cast<unsigned>(bytes->size()));
    gzclose(f);
  }
  return dir;
}

// The bright square of a label 0..3: rows and columns 3..13 of the label's 14×14 quadrant.
inline bool in_square(int label, int y, int x) {
  return (y / 14 == label / 2) && (x / 14 == label % 2) && y % 14 > 2 && x % 14 > 2;
}

inline void write_idx_split(const std::string& dir, const std::string& split, int n, int offset, bool stripes) {
  write_idx(dir, split, n, [&](int j) { return (j + offset) % 4; }, [&](int j, int label, int y, int x) {
    const int i = j + offset;
    const bool in = stripes ? (y / 3) % 2 == label % 2 : in_square(label, y, x);
    return in ? 200 + (x * y + 7 * i) % 50 : (3 * x + y + 5 * i) % 30;
  });
}

// Writes train (n_train images) and t10k (n_test, different noise) splits into dir.
inline std::string make_synthetic_idx(const std::string& dir, int n_train, int n_test, bool stripes = false) {
  write_idx_split(dir, "train", n_train, 0, stripes);
  write_idx_split(dir, "t10k", n_test, 100000, stripes);
  return dir;
}

}  // namespace ebm::test
