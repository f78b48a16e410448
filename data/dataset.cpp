// Dataset loading: format readers (core/io) + padding/cropping to the model size.
#include "data/dataset.h"

#include <algorithm>
#include <filesystem>

#include "core/common.h"
#include "core/io/cifar.h"
#include "core/io/idx.h"
#include "core/io/jpeg.h"
#include "core/io/png.h"

namespace ebm::data {

namespace fs = std::filesystem;

const std::vector<std::string>& dataset_names() {
  static const std::vector<std::string> names = {"cifar10", "cifar100", "mnist", "fashion-mnist",
                                                 "folder"};
  return names;
}

std::string default_dataset_dir(const std::string& name) {
  if (name == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
  if (name == "mnist") return "data/mnist";
  if (name == "cifar10") return "data/cifar-10-batches-bin";
  if (name == "cifar100") return "data/cifar-100-binary";
  return "data/images";
}

namespace {

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

void require_dir(const std::string& dir, const std::string& what) {
  EBM_CHECK(fs::is_directory(dir), IOError, what, ": data directory '", dir,
            "' does not exist (set --data-dir)");
}

// The first of the candidate names that exists in dir.
std::string find_file(const std::string& dir, const std::vector<std::string>& names,
                      const std::string& what) {
  for (const auto& n : names)
    if (fs::exists(fs::path(dir) / n)) return (fs::path(dir) / n).string();
  EBM_THROW(IOError, what, ": none of ", join(names), " found in '", dir, "'");
}

// Zero-pads square images of side s to side t (centred), in place.
void pad_to(Dataset& d, int64_t t) {
  int64_t s = d.height, p = (t - s) / 2;
  std::vector<uint8_t> out(static_cast<size_t>(d.count * d.channels * t * t), 0);
  for (int64_t i = 0; i < d.count * d.channels; ++i)
    for (int64_t y = 0; y < s; ++y)
      std::copy_n(d.pixels.data() + (i * s + y) * s, s, out.data() + (i * t + y + p) * t + p);
  d.pixels = std::move(out);
  d.height = d.width = t;
}

Dataset load_idx(const DatasetOptions& o, const std::string& dir) {
  require_dir(dir, o.name);
  std::string split = o.train ? "train" : "t10k";
  std::string images = find_file(dir, {split + "-images-idx3-ubyte.gz", split + "-images-idx3-ubyte",
                                       split + "-images.idx3-ubyte"},
                                 o.name);
  std::string labels = find_file(dir, {split + "-labels-idx1-ubyte.gz", split + "-labels-idx1-ubyte",
                                       split + "-labels.idx1-ubyte"},
                                 o.name);
  io::IdxBytes im = io::read_idx_u8(images, 3), lb = io::read_idx_u8(labels, 1);
  EBM_CHECK(im.dims[0] == lb.dims[0], IOError, o.name, ": ", images, " holds ", im.dims[0],
            " images but ", labels, " holds ", lb.dims[0], " labels");
  Dataset d;
  d.name = o.name;
  d.count = im.dims[0];
  d.channels = 1;
  d.height = im.dims[1];
  d.width = im.dims[2];
  d.num_classes = 10;
  d.pixels = std::move(im.data);
  for (int64_t i = 0; i < d.count; ++i) {
    int64_t l = lb.data[i];
    EBM_CHECK(l < 10, IOError, o.name, ": ", labels, ": label ", l, " at index ", i,
              " is outside 0..9");
    d.labels.push_back(l);
  }
  return d;
}

Dataset load_cifar(const DatasetOptions& o, const std::string& dir) {
  require_dir(dir, o.name);
  bool ten = o.name == "cifar10";
  std::vector<std::string> files;
  if (ten) {
    if (o.train)
      for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
    else
      files.push_back("test_batch.bin");
  } else {
    files.push_back(o.train ? "train.bin" : "test.bin");
  }
  io::CifarBatch batch;
  for (const auto& f : files)
    io::read_cifar_batch(find_file(dir, {f}, o.name),
                         ten ? io::CifarVariant::Cifar10 : io::CifarVariant::Cifar100, batch);
  Dataset d;
  d.name = o.name;
  d.count = batch.count;
  d.channels = 3;
  d.height = d.width = 32;
  d.num_classes = ten ? 10 : 100;
  d.pixels = std::move(batch.pixels);
  d.labels = std::move(batch.labels);
  return d;
}

// Centre square crop, then an area-average resize to side t (exact box filter when the crop is
// a multiple of t; fractional box weights otherwise), into CHW bytes.
void crop_resize(const io::Image8& im, int64_t channels, int64_t t, uint8_t* out) {
  int64_t side = std::min(im.height, im.width);
  int64_t y0 = (im.height - side) / 2, x0 = (im.width - side) / 2;
  double scale = static_cast<double>(side) / t;
  auto value = [&](int64_t y, int64_t x, int64_t c) -> double {
    const uint8_t* p = im.data.data() + ((y0 + y) * im.width + x0 + x) * im.channels;
    if (channels == 3) return p[std::min<int64_t>(c, im.channels < 3 ? 0 : c)];
    if (im.channels < 3) return p[0];
    return 0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2];  // ITU-R 601 luma
  };
  for (int64_t c = 0; c < channels; ++c)
    for (int64_t oy = 0; oy < t; ++oy)
      for (int64_t ox = 0; ox < t; ++ox) {
        double ya = oy * scale, yb = (oy + 1) * scale, xa = ox * scale, xb = (ox + 1) * scale;
        double acc = 0, area = 0;
        for (int64_t y = static_cast<int64_t>(ya); y < yb && y < side; ++y) {
          double wy = std::min<double>(y + 1, yb) - std::max<double>(y, ya);
          for (int64_t x = static_cast<int64_t>(xa); x < xb && x < side; ++x) {
            double w = wy * (std::min<double>(x + 1, xb) - std::max<double>(x, xa));
            acc += w * value(y, x, c);
            area += w;
          }
        }
        out[(c * t + oy) * t + ox] = static_cast<uint8_t>(std::min(255.0, acc / area + 0.5));
      }
}

io::Image8 read_image(const std::string& path) {
  std::vector<uint8_t> bytes = io::read_file_bytes(path);
  if (bytes.size() >= 2 && bytes[0] == 0xFF && bytes[1] == 0xD8) return io::decode_jpeg(bytes, path);
  return io::decode_png(bytes, path);  // names the file when it is neither
}

Dataset load_folder(const DatasetOptions& o, const std::string& dir) {
  require_dir(dir, o.name);
  EBM_CHECK(o.image_size > 0, ValueError, "folder dataset: an image size is needed (the model's)");
  EBM_CHECK(o.folder_channels == 1 || o.folder_channels == 3, ValueError,
            "folder dataset: channels must be 1 or 3, got ", o.folder_channels);
  std::vector<std::string> paths;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::string ext = e.path().extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
    if (ext == ".png" || ext == ".jpg" || ext == ".jpeg") paths.push_back(e.path().string());
  }
  std::sort(paths.begin(), paths.end());  // a stable order, whatever the file system's
  EBM_CHECK(!paths.empty(), IOError, "folder dataset: no .png/.jpg/.jpeg images under '", dir, "'");
  if (o.limit > 0 && static_cast<int64_t>(paths.size()) > o.limit) paths.resize(o.limit);
  Dataset d;
  d.name = o.name;
  d.count = static_cast<int64_t>(paths.size());
  d.channels = o.folder_channels;
  d.height = d.width = o.image_size;
  d.pixels.resize(static_cast<size_t>(d.count * d.image_bytes()));
  for (int64_t i = 0; i < d.count; ++i)
    crop_resize(read_image(paths[i]), d.channels, o.image_size,
                d.pixels.data() + i * d.image_bytes());
  return d;
}

}  // namespace

Dataset load_dataset(const DatasetOptions& o) {
  const auto& names = dataset_names();
  EBM_CHECK(std::find(names.begin(), names.end(), o.name) != names.end(), ValueError,
            "unknown dataset '", o.name, "' (expected one of ", join(names), ")");
  std::string dir = o.dir.empty() ? default_dataset_dir(o.name) : o.dir;
  Dataset d;
  if (o.name == "mnist" || o.name == "fashion-mnist")
    d = load_idx(o, dir);
  else if (o.name == "cifar10" || o.name == "cifar100")
    d = load_cifar(o, dir);
  else
    return load_folder(o, dir);
  if (o.limit > 0 && d.count > o.limit) {
    d.count = o.limit;
    d.pixels.resize(static_cast<size_t>(d.count * d.image_bytes()));
    d.labels.resize(static_cast<size_t>(d.count));
  }
  if (o.image_size > 0 && o.image_size != d.height) {
    EBM_CHECK(o.image_size > d.height && (o.image_size - d.height) % 2 == 0, ValueError,
              o.name, ": images are ", d.height, "x", d.width, "; cannot bring them to ",
              o.image_size, "x", o.image_size, " (only even zero-padding is supported)");
    pad_to(d, o.image_size);
  }
  return d;
}

}  // namespace ebm::data
