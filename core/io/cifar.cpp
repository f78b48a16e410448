// CIFAR-10/100 binary batch reader.
#include "core/io/cifar.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

#include "core/common.h"

namespace ebm::io {

void read_cifar_batch(const std::string& path, CifarVariant variant, CifarBatch& out) {
  const int label_bytes = variant == CifarVariant::Cifar10 ? 1 : 2;
  const int64_t classes = variant == CifarVariant::Cifar10 ? 10 : 100;
  const int64_t record = label_bytes + 3072;
  std::unique_ptr<FILE, int (*)(FILE*)> f(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (!f) EBM_THROW(IOError, "cifar: cannot open '", path, "': ", std::strerror(errno));
  if (std::fseek(f.get(), 0, SEEK_END) != 0)
    EBM_THROW(IOError, "cifar: ", path, ": cannot seek: ", std::strerror(errno));
  long size = std::ftell(f.get());
  std::rewind(f.get());
  if (size <= 0 || size % record != 0)
    EBM_THROW(IOError, "cifar: ", path, ": size ", size, " bytes is not a whole number of ",
              record, "-byte ", variant == CifarVariant::Cifar10 ? "CIFAR-10" : "CIFAR-100",
              " records (truncated, or the wrong dataset?)");
  int64_t n = size / record;
  std::vector<uint8_t> raw(static_cast<size_t>(size));
  if (std::fread(raw.data(), 1, raw.size(), f.get()) != raw.size())
    EBM_THROW(IOError, "cifar: ", path, ": short read: ", std::strerror(errno));
  size_t px0 = out.pixels.size();
  out.pixels.resize(px0 + static_cast<size_t>(n) * 3072);
  for (int64_t i = 0; i < n; ++i) {
    const uint8_t* r = raw.data() + i * record;
    int64_t label = r[label_bytes - 1];  // CIFAR-100: the fine label is the second byte
    if (label >= classes)
      EBM_THROW(IOError, "cifar: ", path, ": record ", i, " has label ", label,
                ", outside 0..", classes - 1);
    out.labels.push_back(label);
    std::memcpy(out.pixels.data() + px0 + i * 3072, r + label_bytes, 3072);
  }
  out.count += n;
}

}  // namespace ebm::io
