// tfevents writer and reader with hand-encoded protobuf (see tensorboard.h).
#include "core/io/tensorboard.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "core/common.h"

namespace ebm::io {

namespace {

const uint32_t* crc32c_table() {
  static uint32_t table[256];
  static bool ready = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;  // Castagnoli, reflected
      table[i] = c;
    }
    return true;
  }();
  (void)ready;
  return table;
}

// ---- protobuf wire format
void put_varint(std::vector<uint8_t>& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<uint8_t>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<uint8_t>(v));
}
void put_key(std::vector<uint8_t>& out, int field, int wire) { put_varint(out, (uint64_t(field) << 3) | wire); }
template <class T>
void put_fixed(std::vector<uint8_t>& out, T v) {
  uint8_t b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));  // little-endian hosts only (x86-64, aarch64)
  out.insert(out.end(), b, b + sizeof(T));
}
void put_bytes(std::vector<uint8_t>& out, int field, const void* p, size_t n) {
  put_key(out, field, 2);
  put_varint(out, n);
  auto* b = static_cast<const uint8_t*>(p);
  out.insert(out.end(), b, b + n);
}

std::vector<uint8_t> encode_value(const SummaryValue& v) {
  std::vector<uint8_t> out;
  put_bytes(out, 1, v.tag.data(), v.tag.size());
  if (v.has_scalar) {
    put_key(out, 2, 5);
    put_fixed(out, v.scalar);
  }
  if (v.has_image) {
    std::vector<uint8_t> im;
    put_key(im, 1, 0);
    put_varint(im, static_cast<uint64_t>(v.height));
    put_key(im, 2, 0);
    put_varint(im, static_cast<uint64_t>(v.width));
    put_key(im, 3, 0);
    put_varint(im, static_cast<uint64_t>(v.colorspace));
    put_bytes(im, 4, v.png.data(), v.png.size());
    put_bytes(out, 4, im.data(), im.size());
  }
  return out;
}

// ---- reading
struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  const std::string& where;
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) EBM_THROW(IOError, where, ": truncated varint");
      uint8_t b = *p++;
      v |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    EBM_THROW(IOError, where, ": varint longer than 10 bytes");
  }
  template <class T>
  T fixed() {
    if (end - p < static_cast<ptrdiff_t>(sizeof(T))) EBM_THROW(IOError, where, ": truncated field");
    T v;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return v;
  }
  Cursor sub() {
    uint64_t n = varint();
    if (n > static_cast<uint64_t>(end - p)) EBM_THROW(IOError, where, ": field length ", n, " past the end");
    Cursor c{p, p + n, where};
    p += n;
    return c;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: fixed<uint64_t>(); break;
      case 2: sub(); break;
      case 5: fixed<uint32_t>(); break;
      default: EBM_THROW(IOError, where, ": unsupported wire type ", wire);
    }
  }
};

SummaryValue decode_value(Cursor c) {
  SummaryValue v;
  while (c.p < c.end) {
    uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 2) {
      Cursor s = c.sub();
      v.tag.assign(reinterpret_cast<const char*>(s.p), s.end - s.p);
    } else if (field == 2 && wire == 5) {
      v.has_scalar = true;
      v.scalar = c.fixed<float>();
    } else if (field == 4 && wire == 2) {
      v.has_image = true;
      Cursor im = c.sub();
      while (im.p < im.end) {
        uint64_t k = im.varint();
        int f = static_cast<int>(k >> 3), w = static_cast<int>(k & 7);
        if (f == 1 && w == 0) v.height = static_cast<int64_t>(im.varint());
        else if (f == 2 && w == 0) v.width = static_cast<int64_t>(im.varint());
        else if (f == 3 && w == 0) v.colorspace = static_cast<int64_t>(im.varint());
        else if (f == 4 && w == 2) {
          Cursor s = im.sub();
          v.png.assign(s.p, s.end);
        } else im.skip(w);
      }
    } else {
      c.skip(wire);
    }
  }
  return v;
}

Event decode_event(Cursor c) {
  Event e;
  while (c.p < c.end) {
    uint64_t key = c.varint();
    int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
    if (field == 1 && wire == 1) e.wall_time = c.fixed<double>();
    else if (field == 2 && wire == 0) e.step = static_cast<int64_t>(c.varint());
    else if (field == 3 && wire == 2) {
      Cursor s = c.sub();
      e.file_version.assign(reinterpret_cast<const char*>(s.p), s.end - s.p);
    } else if (field == 5 && wire == 2) {
      Cursor s = c.sub();
      while (s.p < s.end) {
        uint64_t k = s.varint();
        if ((k >> 3) == 1 && (k & 7) == 2) e.values.push_back(decode_value(s.sub()));
        else s.skip(static_cast<int>(k & 7));
      }
    } else {
      c.skip(wire);
    }
  }
  return e;
}

double now_seconds() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const uint32_t* t = crc32c_table();
  auto* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::vector<uint8_t> encode_event(const Event& e) {
  std::vector<uint8_t> out;
  put_key(out, 1, 1);
  put_fixed(out, e.wall_time);
  if (e.step != 0) {
    put_key(out, 2, 0);
    put_varint(out, static_cast<uint64_t>(e.step));
  }
  if (!e.file_version.empty()) put_bytes(out, 3, e.file_version.data(), e.file_version.size());
  if (!e.values.empty()) {
    std::vector<uint8_t> summary;
    for (const auto& v : e.values) {
      std::vector<uint8_t> enc = encode_value(v);
      put_bytes(summary, 1, enc.data(), enc.size());
    }
    put_bytes(out, 5, summary.data(), summary.size());
  }
  return out;
}

std::vector<uint8_t> frame_record(const std::vector<uint8_t>& data) {
  std::vector<uint8_t> out;
  uint64_t len = data.size();
  put_fixed(out, len);
  put_fixed(out, masked_crc32c(&len, 8));
  out.insert(out.end(), data.begin(), data.end());
  put_fixed(out, masked_crc32c(data.data(), data.size()));
  return out;
}

EventWriter::EventWriter(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) EBM_THROW(IOError, "tensorboard: cannot create '", dir, "': ", ec.message());
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  char stamp[16];
  std::snprintf(stamp, sizeof stamp, "%010lld", static_cast<long long>(now_seconds()));
  for (int n = 0;; ++n) {  // a fresh name even when two writers start in the same second
    path_ = dir + "/events.out.tfevents." + stamp + "." + host + "." + std::to_string(getpid()) +
            "." + std::to_string(n);
    if (!std::filesystem::exists(path_)) break;
  }
  file_ = std::fopen(path_.c_str(), "wb");
  if (!file_) EBM_THROW(IOError, "tensorboard: cannot create '", path_, "': ", std::strerror(errno));
  Event first;
  first.wall_time = now_seconds();
  first.file_version = "brain.Event:2";
  write(first);
}

EventWriter::~EventWriter() {
  if (file_) std::fclose(file_);
}

void EventWriter::write(const Event& e) {
  std::vector<uint8_t> rec = frame_record(encode_event(e));
  if (std::fwrite(rec.data(), 1, rec.size(), file_) != rec.size() || std::fflush(file_) != 0)
    EBM_THROW(IOError, "tensorboard: writing '", path_, "' failed: ", std::strerror(errno));
}

void EventWriter::add_scalars(const std::vector<std::pair<std::string, double>>& values,
                              int64_t step) {
  Event e;
  e.wall_time = now_seconds();
  e.step = step;
  for (const auto& [tag, v] : values) {
    SummaryValue s;
    s.tag = tag;
    s.has_scalar = true;
    s.scalar = static_cast<float>(v);
    e.values.push_back(std::move(s));
  }
  write(e);
}

void EventWriter::add_scalar(const std::string& tag, double value, int64_t step) {
  add_scalars({{tag, value}}, step);
}

void EventWriter::add_image(const std::string& tag, const Image8& image, int64_t step) {
  Event e;
  e.wall_time = now_seconds();
  e.step = step;
  SummaryValue s;
  s.tag = tag;
  s.has_image = true;
  s.height = image.height;
  s.width = image.width;
  s.colorspace = image.channels;  // 1 gray, 3 RGB, 4 RGBA: the proto's codes
  s.png = encode_png(image);
  e.values.push_back(std::move(s));
  write(e);
}

std::vector<Event> read_events(const std::string& path) {
  std::vector<uint8_t> bytes = read_file_bytes(path);
  std::vector<Event> events;
  size_t pos = 0;
  for (int64_t index = 0; pos < bytes.size(); ++index) {
    std::string where = "tensorboard: " + path + ": record " + std::to_string(index);
    if (bytes.size() - pos < 12) EBM_THROW(IOError, where, ": truncated header");
    uint64_t len;
    uint32_t len_crc;
    std::memcpy(&len, bytes.data() + pos, 8);
    std::memcpy(&len_crc, bytes.data() + pos + 8, 4);
    if (len_crc != masked_crc32c(bytes.data() + pos, 8)) EBM_THROW(IOError, where, ": length CRC mismatch");
    if (len > bytes.size() - pos - 12 || bytes.size() - pos - 12 - len < 4)
      EBM_THROW(IOError, where, ": truncated data (", len, " bytes announced)");
    const uint8_t* data = bytes.data() + pos + 12;
    uint32_t data_crc;
    std::memcpy(&data_crc, data + len, 4);
    if (data_crc != masked_crc32c(data, len)) EBM_THROW(IOError, where, ": data CRC mismatch");
    events.push_back(decode_event(Cursor{data, data + len, where}));
    pos += 12 + len + 4;
  }
  return events;
}

}  // namespace ebm::io
