// Sets of 8-bit images for ebm_eval: samples made by any program (.npz as pytorch-fid /
// torch-fidelity / ADM write them, or a folder of PNG/JPEG files) and dataset splits (the
// reference set, in- and out-of-distribution sets), held as uint8 NCHW with a fingerprint of the
// pixels, and cut into float batches in [0, 1] for a feature network.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "data/dataset.h"

namespace ebm::app {

struct ImageSet {
  std::string description;       // what it is, for eval.json
  int64_t count = 0, channels = 0, height = 0, width = 0;
  std::vector<uint8_t> pixels;   // NCHW
  std::string pixels_sha256;     // of "C H W" then the pixel bytes: identifies the set exactly
  int64_t image_bytes() const { return channels * height * width; }
  // Images [begin, end) as float32 k/255 in [0, 1] on `device`.
  Tensor batch(int64_t begin, int64_t end, Device device) const;
};

// A .npz file: member "arr_0" (or its only member), uint8 [N, H, W, C] with C 1 or 3 (NHWC, as
// samples.npz), [N, C, H, W] with C 1 or 3 and H, W > 4 (NCHW), or [N, H, W] (gray).
ImageSet load_npz_images(const std::string& path, int64_t limit = 0);
// A dataset split through data/dataset.h. image_size 0: native size; otherwise padded/resized.
ImageSet load_dataset_images(const std::string& name, const std::string& dir, bool train, int64_t limit,
                             int64_t image_size, int64_t folder_channels = 3);
// --images: "dataset:NAME[:train|test]" (default split test), a folder, or a .npz file.
ImageSet load_image_spec(const std::string& spec, const std::string& data_dir, int64_t limit,
                         int64_t folder_channels);
// The set from float images [N, C, H, W] in [lo, hi] (rounded as the PNG/.npz writers round).
ImageSet image_set_from_tensor(const Tensor& images, double lo, double hi, const std::string& description);
// Fills pixels_sha256.
void fingerprint(ImageSet& s);

}  // namespace ebm::app
