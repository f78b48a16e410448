// Loading and batching image sets for ebm_eval (see image_sets.h).
#include "apps/eval/image_sets.h"

#include <algorithm>
#include <filesystem>

#include "core/io/image_grid.h"
#include "core/io/npz.h"
#include "core/io/sha256.h"

namespace ebm::app {

Tensor ImageSet::batch(int64_t begin, int64_t end, Device device) const {
  EBM_CHECK(0 <= begin && begin <= end && end <= count, ValueError, "image set: batch [", begin, ", ", end,
            ") outside [0, ", count, ")");
  const int64_t n = end - begin, b = image_bytes();
  std::vector<float> v(static_cast<size_t>(n * b));
  const uint8_t* p = pixels.data() + begin * b;
  for (int64_t i = 0; i < n * b; ++i) v[i] = static_cast<float>(p[i]) / 255.0f;
  return Tensor::from_vector(v, Shape{n, channels, height, width}).to(device);
}

void fingerprint(ImageSet& s) {
  io::Sha256 h;
  std::string head = std::to_string(s.channels) + " " + std::to_string(s.height) + " " + std::to_string(s.width) + "\n";
  h.update(head.data(), head.size());
  h.update(s.pixels.data(), s.pixels.size());
  auto d = h.finish();
  s.pixels_sha256 = io::to_hex(d.data(), d.size());
}

ImageSet load_npz_images(const std::string& path, int64_t limit) {
  auto members = io::read_npz(path);
  EBM_CHECK(!members.empty(), IOError, "'", path, "' holds no arrays");
  const NpyArray* a = nullptr;
  for (const auto& [k, v] : members)
    if (k == "arr_0") a = &v;
  EBM_CHECK(a || members.size() == 1, IOError, "'", path, "' has no member arr_0 and more than one array");
  if (!a) a = &members[0].second;
  EBM_CHECK(a->type == NpyType::UInt8, IOError, "'", path, "': images must be uint8 (0..255), as samples.npz");
  const auto& s = a->shape;
  ImageSet set;
  bool nhwc = false;
  if (s.size() == 3) {
    set.count = s[0], set.channels = 1, set.height = s[1], set.width = s[2];
    nhwc = true;
  } else if (s.size() == 4 && (s[3] == 1 || s[3] == 3)) {
    set.count = s[0], set.height = s[1], set.width = s[2], set.channels = s[3];
    nhwc = true;
  } else if (s.size() == 4 && (s[1] == 1 || s[1] == 3) && s[2] > 4 && s[3] > 4) {
    set.count = s[0], set.channels = s[1], set.height = s[2], set.width = s[3];
  } else {
    std::string shape;
    for (int64_t d : s) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    EBM_THROW(IOError, "'", path, "': images must be [N, H, W, C] (C 1 or 3), [N, C, H, W] or [N, H, W]; got [",
              shape, "]");
  }
  EBM_CHECK(set.count > 0, IOError, "'", path, "' holds no images");
  if (limit > 0 && set.count > limit) set.count = limit;
  const int64_t b = set.image_bytes(), hw = set.height * set.width;
  set.pixels.resize(static_cast<size_t>(set.count * b));
  for (int64_t i = 0; i < set.count; ++i) {
    const uint8_t* src = a->data.data() + i * b;
    uint8_t* dst = set.pixels.data() + i * b;
    if (!nhwc) {
      std::copy_n(src, b, dst);
      continue;
    }
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < set.channels; ++c) dst[c * hw + p] = src[p * set.channels + c];
  }
  set.description = path + " (" + std::to_string(set.count) + " images)";
  fingerprint(set);
  return set;
}

ImageSet load_dataset_images(const std::string& name, const std::string& dir, bool train, int64_t limit,
                             int64_t image_size, int64_t folder_channels) {
  data::DatasetOptions o;
  o.name = name;
  o.dir = dir;
  o.train = train;
  o.limit = limit;
  o.image_size = image_size;
  o.folder_channels = folder_channels;
  data::Dataset d = data::load_dataset(o);
  ImageSet s;
  s.count = d.count, s.channels = d.channels, s.height = d.height, s.width = d.width;
  s.pixels = std::move(d.pixels);
  s.description = name + (name == "folder" ? "" : train ? " train" : " test") + " split" +
                  (dir.empty() ? "" : " from " + dir) + ", " + std::to_string(s.count) + " images";
  if (name == "folder") s.description = "image folder " + dir + ", " + std::to_string(s.count) + " images";
  fingerprint(s);
  return s;
}

ImageSet load_image_spec(const std::string& spec, const std::string& data_dir, int64_t limit,
                         int64_t folder_channels) {
  if (spec.rfind("dataset:", 0) == 0) {
    std::string rest = spec.substr(8), name = rest, split = "test";
    size_t colon = rest.find(':');
    if (colon != std::string::npos) name = rest.substr(0, colon), split = rest.substr(colon + 1);
    EBM_CHECK(split == "train" || split == "test", ValueError, "--images ", spec, ": the split must be train or test");
    return load_dataset_images(name, data_dir, split == "train", limit, 0);
  }
  if (std::filesystem::is_directory(spec)) return load_dataset_images("folder", spec, true, limit, 0, folder_channels);
  EBM_CHECK(std::filesystem::is_regular_file(spec), IOError, "--images '", spec,
            "' is neither a .npz file, an image folder nor dataset:NAME[:split]");
  return load_npz_images(spec, limit);
}

ImageSet image_set_from_tensor(const Tensor& images, double lo, double hi, const std::string& description) {
  ImageSet s;
  s.count = images.size(0), s.channels = images.size(1), s.height = images.size(2), s.width = images.size(3);
  std::vector<uint8_t> nhwc = io::to_uint8_nhwc(images, lo, hi);
  const int64_t hw = s.height * s.width, b = s.image_bytes();
  s.pixels.resize(nhwc.size());
  for (int64_t i = 0; i < s.count; ++i)
    for (int64_t p = 0; p < hw; ++p)
      for (int64_t c = 0; c < s.channels; ++c) s.pixels[i * b + c * hw + p] = nhwc[i * b + p * s.channels + c];
  s.description = description;
  fingerprint(s);
  return s;
}

}  // namespace ebm::app
