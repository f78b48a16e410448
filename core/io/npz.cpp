// Stored-ZIP .npz writer and reader (see npz.h). Layout per member: local file header (30
// bytes + name), data; then one central directory entry per member (46 bytes + name) and the
// end-of-central-directory record (22 bytes).
#include "core/io/npz.h"

#include <zlib.h>

#include <cstring>
#include <limits>

#include "core/common.h"
#include "core/io/atomic_file.h"
#include "core/io/png.h"

namespace ebm::io {

namespace {

void put16(std::vector<uint8_t>& o, uint32_t v) {
  o.push_back(v & 0xff);
  o.push_back((v >> 8) & 0xff);
}
void put32(std::vector<uint8_t>& o, uint32_t v) {
  put16(o, v & 0xffff);
  put16(o, v >> 16);
}
uint32_t get16(const uint8_t* p) { return p[0] | (uint32_t(p[1]) << 8); }
uint32_t get32(const uint8_t* p) { return get16(p) | (get16(p + 2) << 16); }

constexpr uint32_t kLocal = 0x04034b50, kCentral = 0x02014b50, kEnd = 0x06054b50;
constexpr uint32_t kDosDate = (1 << 5) | 1;  // 1980-01-01, like numpy's fixed timestamp-free writes

}  // namespace

std::vector<uint8_t> encode_npz(const std::vector<std::pair<std::string, NpyArray>>& members) {
  std::vector<uint8_t> out, central;
  for (const auto& [key, array] : members) {
    std::string name = key + ".npy";
    std::vector<uint8_t> data = encode_npy(array);
    EBM_CHECK(data.size() < std::numeric_limits<uint32_t>::max() &&
                  out.size() < std::numeric_limits<uint32_t>::max() - data.size() - 1024,
              IOError, "npz: member '", key, "' would pass 4 GiB (ZIP64 is not written)");
    uint32_t crc = static_cast<uint32_t>(crc32(0L, data.data(), static_cast<uInt>(data.size())));
    uint32_t offset = static_cast<uint32_t>(out.size());
    put32(out, kLocal);
    put16(out, 20);  // version needed
    put16(out, 0);   // flags
    put16(out, 0);   // stored
    put16(out, 0);   // time
    put16(out, kDosDate);
    put32(out, crc);
    put32(out, static_cast<uint32_t>(data.size()));
    put32(out, static_cast<uint32_t>(data.size()));
    put16(out, static_cast<uint32_t>(name.size()));
    put16(out, 0);  // extra
    out.insert(out.end(), name.begin(), name.end());
    out.insert(out.end(), data.begin(), data.end());

    put32(central, kCentral);
    put16(central, 20);  // made by
    put16(central, 20);  // needed
    put16(central, 0);
    put16(central, 0);
    put16(central, 0);
    put16(central, kDosDate);
    put32(central, crc);
    put32(central, static_cast<uint32_t>(data.size()));
    put32(central, static_cast<uint32_t>(data.size()));
    put16(central, static_cast<uint32_t>(name.size()));
    put16(central, 0);  // extra
    put16(central, 0);  // comment
    put16(central, 0);  // disk
    put16(central, 0);  // internal attributes
    put32(central, 0);  // external attributes
    put32(central, offset);
    central.insert(central.end(), name.begin(), name.end());
  }
  uint32_t central_offset = static_cast<uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  put32(out, kEnd);
  put16(out, 0);
  put16(out, 0);
  put16(out, static_cast<uint32_t>(members.size()));
  put16(out, static_cast<uint32_t>(members.size()));
  put32(out, static_cast<uint32_t>(central.size()));
  put32(out, central_offset);
  put16(out, 0);
  return out;
}

void write_npz(const std::string& path, const std::vector<std::pair<std::string, NpyArray>>& members) {
  write_file_atomic(path, encode_npz(members));
}

std::vector<std::pair<std::string, NpyArray>> read_npz(const std::string& path) {
  std::vector<uint8_t> b = read_file_bytes(path);
  std::vector<std::pair<std::string, NpyArray>> out;
  size_t pos = 0;
  while (pos + 4 <= b.size() && get32(b.data() + pos) == kLocal) {
    EBM_CHECK(pos + 30 <= b.size(), IOError, "npz: ", path, ": truncated member header at byte ", pos);
    const uint8_t* h = b.data() + pos;
    uint32_t flags = get16(h + 6), method = get16(h + 8), crc = get32(h + 14);
    uint32_t csize = get32(h + 18), usize = get32(h + 22), nlen = get16(h + 26), xlen = get16(h + 28);
    EBM_CHECK(pos + 30 + nlen + xlen <= b.size(), IOError, "npz: ", path, ": truncated member name");
    std::string name(reinterpret_cast<const char*>(h + 30), nlen);
    EBM_CHECK(method == 0 && !(flags & 8), IOError, "npz: ", path, ": member '", name,
              "' is compressed or streamed (np.savez_compressed?); only stored members are read");
    EBM_CHECK(csize == usize, IOError, "npz: ", path, ": member '", name, "' sizes disagree");
    size_t start = pos + 30 + nlen + xlen;
    EBM_CHECK(start + csize <= b.size(), IOError, "npz: ", path, ": member '", name,
              "' is truncated (", csize, " bytes announced)");
    EBM_CHECK(static_cast<uint32_t>(crc32(0L, b.data() + start, csize)) == crc, IOError, "npz: ",
              path, ": member '", name, "' fails its CRC-32");
    std::string key = name.size() > 4 && name.compare(name.size() - 4, 4, ".npy") == 0
                          ? name.substr(0, name.size() - 4)
                          : name;
    out.emplace_back(key, decode_npy(b.data() + start, csize, path + ":" + name));
    pos = start + csize;
  }
  EBM_CHECK(pos + 4 <= b.size() && (get32(b.data() + pos) == kCentral || get32(b.data() + pos) == kEnd),
            IOError, "npz: ", path, ": not a ZIP archive of stored members (unexpected bytes at ", pos, ")");
  return out;
}

NpyArray uint8_images(std::vector<uint8_t> nhwc, int64_t n, int64_t h, int64_t w, int64_t c) {
  EBM_CHECK(static_cast<int64_t>(nhwc.size()) == n * h * w * c, ShapeError, "uint8_images: ",
            nhwc.size(), " bytes for [", n, ", ", h, ", ", w, ", ", c, "]");
  NpyArray a;
  a.type = NpyType::UInt8;
  a.shape = {n, h, w, c};
  a.data = std::move(nhwc);
  return a;
}

}  // namespace ebm::io
